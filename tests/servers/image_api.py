"""A local HTTP server that speaks enough of two image-editing APIs for the real clients.

- OpenAI ``POST /v1/images/edits`` (multipart: ``image``, ``prompt``, ``model``...) ->
  ``{"created", "data": [{"b64_json"}], "usage": {...}}``, key in ``Authorization: Bearer``.
- Gemini ``POST /v1beta/models/<model>:generateContent`` (JSON with an ``inlineData`` image part
  and a text part) -> a candidate whose content holds an ``inlineData`` PNG part, plus
  ``usageMetadata``; key in ``x-goog-api-key``.

The "edit" is deterministic: the source image rolled right by ``shift`` pixels, so a test can
check that the image really made the round trip. Faults are injected with :class:`Rule`s: a rule
matches a prompt substring (or every request), delays the answer and/or answers an HTTP error
with headers such as ``Retry-After``, a given number of times. The server counts requests and the
largest number in flight at once. It runs on 127.0.0.1 (a free port) in a background thread.
"""

from __future__ import annotations

import asyncio
import base64
import io
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from PIL import Image, ImageChops

IMAGE_TOKENS = 258      # what the fake charges for one input image
OUTPUT_TOKENS = 1290    # ... and for one output image (Gemini's figure for a 1024px image)

_GOOGLE_STATUS = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED",
                  429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 503: "UNAVAILABLE",
                  504: "DEADLINE_EXCEEDED"}


@dataclass
class Rule:
    """Applies to requests whose prompt contains ``match`` (every request when ``None``).

    ``times`` is how many requests it applies to (``None``: all). ``delay`` seconds are waited
    first; then, with a ``status``, that error is answered with ``headers``.
    """

    match: str | None = None
    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    times: int | None = None
    used: int = 0


def shifted(image: Image.Image, shift: int) -> Image.Image:
    """What the fake returns for ``image``: rolled right by ``shift`` pixels."""
    return ImageChops.offset(image.convert("RGB"), shift, 0)


def _png_bytes(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()


class FakeImageServer:
    """See the module docstring. Use as ``with FakeImageServer(api_key="k") as server:``."""

    def __init__(self, *, api_key: str, latency: float = 0.0, shift: int = 8) -> None:
        self.api_key = api_key
        self.latency = latency
        self.shift = shift
        self.rules: list[Rule] = []
        self.requests: list[dict[str, Any]] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def add_rule(self, rule: Rule) -> Rule:
        with self._lock:
            self.rules.append(rule)
        return rule

    # -- life cycle ---------------------------------------------------------------------------

    def __enter__(self) -> FakeImageServer:
        started = threading.Event()

        def serve() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)
            app = web.Application(client_max_size=64 * 1024 * 1024)
            app.router.add_post("/v1/images/edits", self._openai_edit)
            for version in ("v1", "v1beta"):
                app.router.add_post(f"/{version}/models/{{name}}", self._gemini_generate)
            self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
            loop.run_until_complete(self._runner.setup())
            site = web.TCPSite(self._runner, "127.0.0.1", 0)
            loop.run_until_complete(site.start())
            self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
            started.set()
            loop.run_forever()
            loop.run_until_complete(self._runner.cleanup())
            loop.close()

        self._thread = threading.Thread(target=serve, daemon=True, name="fake-image-api")
        self._thread.start()
        if not started.wait(10):
            raise RuntimeError("the fake image server did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._loop is not None and self._thread is not None
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    # -- shared request handling ----------------------------------------------------------------

    def _take_rule(self, prompt: str) -> Rule | None:
        with self._lock:
            for rule in self.rules:
                if rule.match is not None and rule.match not in prompt:
                    continue
                if rule.times is not None and rule.used >= rule.times:
                    continue
                rule.used += 1
                return rule
        return None

    @contextmanager
    def _counted(self) -> Iterator[None]:
        with self._lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            yield
        finally:
            with self._lock:
                self.in_flight -= 1

    async def _handle(self, api: str, prompt: str, model: str, authorised: bool,
                      fault: Any, success: Any) -> web.Response:
        with self._counted():
            rule = self._take_rule(prompt)
            with self._lock:
                self.requests.append({"api": api, "prompt": prompt, "model": model,
                                      "rule": None if rule is None else self.rules.index(rule)})
            await asyncio.sleep(self.latency + (rule.delay if rule else 0.0))
            if not authorised:
                return fault(401, {}, "invalid api key")
            if rule is not None and rule.status is not None:
                return fault(rule.status, rule.headers, f"injected {rule.status}")
            return success()

    # -- OpenAI images.edit ---------------------------------------------------------------------

    async def _openai_edit(self, request: web.Request) -> web.Response:
        form = await request.post()
        prompt = str(form.get("prompt", ""))
        upload = form.get("image") or form.get("image[]")
        authorised = request.headers.get("Authorization") == f"Bearer {self.api_key}"

        def fault(status: int, headers: dict[str, str], message: str) -> web.Response:
            body = {"error": {"message": message, "type": "fake_error", "code": status}}
            return web.json_response(body, status=status, headers=headers)

        def success() -> web.Response:
            with Image.open(io.BytesIO(upload.file.read())) as im:  # type: ignore[union-attr]
                out = shifted(im, self.shift)
            text_tokens = len(prompt.split())
            usage = {"input_tokens": text_tokens + IMAGE_TOKENS,
                     "input_tokens_details": {"image_tokens": IMAGE_TOKENS,
                                              "text_tokens": text_tokens},
                     "output_tokens": OUTPUT_TOKENS,
                     "total_tokens": text_tokens + IMAGE_TOKENS + OUTPUT_TOKENS}
            data = [{"b64_json": base64.b64encode(_png_bytes(out)).decode()}]
            return web.json_response({"created": 0, "data": data, "usage": usage})

        return await self._handle("openai", prompt, str(form.get("model", "")), authorised,
                                  fault, success)

    # -- Gemini generateContent -----------------------------------------------------------------

    async def _gemini_generate(self, request: web.Request) -> web.Response:
        model, _, method = request.match_info["name"].partition(":")
        if method != "generateContent":
            return web.json_response({"error": {"code": 404, "message": method}}, status=404)
        body = json.loads(await request.read())
        parts = [p for c in body.get("contents", []) for p in c.get("parts", [])]
        prompt = " ".join(p["text"] for p in parts if "text" in p)
        images = [p["inlineData"] for p in parts if "inlineData" in p]
        authorised = request.headers.get("x-goog-api-key") == self.api_key

        def fault(status: int, headers: dict[str, str], message: str) -> web.Response:
            err = {"code": status, "message": message,
                   "status": _GOOGLE_STATUS.get(status, "UNKNOWN")}
            return web.json_response({"error": err}, status=status, headers=headers)

        def success() -> web.Response:
            data = images[0]["data"].replace("-", "+").replace("_", "/")  # either alphabet
            with Image.open(io.BytesIO(base64.b64decode(data))) as im:
                out = shifted(im, self.shift)
            text_tokens = len(prompt.split())
            content = {"role": "model", "parts": [
                {"inlineData": {"mimeType": "image/png",
                                "data": base64.b64encode(_png_bytes(out)).decode()}}]}
            usage = {"promptTokenCount": text_tokens + IMAGE_TOKENS,
                     "candidatesTokenCount": OUTPUT_TOKENS,
                     "totalTokenCount": text_tokens + IMAGE_TOKENS + OUTPUT_TOKENS}
            return web.json_response({"candidates": [{"content": content, "finishReason": "STOP",
                                                      "index": 0}],
                                      "usageMetadata": usage, "modelVersion": model})

        return await self._handle("gemini", prompt, model, authorised, fault, success)


def main() -> None:
    """``python tests/servers/image_api.py KEY [LATENCY]``: serve until killed (prints the URL)."""
    import sys
    import time

    latency = float(sys.argv[2]) if len(sys.argv) > 2 else 0.0
    with FakeImageServer(api_key=sys.argv[1], latency=latency) as server:
        print(server.url, flush=True)
        while True:
            time.sleep(3600)


if __name__ == "__main__":
    main()
