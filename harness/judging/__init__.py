"""MLLM judging: the judge contract, prompts, response cache and the judge stage."""
