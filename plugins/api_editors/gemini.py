"""``nano-banana``: Gemini image generation through ``google-genai``.

``models.generate_content(model, contents=[<source PNG part>, <instruction>])`` with image output
enabled; the first image part of the answer is the edit. An answer without an image (a refusal,
a safety block) is that sample's failure, with the finish reason and any text the model gave.
The client's own retries are off (one attempt): :class:`~.common.ApiEditor` retries, honouring
``Retry-After``, which google-genai's retry does not read. Prices (USD per million tokens) are
Google's list prices for gemini-2.5-flash-image: input 0.30, output 30 (an image is 1290 tokens).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mebench.plugins.api_editors.common import (AUTH_STATUSES, RETRY_STATUSES, ApiEditor,
                                                CallError, RetryPolicy, api_key, cost,
                                                decode_image, png_bytes, retry_after_seconds)

if TYPE_CHECKING:
    from PIL import Image

    from mebench.types import EditRequest

PRICES = {"input": 0.30, "output": 30.0}


def _transient_errors() -> tuple[type[BaseException], ...]:
    """Timeouts and connection errors of whichever HTTP library google-genai uses."""
    found: list[type[BaseException]] = []
    for module in ("httpx", "httpx2"):
        try:
            lib = __import__(module)
        except ImportError:
            continue
        found += [lib.TimeoutException, lib.NetworkError, lib.RemoteProtocolError]
    return tuple(found)


class GeminiImageEditor(ApiEditor):
    """One ``generate_content`` call per sample, with the per-sample seed."""

    name = "nano-banana"

    def __init__(self, *, model: str = "gemini-2.5-flash-image", base_url: str | None = None,
                 api_key_env: str = "GEMINI_API_KEY", concurrency: int = 4,
                 timeout: float = 300.0, retry: RetryPolicy | None = None) -> None:
        super().__init__(concurrency=concurrency, retry=retry or RetryPolicy(), timeout=timeout)
        from google import genai
        from google.genai import types

        self.key_env = api_key_env
        self._secret = api_key(api_key_env, self.name)
        self.model = model
        options = types.HttpOptions(base_url=base_url, api_version="v1beta",
                                    timeout=int(timeout * 1000),
                                    retry_options=types.HttpRetryOptions(attempts=1))
        self.client = genai.Client(api_key=self._secret, http_options=options)
        self._transient = _transient_errors()

    def _call(self, request: EditRequest) -> tuple[Image.Image, dict[str, Any]]:
        from google.genai import types

        response = self.client.models.generate_content(
            model=self.model,
            contents=[types.Part.from_bytes(data=png_bytes(request.source), mime_type="image/png"),
                      request.instruction],
            config=types.GenerateContentConfig(response_modalities=["TEXT", "IMAGE"],
                                               seed=request.seed % 2**31))
        for candidate in response.candidates or []:
            for part in (candidate.content.parts if candidate.content else None) or []:
                if part.inline_data is not None and part.inline_data.data:
                    image = decode_image(part.inline_data.data, f"sample {request.sample_id!r}")
                    return image, self._usage_of(response)
        reason = response.candidates[0].finish_reason if response.candidates else None
        text = (response.text or "")[:200] if response.candidates else ""
        raise ValueError(f"the response holds no image (finish reason {reason}"
                         f"{'; text: ' + repr(text) if text else ''})")

    def _usage_of(self, response: Any) -> dict[str, Any]:
        meta = response.usage_metadata
        if meta is None:
            return {"input_tokens": None, "output_tokens": None, "cost_usd": None}
        tokens = {"input": meta.prompt_token_count or 0,
                  "output": meta.candidates_token_count or 0}
        return {"input_tokens": tokens["input"], "output_tokens": tokens["output"],
                "cost_usd": cost(tokens, PRICES)}

    def _classify(self, exc: BaseException) -> CallError:
        from google.genai import errors

        if isinstance(exc, errors.APIError):
            headers = getattr(getattr(exc, "response", None), "headers", None)
            return CallError(retryable=exc.code in RETRY_STATUSES or exc.code >= 500,
                             auth=exc.code in AUTH_STATUSES,
                             retry_after=retry_after_seconds(dict(headers) if headers else None))
        return CallError(retryable=isinstance(exc, self._transient))
