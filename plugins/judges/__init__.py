"""Built-in MLLM judges: ``openai``, ``openai-compatible`` and ``gemini`` (registration only).

Every judge takes these arguments (``--judge-args k=v,...`` or the task's ``judge:`` section):
``model``, ``mode`` (``rubric``: fidelity/preservation/coherence 0-5 and their mean ``overall``;
``expected-score``: MotionNFT's MLLM reward ``mllm_reward`` in 0-1), ``prompt`` (a prompt id
from ``mebench/judging/prompts`` or a ``.txt`` path), ``reference`` (show the ground-truth target),
``temperature`` (0), ``seed`` (0; null to send none), ``max_tokens`` (1024 rubric, 8
expected-score), ``timeout`` (60 s per request), ``max_retries`` (4), ``top_logprobs`` (20; 5 for
Gemini) and ``structured`` (true: ask for a JSON schema). Keys come from the environment only:
``OPENAI_API_KEY``; ``GEMINI_API_KEY`` or ``GOOGLE_API_KEY``; for ``openai-compatible`` the
variable named by ``api_key_env`` (default: none, the key "EMPTY").

Serving a local judge with vLLM
-------------------------------
vLLM serves an OpenAI-compatible API, log-probabilities included. On a GPU machine::

    pip install vllm
    vllm serve Qwen/Qwen2.5-VL-7B-Instruct --port 8000 \\
        --max-model-len 16384 --limit-mm-per-prompt '{"image": 3}' --max-logprobs 20
    # Qwen2.5-VL-32B-Instruct (MotionNFT's reward model) needs ~80 GB: add
    # --tensor-parallel-size 2 on two GPUs, or --quantization fp8 on one H100.

Then point ``openai-compatible`` at it::

    mebench run --task motionedit --model flux-kontext --judge openai-compatible \\
        --judge-args base_url=http://127.0.0.1:8000/v1,model=Qwen/Qwen2.5-VL-7B-Instruct
    # MotionNFT's MLLM reward instead of the rubric:
    #   --judge-args base_url=...,model=...,mode=expected-score

If the server was started with ``--api-key``, export the key and pass ``api_key_env=NAME``.
vLLM honours ``response_format`` (JSON schema, guided decoding) for the rubric; with
``structured=false`` the free-text reader is used instead. Cost is reported as null for
self-hosted models (no price is known).
"""

from __future__ import annotations

import os
from typing import Any

from mebench.hookspecs import Register, hookimpl


def _openai(*, model: str = "gpt-4o", base_url: str | None = None,
            api_key_env: str = "OPENAI_API_KEY", mode: str = "rubric", prompt: str | None = None,
            reference: bool = False, temperature: float = 0.0, seed: int | None = 0,
            max_tokens: int | None = None, timeout: float = 60.0, max_retries: int = 4,
            top_logprobs: int = 20, structured: bool = True) -> Any:
    from mebench.plugins.judges.openai_chat import OpenAIChatJudge, api_key_from_env

    settings = dict(model=model, mode=mode, prompt=prompt, reference=reference,
                    temperature=temperature, seed=seed, max_tokens=max_tokens, timeout=timeout,
                    max_retries=max_retries, top_logprobs=top_logprobs, structured=structured)
    return OpenAIChatJudge(api_key=api_key_from_env(api_key_env, required=True),
                           base_url=base_url, compatible=False, **settings)


def _openai_compatible(*, base_url: str, model: str, api_key_env: str | None = None,
                       mode: str = "rubric", prompt: str | None = None, reference: bool = False,
                       temperature: float = 0.0, seed: int | None = 0,
                       max_tokens: int | None = None, timeout: float = 60.0,
                       max_retries: int = 4, top_logprobs: int = 20,
                       structured: bool = True) -> Any:
    from mebench.plugins.judges.openai_chat import OpenAIChatJudge, api_key_from_env

    if not isinstance(base_url, str) or not base_url.startswith(("http://", "https://")):
        raise ValueError(f"base_url must be an http(s) URL such as http://127.0.0.1:8000/v1, "
                         f"not {base_url!r}")
    settings = dict(model=model, mode=mode, prompt=prompt, reference=reference,
                    temperature=temperature, seed=seed, max_tokens=max_tokens, timeout=timeout,
                    max_retries=max_retries, top_logprobs=top_logprobs, structured=structured)
    key = api_key_from_env(api_key_env, required=api_key_env is not None)
    return OpenAIChatJudge(api_key=key, base_url=base_url, compatible=True, **settings)


def _gemini(*, model: str = "gemini-2.5-flash", base_url: str | None = None,
            mode: str = "rubric", prompt: str | None = None, reference: bool = False,
            temperature: float = 0.0, seed: int | None = 0, max_tokens: int | None = None,
            timeout: float = 60.0, max_retries: int = 4, top_logprobs: int = 5,
            structured: bool = True) -> Any:
    from mebench.plugins.judges.gemini import GeminiJudge

    key = os.environ.get("GEMINI_API_KEY") or os.environ.get("GOOGLE_API_KEY")
    if not key:
        raise ValueError("$GEMINI_API_KEY (or $GOOGLE_API_KEY) is not set; export your key there")
    settings = dict(model=model, mode=mode, prompt=prompt, reference=reference,
                    temperature=temperature, seed=seed, max_tokens=max_tokens, timeout=timeout,
                    max_retries=max_retries, top_logprobs=top_logprobs, structured=structured)
    return GeminiJudge(api_key=key, base_url=base_url, **settings)


@hookimpl
def mebench_register_judges(register: Register) -> None:
    register("openai", _openai,
             description="OpenAI chat models (GPT-4o, GPT-4.1) as judges; key in $OPENAI_API_KEY.")
    register("openai-compatible", _openai_compatible,
             description="Any OpenAI-compatible server by base_url=..., e.g. vLLM with "
             "Qwen2.5-VL.")
    register("gemini", _gemini,
             description="Gemini models as judges (google-genai); key in $GEMINI_API_KEY.")
