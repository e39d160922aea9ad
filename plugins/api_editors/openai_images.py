"""``gpt-image-1`` through the ``openai`` client's image edit API (``client.images.edit``).

The client's own retries are switched off (``max_retries=0``): :class:`~.common.ApiEditor` retries,
so that every request's attempts are counted and both API editors back off the same way. The
token prices are OpenAI's list prices for gpt-image-1 (USD per million tokens: text input 5,
image input 10, image output 40); the cost in ``usage.jsonl`` is an estimate from them.
"""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING, Any

from mebench.plugins.api_editors.common import (AUTH_STATUSES, RETRY_STATUSES, ApiEditor,
                                                CallError, RetryPolicy, api_key, cost,
                                                decode_image, png_bytes, retry_after_seconds)

if TYPE_CHECKING:
    from PIL import Image

    from mebench.types import EditRequest

PRICES = {"text_input": 5.0, "image_input": 10.0, "output": 40.0}


class OpenAIImageEditor(ApiEditor):
    """``images.edit(image=<source PNG>, prompt=<instruction>, model=...)``, one per sample."""

    name = "gpt-image-1"

    def __init__(self, *, model: str = "gpt-image-1", base_url: str | None = None,
                 api_key_env: str = "OPENAI_API_KEY", concurrency: int = 4,
                 timeout: float = 300.0, retry: RetryPolicy | None = None,
                 size: str | None = None, quality: str | None = None,
                 input_fidelity: str | None = None) -> None:
        super().__init__(concurrency=concurrency, retry=retry or RetryPolicy(), timeout=timeout)
        from openai import OpenAI

        self.key_env = api_key_env
        self._secret = api_key(api_key_env, self.name)
        self.model = model
        self.options = {k: v for k, v in (("size", size), ("quality", quality),
                                          ("input_fidelity", input_fidelity)) if v is not None}
        self.client = OpenAI(api_key=self._secret, base_url=base_url, timeout=timeout,
                             max_retries=0)

    def _call(self, request: EditRequest) -> tuple[Image.Image, dict[str, Any]]:
        response = self.client.images.edit(
            model=self.model, prompt=request.instruction,
            image=(f"{request.sample_id}.png", png_bytes(request.source), "image/png"),
            **self.options)
        if not response.data or not response.data[0].b64_json:
            raise ValueError("the response holds no image (b64_json)")
        image = decode_image(base64.b64decode(response.data[0].b64_json),
                             f"sample {request.sample_id!r}")
        return image, self._usage_of(response)

    def _usage_of(self, response: Any) -> dict[str, Any]:
        usage = getattr(response, "usage", None)
        if usage is None:
            return {"input_tokens": None, "output_tokens": None, "cost_usd": None}
        details = getattr(usage, "input_tokens_details", None)
        image_in = int(getattr(details, "image_tokens", 0) or 0)
        text_in = int(getattr(details, "text_tokens", 0) or 0) if details else usage.input_tokens
        tokens = {"text_input": text_in, "image_input": image_in, "output": usage.output_tokens}
        return {"input_tokens": usage.input_tokens, "output_tokens": usage.output_tokens,
                "cost_usd": cost(tokens, PRICES)}

    def _classify(self, exc: BaseException) -> CallError:
        import openai

        if isinstance(exc, openai.APIStatusError):
            status = exc.status_code
            return CallError(retryable=status in RETRY_STATUSES or status >= 500,
                             auth=status in AUTH_STATUSES,
                             retry_after=retry_after_seconds(exc.response.headers))
        # APITimeoutError is an APIConnectionError: both are worth another try
        return CallError(retryable=isinstance(exc, openai.APIConnectionError))
