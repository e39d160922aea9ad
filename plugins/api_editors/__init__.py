"""Built-in API editors, the paper's closed baselines: registration only.

The adapters live in :mod:`.openai_images` and :mod:`.gemini`; the client libraries are imported
when a factory runs. Arguments common to both (``--model-args``): ``model`` (the API's model id),
``base_url`` (another endpoint: a proxy, a compatible server), ``api_key_env`` (the environment
variable holding the key; the key itself is never an argument, since arguments are recorded in
``run.json``), ``concurrency`` (requests in flight; default the runner's ``--batch-size``),
``timeout`` (seconds per request), ``max_retries`` and ``backoff`` (first retry wait, seconds).
"""

from __future__ import annotations

from typing import Any

from mebench.hookspecs import Register, hookimpl


def _policy(max_retries: int, backoff: float) -> Any:
    from mebench.plugins.api_editors.common import RetryPolicy

    return RetryPolicy(max_retries=int(max_retries), initial=float(backoff))


def _concurrency(concurrency: int | None, batch_size: int) -> int:
    return int(batch_size if concurrency is None else concurrency)


def _gpt_image(*, model: str = "gpt-image-1", base_url: str | None = None,
               api_key_env: str = "OPENAI_API_KEY", concurrency: int | None = None,
               batch_size: int = 1, timeout: float = 300.0, max_retries: int = 4,
               backoff: float = 1.0, size: str | None = None, quality: str | None = None,
               input_fidelity: str | None = None) -> Any:
    from mebench.plugins.api_editors.openai_images import OpenAIImageEditor

    return OpenAIImageEditor(model=model, base_url=base_url, api_key_env=api_key_env,
                             concurrency=_concurrency(concurrency, batch_size),
                             timeout=float(timeout), retry=_policy(max_retries, backoff),
                             size=size, quality=quality, input_fidelity=input_fidelity)


def _nano_banana(*, model: str = "gemini-2.5-flash-image", base_url: str | None = None,
                 api_key_env: str = "GEMINI_API_KEY", concurrency: int | None = None,
                 batch_size: int = 1, timeout: float = 300.0, max_retries: int = 4,
                 backoff: float = 1.0) -> Any:
    from mebench.plugins.api_editors.gemini import GeminiImageEditor

    return GeminiImageEditor(model=model, base_url=base_url, api_key_env=api_key_env,
                             concurrency=_concurrency(concurrency, batch_size),
                             timeout=float(timeout), retry=_policy(max_retries, backoff))


@hookimpl
def mebench_register_models(register: Register) -> None:
    register("gpt-image-1", _gpt_image,
             description="OpenAI gpt-image-1 through images.edit (key in $OPENAI_API_KEY).")
    register("nano-banana", _nano_banana,
             description="Gemini 2.5 Flash Image through google-genai (key in $GEMINI_API_KEY).")
