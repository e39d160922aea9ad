"""A local fake of two judge APIs, for tests and benchmarks: OpenAI chat completions and Gemini
``generateContent``, served over real HTTP on 127.0.0.1 by aiohttp in a background thread.

The real ``openai`` and ``google-genai`` clients talk to it unchanged (``base_url=`` /
``http_options.base_url``). It answers from the request's content: a sha256 of the prompt's
text and images picks the scores, so the same request always gets the same answer and different
images get different ones (the client code must not, and does not, know this).

API::

    from servers.judge_api import FakeJudgeAPI, Fault

    with FakeJudgeAPI(latency=0.2) as api:          # or api.start() / api.stop()
        api.openai_base_url                         # "http://127.0.0.1:PORT/v1"
        api.gemini_base_url                         # "http://127.0.0.1:PORT"
        api.inject(Fault.rate_limit(retry_after=0.1), times=2)   # the next 2 requests get 429
        api.inject(Fault.server_error())                          # then one 500
        api.block_after(3)     # answer 3 requests, hold every later one until api.release()
        api.exchanges()        # every request so far, as Exchange records
        api.answered_by_key()  # {prompt digest: number of 200 replies}, to spot repeats
        api.max_in_flight      # the most requests it was handling at once
        api.connections        # client connections (TCP) opened since the last reset

``GET /stats`` answers ``{"requests", "connections", "cpu_s"}`` (requests and new connections
since the last reset, CPU seconds of the serving process): what a benchmark reads from a server
running in its own process.

Faults are consumed first-in first-out, one per request, by whichever request arrives next:
``rate_limit`` (429 with ``Retry-After``), ``server_error`` (500, or any status), ``hang`` (reply
only after ``seconds``: the client's timeout fires first), ``content`` (200 with this reply text
and no log-probabilities: malformed or partial JSON, prose), ``broken_body`` (200 whose HTTP body
is cut-off JSON) and ``no_logprobs`` (a normal reply without log-probabilities).

How a normal reply looks follows the request: a JSON rubric when it asks for structured output
(``response_format`` / ``responseMimeType: application/json``), one digit with the first
token's top log-probabilities when it asks for log-probabilities, one digit when its text asks
for "a single digit", else free text (``Fidelity: 4/5`` lines). ``responder=`` replaces this.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import math
import re
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from aiohttp import web

Api = Literal["openai", "gemini"]


@dataclass(frozen=True)
class Fault:
    """One injected misbehaviour (see the module docstring)."""

    kind: Literal["status", "hang", "content", "broken-body", "no-logprobs"]
    status: int = 500
    retry_after: float | None = None
    seconds: float = 0.0
    content: str = ""

    @classmethod
    def rate_limit(cls, retry_after: float | None = 0.05) -> Fault:
        return cls("status", status=429, retry_after=retry_after)

    @classmethod
    def server_error(cls, status: int = 500, retry_after: float | None = None) -> Fault:
        return cls("status", status=status, retry_after=retry_after)

    @classmethod
    def hang(cls, seconds: float) -> Fault:
        return cls("hang", seconds=seconds)

    @classmethod
    def reply(cls, content: str) -> Fault:
        return cls("content", content=content)

    @classmethod
    def broken_body(cls) -> Fault:
        return cls("broken-body")

    @classmethod
    def no_logprobs(cls) -> Fault:
        return cls("no-logprobs")


@dataclass(frozen=True)
class JudgeCall:
    """What the server understood of one request (what a responder sees)."""

    api: Api
    model: str
    texts: tuple[str, ...]
    images: tuple[bytes, ...]
    wants_json: bool
    wants_logprobs: bool
    top_logprobs: int
    body: dict[str, Any]

    @property
    def key(self) -> str:
        """sha256 of the prompt content (texts and image bytes): equal for a retried request."""
        h = hashlib.sha256()
        for text in self.texts:
            h.update(b"T" + text.encode())
        for image in self.images:
            h.update(b"I" + image)
        return h.hexdigest()


@dataclass(frozen=True)
class Answer:
    """A responder's reply: the text and, optionally, the first token's top log-probabilities."""

    content: str
    top: list[tuple[str, float]] | None = None


@dataclass
class Exchange:
    """One request the server received and what it did with it."""

    api: Api
    key: str
    status: int | None = None
    fault: str | None = None
    answered: bool = False  # a complete 200 reply was sent
    reply: dict[str, Any] | None = None  # the JSON body of a 200 reply
    started: float = field(default_factory=time.monotonic)


def digit_distribution(key: str) -> list[tuple[str, float]]:
    """Log-probabilities of the tokens "0".."5" (and one non-digit) chosen by ``key``."""
    raw = bytes.fromhex(key)
    logits = [raw[i] / 40.0 for i in range(6)] + [raw[6] / 80.0]
    top = max(logits)
    log_z = top + math.log(sum(math.exp(v - top) for v in logits))
    tokens = [str(d) for d in range(6)] + [" The"]
    pairs = [(t, round(v - log_z, 6)) for t, v in zip(tokens, logits)]
    return sorted(pairs, key=lambda p: -p[1])


def default_responder(call: JudgeCall) -> Answer:
    """Deterministic answers from the request's content (see the module docstring)."""
    raw = bytes.fromhex(call.key)
    fidelity, preservation, coherence = raw[10] % 6, raw[11] % 6, raw[12] % 6
    if call.wants_json:
        return Answer(json.dumps({"reasoning": "judged by the fake server", "fidelity": fidelity,
                                  "preservation": preservation, "coherence": coherence}))
    asks_digit = any("single digit" in t for t in call.texts)
    if call.wants_logprobs or asks_digit:
        dist = digit_distribution(call.key)
        best = next(t for t, _ in dist if t.strip().isdigit())
        return Answer(best, dist if call.wants_logprobs else None)
    return Answer(f"The motion is partly there.\nFidelity: {fidelity}/5\n"
                  f"Preservation: {preservation}/5\nCoherence: {coherence}/5")


def _b64(text: str) -> bytes:
    """Standard or URL-safe base64, padded or not (google-genai sends URL-safe)."""
    text = text.replace("-", "+").replace("_", "/")
    return base64.b64decode(text + "=" * (-len(text) % 4))


def _data_url_bytes(url: str) -> bytes:
    match = re.match(r"data:[^;]+;base64,(.*)", url, re.DOTALL)
    return _b64(match.group(1)) if match else url.encode()


def _openai_call(body: dict[str, Any]) -> JudgeCall:
    texts, images = [], []
    for message in body.get("messages", []):
        content = message.get("content")
        if isinstance(content, str):
            texts.append(content)
            continue
        for part in content or []:
            if part.get("type") == "text":
                texts.append(part["text"])
            elif part.get("type") == "image_url":
                images.append(_data_url_bytes(part["image_url"]["url"]))
    fmt = body.get("response_format") or {}
    return JudgeCall("openai", str(body.get("model")), tuple(texts), tuple(images),
                     fmt.get("type") in ("json_schema", "json_object"),
                     bool(body.get("logprobs")), int(body.get("top_logprobs") or 0), body)


def _gemini_call(model: str, body: dict[str, Any]) -> JudgeCall:
    texts, images = [], []
    for content in body.get("contents", []):
        for part in content.get("parts", []):
            if "text" in part:
                texts.append(part["text"])
            inline = part.get("inlineData") or part.get("inline_data")
            if inline:
                images.append(_b64(inline["data"]))
    config = body.get("generationConfig") or {}
    wants_json = config.get("responseMimeType") == "application/json"
    return JudgeCall("gemini", model, tuple(texts), tuple(images), wants_json,
                     bool(config.get("responseLogprobs")), int(config.get("logprobs") or 0), body)


def _tokens(call: JudgeCall, content: str) -> tuple[int, int]:
    prompt = sum(len(t) // 4 for t in call.texts) + 258 * len(call.images)
    return prompt, max(1, len(content) // 4)


def _openai_reply(call: JudgeCall, answer: Answer) -> dict[str, Any]:
    logprobs = None
    if answer.top is not None and call.wants_logprobs:
        top = answer.top[: max(1, call.top_logprobs)]
        chosen = next((lp for t, lp in answer.top if t == answer.content[:1]), top[0][1])
        logprobs = {"content": [{
            "token": answer.content[:1], "logprob": chosen, "bytes": list(answer.content[:1].encode()),
            "top_logprobs": [{"token": t, "logprob": lp, "bytes": list(t.encode())} for t, lp in top],
        }], "refusal": None}
    prompt, completion = _tokens(call, answer.content)
    return {
        "id": "chatcmpl-" + call.key[:12], "object": "chat.completion", "created": 0,
        "model": call.model,
        "choices": [{"index": 0, "finish_reason": "stop", "logprobs": logprobs,
                     "message": {"role": "assistant", "content": answer.content}}],
        "usage": {"prompt_tokens": prompt, "completion_tokens": completion,
                  "total_tokens": prompt + completion},
    }


def _gemini_reply(call: JudgeCall, answer: Answer) -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {"role": "model", "parts": [{"text": answer.content}]},
                                 "finishReason": "STOP", "index": 0}
    if answer.top is not None and call.wants_logprobs:
        top = answer.top[: max(1, call.top_logprobs)]
        candidate["logprobsResult"] = {
            "topCandidates": [{"candidates": [{"token": t, "logProbability": lp}
                                              for t, lp in top]}],
            "chosenCandidates": [{"token": top[0][0], "logProbability": top[0][1]}],
        }
    prompt, completion = _tokens(call, answer.content)
    return {"candidates": [candidate], "modelVersion": call.model,
            "usageMetadata": {"promptTokenCount": prompt, "candidatesTokenCount": completion,
                              "totalTokenCount": prompt + completion}}


class FakeJudgeAPI:
    """The server; see the module docstring. Keyword-only options:

    ``latency``: seconds every request waits before its answer; ``responder``: a function
    ``JudgeCall -> Answer`` replacing :func:`default_responder`; ``port``: 0 picks a free one.
    """

    def __init__(self, *, latency: float = 0.0,
                 responder: Callable[[JudgeCall], Answer] = default_responder,
                 port: int = 0) -> None:
        self.latency = latency
        self.responder = responder
        self._port = port
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self._exchanges: list[Exchange] = []
        self._block_after: int | None = None
        self._answered = 0
        self._admitted = 0
        self._in_flight = 0
        self.max_in_flight = 0
        self._transports: weakref.WeakSet[Any] = weakref.WeakSet()  # open connections seen
        self._connections = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._release: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self.port: int | None = None

    # -- control, from the test's thread --------------------------------------------------------

    @property
    def base_url(self) -> str:
        if self.port is None:
            raise RuntimeError("the server is not started")
        return f"http://127.0.0.1:{self.port}"

    @property
    def openai_base_url(self) -> str:
        return self.base_url + "/v1"

    @property
    def gemini_base_url(self) -> str:
        return self.base_url

    def inject(self, fault: Fault, times: int = 1) -> None:
        with self._lock:
            self._faults.extend([fault] * times)

    def block_after(self, n: int) -> None:
        """Answer ``n`` more requests, then hold every later one until :meth:`release`."""
        with self._lock:
            self._block_after = self._admitted + n

    def release(self) -> None:
        with self._lock:
            self._block_after = None
        if self._loop is not None and self._release is not None:
            self._loop.call_soon_threadsafe(self._release.set)

    def exchanges(self) -> list[Exchange]:
        with self._lock:
            return list(self._exchanges)

    def answered_by_key(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for ex in self.exchanges():
            if ex.answered:
                counts[ex.key] = counts.get(ex.key, 0) + 1
        return counts

    @property
    def connections(self) -> int:
        with self._lock:
            return self._connections

    def reset(self) -> None:
        """Forget the exchanges and pending faults (the port stays)."""
        with self._lock:
            self._faults.clear()
            self._exchanges.clear()
            self._answered = 0
            self._admitted = 0
            self._block_after = None
            self.max_in_flight = 0
            self._connections = 0

    # -- life cycle -----------------------------------------------------------------------------

    def start(self) -> FakeJudgeAPI:
        ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, args=(ready,), daemon=True,
                                        name="fake-judge-api")
        self._thread.start()
        if not ready.wait(10) or self.port is None:
            raise RuntimeError("the fake judge API did not start")
        return self

    def stop(self) -> None:
        if self._loop is None or self._thread is None:
            return
        self.release()
        loop = self._loop
        future = asyncio.run_coroutine_threadsafe(self._shutdown(), loop)
        future.result(10)
        loop.call_soon_threadsafe(loop.stop)
        self._thread.join(10)
        self._loop = None

    def __enter__(self) -> FakeJudgeAPI:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _serve(self, ready: threading.Event) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        self._loop = loop
        self._release = asyncio.Event()
        app = web.Application(client_max_size=256 * 1024 * 1024)
        app.router.add_post("/v1/chat/completions", self._openai)
        app.router.add_post("/{version}/models/{model_action}", self._gemini)
        app.router.add_get("/stats", self._stats)
        self._runner = web.AppRunner(app, access_log=None)
        loop.run_until_complete(self._runner.setup())
        site = web.TCPSite(self._runner, "127.0.0.1", self._port, backlog=1024)
        loop.run_until_complete(site.start())
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        ready.set()
        loop.run_forever()
        loop.close()

    async def _shutdown(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    # -- handlers -------------------------------------------------------------------------------

    async def _stats(self, request: web.Request) -> web.StreamResponse:
        with self._lock:
            stats = {"requests": len(self._exchanges), "connections": self._connections,
                     "cpu_s": time.process_time()}
        return web.json_response(stats)

    async def _openai(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        return await self._handle(request, _openai_call(body), _openai_reply)

    async def _gemini(self, request: web.Request) -> web.StreamResponse:
        model, _, action = request.match_info["model_action"].partition(":")
        if action != "generateContent":
            raise web.HTTPNotFound(text=f"unsupported action {action!r}")
        body = await request.json()
        return await self._handle(request, _gemini_call(model, body), _gemini_reply)

    async def _handle(self, request: web.Request, call: JudgeCall,
                      build: Callable[[JudgeCall, Answer], dict[str, Any]]) -> web.StreamResponse:
        with self._lock:
            self._in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self._in_flight)
            if request.transport is not None and request.transport not in self._transports:
                self._transports.add(request.transport)
                self._connections += 1
        try:
            return await self._answer(request, call, build)
        finally:
            with self._lock:
                self._in_flight -= 1

    async def _answer(self, request: web.Request, call: JudgeCall,
                      build: Callable[[JudgeCall, Answer], dict[str, Any]]) -> web.StreamResponse:
        exchange = Exchange(call.api, call.key)
        with self._lock:
            self._exchanges.append(exchange)
            fault = self._faults.pop(0) if self._faults else None
        exchange.fault = fault.kind if fault else None
        if self.latency:
            await asyncio.sleep(self.latency)
        if fault is not None and fault.kind == "status":
            exchange.status = fault.status
            headers = {} if fault.retry_after is None else {"Retry-After": f"{fault.retry_after:g}"}
            return web.json_response(_error_body(call.api, fault.status), status=fault.status,
                                     headers=headers)
        if fault is not None and fault.kind == "hang":
            await asyncio.sleep(fault.seconds)
        await self._wait_if_blocked()
        if request.transport is None or request.transport.is_closing():
            exchange.fault = "client-gone"  # killed or timed out while waiting: never answered
            return web.Response(status=499)
        if fault is not None and fault.kind == "content":
            answer = Answer(fault.content)
        else:
            answer = self.responder(call)
            if fault is not None and fault.kind == "no-logprobs":
                answer = Answer(answer.content)
        reply = build(call, answer)
        exchange.status = 200
        if fault is not None and fault.kind == "broken-body":
            text = json.dumps(reply)
            return web.Response(text=text[: len(text) // 2], content_type="application/json")
        exchange.reply = reply
        exchange.answered = fault is None or fault.kind != "hang"
        with self._lock:
            self._answered += exchange.answered
        return web.json_response(reply)

    async def _wait_if_blocked(self) -> None:
        assert self._release is not None
        while True:
            with self._lock:
                blocked = self._block_after is not None and self._admitted >= self._block_after
                if not blocked:
                    self._admitted += 1  # reserved under the lock: concurrent ones cannot overshoot
                    return
            self._release.clear()
            await self._release.wait()


def _error_body(api: Api, status: int) -> dict[str, Any]:
    if api == "gemini":
        names = {429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 503: "UNAVAILABLE"}
        return {"error": {"code": status, "message": f"injected {status}",
                          "status": names.get(status, "UNKNOWN")}}
    return {"error": {"message": f"injected {status}", "type": "server_error", "code": None}}


def main(argv: list[str] | None = None) -> None:
    """``python tests/servers/judge_api.py [--latency S] [--port N]``: serve until killed,
    printing ``PORT <n>`` once listening (benchmarks run it in its own process)."""
    import argparse
    import sys

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    api = FakeJudgeAPI(latency=args.latency, port=args.port).start()
    print(f"PORT {api.port}", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        api.stop()
        sys.exit(0)


if __name__ == "__main__":
    main()
