"""The ImgEdit-Bench rubric prompts: one text per category, judged 1-5 on three criteria.

Files: ``harness/analysis/imgedit_prompts/<category lower-cased>.txt`` (``add.txt``,
``adjust.txt``, ``replace.txt``, ``remove.txt``, ``background.txt``, ``style.txt``,
``hybrid.txt``, ``action.txt``, ``extract.txt``). Each holds one placeholder, ``$instruction``
(:class:`string.Template`), and shows the judge the original image first and the edited image
second. The judge answers one JSON object ``{"reasoning", "fidelity", "preservation",
"coherence"}`` with integers 1-5: fidelity = the instruction was carried out, preservation =
what should not change did not, coherence = the result looks real. Overall is their mean, the
per-sample score ImgEdit averages per category.
"""

from __future__ import annotations

import hashlib
from importlib import resources
from string import Template

from mebench.data.imgedit import CATEGORIES
from mebench.errors import MebenchError, did_you_mean

PROMPT_PACKAGE = "mebench.analysis"
PROMPT_FOLDER = "imgedit_prompts"
CRITERIA = ("fidelity", "preservation", "coherence")
SCALE = (1, 5)


def rubric_file(category: str) -> str:
    """The file name of a category's rubric (``Background`` -> ``background.txt``)."""
    if category not in CATEGORIES:
        raise MebenchError(f"no ImgEdit rubric for category {category!r}",
                           hint=did_you_mean(category, list(CATEGORIES)))
    return f"{category.lower()}.txt"


def rubric_text(category: str) -> str:
    """The rubric template of a category, as shipped."""
    folder = resources.files(PROMPT_PACKAGE).joinpath(PROMPT_FOLDER)
    return folder.joinpath(rubric_file(category)).read_text(encoding="utf-8")


def render_rubric(category: str, instruction: str) -> str:
    """The prompt for one sample: the category's rubric with the instruction filled in."""
    return Template(rubric_text(category)).substitute(instruction=instruction)


def rubric_version() -> str:
    """A short hash of every rubric text, for cache keys and ``run.json``."""
    h = hashlib.sha256()
    for category in CATEGORIES:
        h.update(category.encode() + b"\0" + rubric_text(category).encode() + b"\0")
    return h.hexdigest()[:12]
