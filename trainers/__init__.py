"""MotionNFT post-training (``mebench train --recipe``): recipes, the trainer and its parts.

Module map (each small and separately tested):

* :mod:`.recipe` / :mod:`.recipe_schema`: recipe YAML files -> frozen ``RecipeConfig``;
  ``recipes/*.yaml`` are the built-in recipes, registered by :mod:`.plugin`.
* :mod:`.nft`: the DiffusionNFT loss (implicit positive/negative policies, adaptive weights, KL).
* :mod:`.advantages`: weighted reward sum, group filter, optimality reward.
* :mod:`.schedule`: the old policy's decay schedule, EMA. :mod:`.sampling`: the few-step solver.
* :mod:`.lora`: the ``default`` (trained) and ``old`` (sampling) LoRA adapters through peft.
* :mod:`.rewards`: ``motion`` (flow plugin + core reward), ``mllm`` (judge's expected score).
* :mod:`.backbone`: what the trainer needs of a model; :mod:`.toy`: a tiny model implementing it.
* :mod:`.motionnft`: the training loop; :mod:`.checkpoint`: checkpoints and ``--resume``;
  :mod:`.data`: prompts from MotionEdit-Train; :mod:`.build`: recipe -> trainer.

Importing this package imports nothing heavy.
"""
