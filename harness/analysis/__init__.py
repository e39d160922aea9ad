"""Analyses across runs: win rate, human agreement, annotation sheets, ImgEdit rubrics.

``runs`` reads finished run directories; ``winrate`` the pairwise win rate of ``mebench
compare``; ``agreement`` the kappa statistics of ``mebench agreement``; ``pairs`` the annotation
sheets of ``mebench pairs``; ``rubrics`` the ImgEdit-Bench rubric prompts (``imgedit_prompts/``).
"""
