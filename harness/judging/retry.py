"""Retries for clients that do not retry correctly themselves (google-genai's own retry ignores
``Retry-After`` and does not retry read timeouts under aiohttp), built on tenacity.

Retried: HTTP 408, 429 and 5xx, timeouts and connection errors; the wait is the server's
``Retry-After`` when it gives one (up to ``MAX_RETRY_AFTER`` seconds; a longer one is not
retried), else exponential backoff with jitter (``initial`` doubling up to ``maximum``).
"""

from __future__ import annotations

import asyncio
import email.utils
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

RETRY_STATUS = frozenset({408, 429, 500, 502, 503, 504})
MAX_RETRY_AFTER = 120.0
T = TypeVar("T")


def status_of(exc: BaseException) -> int | None:
    """The HTTP status an exception carries (google-genai ``code``, httpx/openai ``status_code``)."""
    for attr in ("code", "status_code", "status"):
        value = getattr(exc, attr, None)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return None


def retry_after_seconds(exc: BaseException) -> float | None:
    """Seconds from the ``Retry-After`` (or ``retry-after-ms``) header of the error's response."""
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None)
    if headers is None:
        return None
    ms = headers.get("retry-after-ms")
    if ms is not None:
        try:
            return float(ms) / 1000.0
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        parsed = email.utils.parsedate_tz(value)
        return None if parsed is None else float(email.utils.mktime_tz(parsed) - time.time())


def is_transient(exc: BaseException) -> bool:
    """Worth retrying: a retryable status, a timeout, or a connection error."""
    status = status_of(exc)
    if status is not None:
        return status in RETRY_STATUS
    if isinstance(exc, (asyncio.TimeoutError, TimeoutError, ConnectionError)):
        return True
    try:
        import aiohttp

        if isinstance(exc, aiohttp.ClientError):
            return True
    except ImportError:
        pass
    try:
        import httpx

        if isinstance(exc, httpx.TransportError):
            return True
    except ImportError:
        pass
    return False


async def call_with_retries(fn: Callable[[], Awaitable[T]], *, max_retries: int,
                            initial: float = 0.5, maximum: float = 8.0) -> T:
    """``await fn()``, retried up to ``max_retries`` times on transient errors."""
    import tenacity

    backoff = tenacity.wait_exponential_jitter(initial=initial, max=maximum, jitter=initial)

    def wait(state: tenacity.RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        after = retry_after_seconds(exc) if exc is not None else None
        if after is not None and 0 <= after <= MAX_RETRY_AFTER:
            return after
        return float(backoff(state))

    def retry(state: tenacity.RetryCallState) -> bool:
        exc = state.outcome.exception() if state.outcome else None
        if exc is None or not is_transient(exc):
            return False
        after = retry_after_seconds(exc)
        return after is None or after <= MAX_RETRY_AFTER

    retrying: Any = tenacity.AsyncRetrying(stop=tenacity.stop_after_attempt(max_retries + 1),
                                           wait=wait, retry=retry, reraise=True)
    return await retrying(fn)  # type: ignore[no-any-return]
