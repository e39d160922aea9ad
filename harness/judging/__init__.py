"""MLLM judging: the judge's data (:mod:`.types`), versioned prompts (:mod:`.prompts`, files in
``prompts/``), reply parsing that never invents a score (:mod:`.parsing`), the shared judge logic
of the built-ins (:mod:`.base`), retries for clients without correct ones (:mod:`.retry`), the
sqlite response cache (:mod:`.cache`), an approximate price table (:mod:`.prices`) and the judge
stage of a run (:mod:`.stage`). The judges themselves are plugins: ``mebench.plugins.judges``
(openai, openai-compatible, gemini), whose docstring also says how to serve a local judge with
vLLM. Nothing here imports an API client at import time.
"""
