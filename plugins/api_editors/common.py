"""What the API editors share: the key, concurrency, retries, timeouts, failures and usage.

An API editor sends one request per sample. ``edit`` runs a batch's requests on a thread pool of
``concurrency`` workers (default: the runner's ``--batch-size``), each request under a
:class:`RetryPolicy` (tenacity): 429, 408 and 5xx answers, timeouts and dropped connections are
retried with exponential backoff and jitter, waiting what the server's ``Retry-After`` (or
``retry-after-ms``) asks for when it says. A request that still fails becomes an
:class:`~mebench.types.EditFailure` for its sample and the run goes on; a rejected key (401/403)
dooms every request, so it is a :class:`~mebench.errors.MebenchError` instead.

Each request leaves a usage record (attempts, seconds, tokens, estimated cost in USD) that the
runner collects with :meth:`ApiEditor.drain_usage` into the run folder's ``usage.jsonl``. The key is
read from the environment, sent only to the API, and never written anywhere: it is not a model
argument (those are recorded in ``run.json``), and it is scrubbed from error texts.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import email.utils
import io
import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mebench.errors import MebenchError
from mebench.types import EditFailure, EditRequest

if TYPE_CHECKING:
    import tenacity
    from PIL import Image

RETRY_STATUSES = frozenset({408, 409, 429, 500, 502, 503, 504})
AUTH_STATUSES = frozenset({401, 403})
MAX_ERROR_CHARS = 400


def api_key(env_var: str, model: str) -> str:
    """The key from ``$env_var``; a missing or empty one is a MebenchError naming the variable."""
    key = os.environ.get(env_var, "").strip()
    if not key:
        raise MebenchError(f"the environment variable {env_var} is not set",
                           where=f"model {model!r}",
                           hint=f"export {env_var}=<your key> (mebench reads it from the "
                           "environment only and never writes it to disk)")
    return key


@dataclass(frozen=True)
class RetryPolicy:
    """``max_retries`` retries after the first attempt; backoff ``initial * 2**n`` + jitter, at
    most ``max_wait`` s; a server's ``Retry-After`` is honoured up to ``max_retry_after`` s."""

    max_retries: int = 4
    initial: float = 1.0
    max_wait: float = 30.0
    max_retry_after: float = 120.0

    def __post_init__(self) -> None:
        if self.max_retries < 0:
            raise ValueError(f"max_retries must be >= 0, got {self.max_retries}")
        if self.initial < 0 or self.max_wait < 0:
            raise ValueError("retry waits must be >= 0")


def retry_after_seconds(headers: Mapping[str, str] | None) -> float | None:
    """Seconds from ``retry-after-ms`` or ``Retry-After`` (seconds or an HTTP date)."""
    if not headers:
        return None
    lowered = {k.lower(): v for k, v in headers.items()}
    if "retry-after-ms" in lowered:
        try:
            return max(0.0, float(lowered["retry-after-ms"]) / 1000)
        except ValueError:
            pass
    value = lowered.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        parsed = email.utils.parsedate_tz(value)
        return None if parsed is None else max(0.0, email.utils.mktime_tz(parsed) - time.time())


@dataclass(frozen=True)
class CallError:
    """How an adapter classifies an exception of its client library."""

    retryable: bool
    auth: bool = False
    retry_after: float | None = None


@dataclass
class Outcome:
    """What one request produced: an image (with its usage) or a failure."""

    image: Image.Image | None
    usage: dict[str, Any]


class ApiEditor(ABC):
    """Base of the API adapters; a subclass implements ``_call`` and ``_classify``.

    ``_call(request) -> (image, usage)`` makes one HTTP request through the client library;
    ``usage`` holds ``input_tokens``, ``output_tokens`` and ``cost_usd``. ``_classify(exc)`` says
    whether the library's exception is worth a retry.
    """

    name = "api"
    key_env = ""

    def __init__(self, *, concurrency: int, retry: RetryPolicy, timeout: float) -> None:
        if concurrency < 1:
            raise ValueError(f"concurrency must be >= 1, got {concurrency}")
        if timeout <= 0:
            raise ValueError(f"timeout must be > 0 seconds, got {timeout}")
        self.concurrency = concurrency
        self.retry = retry
        self.timeout = timeout
        self._usage: list[dict[str, Any]] = []
        self._usage_lock = threading.Lock()
        self._secret = ""

    # -- for subclasses -------------------------------------------------------------------------

    @abstractmethod
    def _call(self, request: EditRequest) -> tuple[Image.Image, dict[str, Any]]:
        ...

    @abstractmethod
    def _classify(self, exc: BaseException) -> CallError:
        ...

    # -- the contract ---------------------------------------------------------------------------

    def edit(self, requests: Sequence[EditRequest]) -> list[Image.Image | EditFailure]:
        """One request per sample, ``concurrency`` at a time; results in request order."""
        if not requests:
            return []
        workers = min(self.concurrency, len(requests))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix=self.name) as pool:
            outcomes = list(pool.map(self._one, requests))
        with self._usage_lock:
            self._usage.extend(o.usage for o in outcomes)
        return [o.image if o.image is not None else EditFailure(req.sample_id, o.usage["error"])
                for req, o in zip(requests, outcomes)]

    def drain_usage(self) -> list[dict[str, Any]]:
        """Usage records of the requests made since the last call (one per sample)."""
        with self._usage_lock:
            records, self._usage = self._usage, []
        return records

    # -- one request, with retries --------------------------------------------------------------

    def _retrying(self) -> tenacity.Retrying:
        import tenacity

        backoff = tenacity.wait_exponential_jitter(initial=self.retry.initial,
                                                   max=self.retry.max_wait,
                                                   jitter=self.retry.initial)

        def wait(state: tenacity.RetryCallState) -> float:
            exc = state.outcome.exception() if state.outcome else None
            told = self._classify(exc).retry_after if exc is not None else None
            if told is not None:
                return min(told, self.retry.max_retry_after)
            return float(backoff(state))

        def retryable(exc: BaseException) -> bool:
            return self._classify(exc).retryable

        return tenacity.Retrying(stop=tenacity.stop_after_attempt(self.retry.max_retries + 1),
                                 retry=tenacity.retry_if_exception(retryable), wait=wait,
                                 reraise=True)

    def _one(self, request: EditRequest) -> Outcome:
        retrying = self._retrying()
        attempts = 0
        t0 = time.perf_counter()

        def attempt() -> tuple[Image.Image, dict[str, Any]]:
            nonlocal attempts
            attempts += 1
            return self._call(request)

        base = {"sample_id": request.sample_id, "model": self.name}
        try:
            image, usage = retrying(attempt)
        except Exception as exc:  # noqa: BLE001 - every library error becomes this sample's failure
            if self._classify(exc).auth:
                raise MebenchError(f"the API refused the key in {self.key_env}: "
                                   f"{self._scrub(str(exc))}", where=f"model {self.name!r}",
                                   hint=f"check {self.key_env} and base_url") from None
            error = self._scrub(f"{type(exc).__name__}: {exc}")[:MAX_ERROR_CHARS]
            error = f"{error} (after {attempts} attempt{'s' if attempts > 1 else ''})"
            return Outcome(None, {**base, "status": "failed", "attempts": attempts,
                                  "seconds": round(time.perf_counter() - t0, 3),
                                  "input_tokens": 0, "output_tokens": 0, "cost_usd": 0.0,
                                  "error": error})
        return Outcome(image, {**base, "status": "ok", "attempts": attempts,
                               "seconds": round(time.perf_counter() - t0, 3), **usage})

    def _scrub(self, text: str) -> str:
        # a real key is long; replacing a short test string would mangle ordinary words
        return text.replace(self._secret, "***") if len(self._secret) >= 8 else text


def png_bytes(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    image.convert("RGB").save(buf, format="PNG")
    return buf.getvalue()


def decode_image(data: bytes, what: str) -> Image.Image:
    """Decode an image the API returned; a corrupt one raises ValueError (a sample failure)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as im:
            return im.convert("RGB")
    except (UnidentifiedImageError, OSError) as exc:
        raise ValueError(f"{what}: the API returned an unreadable image ({exc})") from exc


def cost(tokens: Mapping[str, int], prices: Mapping[str, float]) -> float:
    """USD for ``tokens`` at ``prices`` (USD per million tokens of the same kind)."""
    return round(sum(tokens.get(k, 0) * p for k, p in prices.items()) / 1e6, 9)


Factory = Callable[..., ApiEditor]
