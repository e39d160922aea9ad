"""A judge over the Gemini API (``google-genai``, ``generateContent``).

google-genai's own retry is switched off (one attempt) because it ignores ``Retry-After`` and,
over aiohttp, does not retry timeouts; :func:`mebench.judging.retry.call_with_retries` retries
instead. Rubric mode asks for ``application/json`` with a response JSON schema; expected-score
mode asks for ``response_logprobs`` (models that do not return them fall back to the digit).
"""

from __future__ import annotations

import asyncio
from typing import Any

from mebench.errors import MebenchError
from mebench.judging.base import RUBRIC_SCHEMA, PromptedJudge, Reply
from mebench.judging.retry import call_with_retries
from mebench.judging.types import JudgeImage, JudgeRequest, usage_dict


class GeminiJudge(PromptedJudge):
    default_concurrency = 8

    def __init__(self, *, api_key: str, base_url: str | None, **settings: Any) -> None:
        super().__init__(**settings)
        from google import genai  # noqa: F401 - imported here, not inside the event loop

        self._api_key = api_key
        self.base_url = base_url
        self._client: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def _client_for_loop(self) -> Any:
        from google import genai
        from google.genai import types

        loop = asyncio.get_running_loop()
        if self._client is None or self._loop is not loop:
            options = types.HttpOptions(base_url=self.base_url,
                                        timeout=int(self.timeout * 1000),
                                        retry_options=types.HttpRetryOptions(attempts=1))
            self._client = genai.Client(api_key=self._api_key, http_options=options)
            self._loop = loop
        return self._client

    def _config(self) -> Any:
        from google.genai import types

        config: dict[str, Any] = {"temperature": self.temperature,
                                  "max_output_tokens": self.max_tokens}
        if self.seed is not None:
            config["seed"] = self.seed
        if self.mode == "rubric" and self.structured:
            config["response_mime_type"] = "application/json"
            config["response_json_schema"] = RUBRIC_SCHEMA
        if self.mode == "expected-score":
            config["response_logprobs"] = True
            config["logprobs"] = self.top_logprobs
        return types.GenerateContentConfig(**config)

    def _contents(self, request: JudgeRequest) -> list[Any]:
        from google.genai import types

        parts = []
        for part in self.prompt.render(request):
            if isinstance(part, JudgeImage):
                parts.append(types.Part.from_bytes(data=part.data, mime_type=part.mime_type))
            else:
                parts.append(types.Part.from_text(text=part))
        return [types.Content(role="user", parts=parts)]

    async def _ask(self, request: JudgeRequest) -> Reply:
        client = self._client_for_loop()
        contents, config = self._contents(request), self._config()

        async def once() -> Any:
            return await client.aio.models.generate_content(model=self.model, contents=contents,
                                                            config=config)

        response = await call_with_retries(once, max_retries=self.max_retries)
        if not response.candidates:
            feedback = getattr(response, "prompt_feedback", None)
            raise ValueError(f"the reply has no candidates ({feedback})")
        candidate = response.candidates[0]
        text = "".join(p.text or "" for p in (candidate.content.parts or [])
                       if not getattr(p, "thought", False)) if candidate.content else ""
        first_top = None
        result = candidate.logprobs_result
        if result is not None and result.top_candidates:
            first = result.top_candidates[0].candidates or []
            first_top = [(c.token or "", float(c.log_probability)) for c in first
                         if c.log_probability is not None] or None
        usage = {}
        meta = response.usage_metadata
        if meta is not None:
            output = None
            if meta.candidates_token_count is not None:
                output = meta.candidates_token_count + (meta.thoughts_token_count or 0)
            usage = usage_dict(meta.prompt_token_count, output, meta.total_token_count)
        finish = candidate.finish_reason
        return Reply(text, first_top, usage, None if finish is None else str(finish.value))

    def _fatal(self, exc: Exception) -> MebenchError | None:
        code = getattr(exc, "code", None)
        where = f"judge {self.model!r}"
        if code in (401, 403):
            return MebenchError(f"the API refused the key: {exc}", where=where,
                                hint="check $GEMINI_API_KEY / $GOOGLE_API_KEY")
        if code == 404:
            return MebenchError(f"not found: {exc}", where=where, hint="check model=")
        return None

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aio.aclose()
        self._client = None
        self._loop = None
