"""Judges over the OpenAI chat-completions API: OpenAI itself and any compatible server (vLLM).

Retries are the ``openai`` client's own: exponential backoff with jitter (0.5 s doubling to 8 s)
on connection errors, timeouts, 408/409/429 and 5xx, honouring ``Retry-After`` (and
``retry-after-ms``) up to two minutes; ``max_retries`` and the per-request ``timeout`` are
passed to it, and nothing here retries again. The client uses its aiohttp transport when aiohttp
is installed (openai's recommendation for concurrency), one client per event loop (the judge
stage's run): its pool keeps connections alive and reuses them, one per request in flight.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import os
import uuid
from collections.abc import Iterator
from typing import Any

from mebench.errors import MebenchError
from mebench.judging.base import RUBRIC_SCHEMA, PromptedJudge, Reply
from mebench.judging.types import JudgeImage, JudgeRequest, usage_dict


class OpenAIChatJudge(PromptedJudge):
    """A judge that sends one chat completion per sample.

    ``compatible`` servers (vLLM, SGLang, ...) get ``max_tokens``; OpenAI gets
    ``max_completion_tokens``. Rubric mode asks for a ``json_schema`` response unless
    ``structured`` is false; expected-score mode asks for ``logprobs`` with ``top_logprobs``.
    """

    default_concurrency = 16

    def __init__(self, *, api_key: str, base_url: str | None, compatible: bool,
                 **settings: Any) -> None:
        super().__init__(**settings)
        # imported here, not inside the event loop's first request (seconds of CPU)
        import httpx
        from openai import AsyncOpenAI

        self._client_class, self._raw_response_class = AsyncOpenAI, httpx.Response
        self._api_key = api_key
        self.base_url = base_url
        self.compatible = compatible
        self._client: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._url = ""
        self._verify: Any = None  # one TLS context for every client this judge makes
        self._request_ids: Iterator[str] = iter(())
        if compatible:
            self.default_concurrency = 32

    def _client_for_loop(self) -> Any:
        loop = asyncio.get_running_loop()
        if self._client is None or self._loop is not loop:
            if self._verify is None:
                self._verify = _ssl_context()
            self._client = self._client_class(api_key=self._api_key, base_url=self.base_url,
                                              timeout=self.timeout, max_retries=self.max_retries,
                                              **_http_client(self._verify))
            self._loop = loop
            # the absolute URL (the client merges a relative path into base_url, parsing URLs
            # twice per request) and idempotency keys of the client's own form, unique per
            # request (the client would draw a uuid4 each time)
            self._url = str(self._client.base_url).rstrip("/") + "/chat/completions"
            prefix = f"mebench-{uuid.uuid4().hex}-"
            self._request_ids = (f"{prefix}{i}" for i in itertools.count())
        return self._client

    def _content(self, request: JudgeRequest) -> list[dict[str, Any]]:
        content: list[dict[str, Any]] = []
        for part in self.prompt.render(request):
            if isinstance(part, JudgeImage):
                url = f"data:{part.mime_type};base64,{base64.b64encode(part.data).decode()}"
                content.append({"type": "image_url", "image_url": {"url": url}})
            else:
                content.append({"type": "text", "text": part})
        return content

    def _params(self) -> dict[str, Any]:
        params: dict[str, Any] = {"model": self.model, "temperature": self.temperature}
        params["max_tokens" if self.compatible else "max_completion_tokens"] = self.max_tokens
        if self.seed is not None:
            params["seed"] = self.seed
        if self.mode == "rubric" and self.structured:
            params["response_format"] = {"type": "json_schema", "json_schema": {
                "name": "motion_rubric", "strict": True, "schema": RUBRIC_SCHEMA}}
        if self.mode == "expected-score":
            params["logprobs"] = True
            params["top_logprobs"] = self.top_logprobs
        return params

    async def _ask(self, request: JudgeRequest) -> Reply:
        client = self._client_for_loop()
        body = {"messages": [{"role": "user", "content": self._content(request)}],
                **self._params()}
        # The client's generic ``post`` (its documented way to send a body as is) instead of
        # ``chat.completions.create``: the same transport, retries, timeout and response model,
        # without re-walking the request's TypedDicts, which costs ~1.7 ms of CPU per call
        # (measured) and caps throughput at high concurrency.
        completion = await client.post(self._url, body=body, cast_to=self._raw_response_class,
                                       options={"idempotency_key": next(self._request_ids)})
        # the reply read as plain JSON: building the client's pydantic response model costs
        # about 0.6 ms of CPU per call (measured), which caps throughput at high concurrency
        data = completion.json()
        choices = data.get("choices") or []
        if not choices:
            raise ValueError("the reply has no choices")
        choice = choices[0]
        message = choice.get("message") or {}
        text = message.get("content") or message.get("refusal") or ""
        first_top = None
        content_logprobs = (choice.get("logprobs") or {}).get("content") or []
        if content_logprobs:
            top = content_logprobs[0].get("top_logprobs") or []
            first_top = [(t["token"], float(t["logprob"])) for t in top] or None
        usage = {}
        if data.get("usage"):
            u = data["usage"]
            usage = usage_dict(u.get("prompt_tokens"), u.get("completion_tokens"),
                               u.get("total_tokens"))
        finish = choice.get("finish_reason")
        return Reply(text, first_top, usage, finish)

    def _fatal(self, exc: Exception) -> MebenchError | None:
        import openai

        where = f"judge {self.model!r} at {self.base_url or 'api.openai.com'}"
        if isinstance(exc, (openai.AuthenticationError, openai.PermissionDeniedError)):
            return MebenchError(f"the API refused the key: {exc}", where=where,
                                hint="check the API key variable named by api_key_env")
        if isinstance(exc, openai.NotFoundError):
            return MebenchError(f"not found: {exc}", where=where,
                                hint="check model= and base_url= (it usually ends in /v1)")
        return None

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.close()
        self._client = None
        self._loop = None


def _http_client(verify: Any) -> dict[str, Any]:
    """openai's aiohttp transport where aiohttp is installed (the client's documented choice for
    high concurrency: httpx's pool re-checks every idle connection on each request), else its
    default. Its connection pool (openai's default limit, 1000 connections, all kept alive) is
    never smaller than the stage's concurrency in practice."""
    try:
        from openai import DefaultAioHttpClient

        return {"http_client": DefaultAioHttpClient(verify=verify)}
    except (ImportError, RuntimeError):
        return {}


def _ssl_context() -> Any:
    """The TLS context the client would make itself (loading the CA bundle takes ~40 ms of CPU,
    once per client otherwise, i.e. per judged model)."""
    try:
        import httpx2 as http  # what openai >= 3 uses
    except ImportError:
        import httpx as http
    return http.create_ssl_context()


def api_key_from_env(name: str | None, *, required: bool) -> str:
    """The key in ``$name``; ``"EMPTY"`` when no variable is named and none is required."""
    if name is None:
        if required:
            raise ValueError("no API key variable named")
        return "EMPTY"
    value = os.environ.get(name)
    if not value:
        if required:
            raise ValueError(f"${name} is not set (export your API key there, or name another "
                             "variable with api_key_env=NAME)")
        return "EMPTY"
    return value
