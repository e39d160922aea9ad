"""What the built-in judges share: settings, the prompt, and turning a reply into a result.

A provider module only has to send one request and return a :class:`Reply`; everything that
decides a score lives here, once. Third-party judges may use it too (or not: the contract is
only :class:`mebench.contracts.Judge`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from mebench.errors import MebenchError, did_you_mean
from mebench.judging.parsing import (SCALE_MAX, Parsed, digit_expectation, parse_digit,
                                     parse_rubric_json, parse_rubric_text)
from mebench.judging.prompts import Prompt, PromptSet, load_prompt
from mebench.judging.types import MODES, JudgeRequest, JudgeResult, Method

#: the rubric reply as a JSON schema (OpenAI ``json_schema``, Gemini ``response_json_schema``)
RUBRIC_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "reasoning": {"type": "string"},
        **{name: {"type": "integer", "minimum": 0, "maximum": SCALE_MAX}
           for name in ("fidelity", "preservation", "coherence")},
    },
    "required": ["reasoning", "fidelity", "preservation", "coherence"],
    "additionalProperties": False,
}
DEFAULT_MAX_TOKENS = {"rubric": 1024, "expected-score": 8}


@dataclass(frozen=True)
class Reply:
    """One API reply, provider-neutral: the text, the first generated token's top
    ``(token, logprob)`` alternatives (``None`` when the API gave none), token usage and why
    generation stopped."""

    text: str
    first_top: Sequence[tuple[str, float]] | None = None
    usage: Mapping[str, int] = field(default_factory=dict)
    finish_reason: str | None = None


class PromptedJudge(ABC):
    """A judge that renders a versioned prompt, asks one model, and reads the reply.

    Subclasses implement ``async _ask(request) -> Reply`` and may override ``_fatal(exc)`` to
    turn errors that doom the whole run (a bad key, an unknown model) into a MebenchError.
    """

    version = "1"  # bump when the same reply would now be read differently
    default_concurrency = 8

    def __init__(self, *, model: str, mode: str = "rubric", prompt: str | None = None,
                 reference: bool = False, temperature: float = 0.0, seed: int | None = 0,
                 max_tokens: int | None = None, timeout: float = 60.0, max_retries: int = 4,
                 top_logprobs: int = 20, structured: bool = True) -> None:
        # 1. Check the settings (concise errors, never a silent correction)
        if not isinstance(model, str) or not model:
            raise ValueError("model must be a non-empty model name")
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, not {mode!r} "
                             f"({did_you_mean(str(mode), list(MODES))})")
        if not isinstance(reference, bool):
            raise ValueError(f"reference must be true or false, not {reference!r}")
        if not isinstance(temperature, (int, float)) or not 0 <= temperature <= 2:
            raise ValueError(f"temperature must be a number in [0, 2], not {temperature!r}")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise ValueError(f"seed must be an integer or null, not {seed!r}")
        if max_tokens is not None and (isinstance(max_tokens, bool)
                                       or not isinstance(max_tokens, int) or max_tokens < 1):
            raise ValueError(f"max_tokens must be a positive integer, not {max_tokens!r}")
        if not isinstance(timeout, (int, float)) or not timeout > 0 or not math.isfinite(timeout):
            raise ValueError(f"timeout must be a positive number of seconds, not {timeout!r}")
        if isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0:
            raise ValueError(f"max_retries must be a non-negative integer, not {max_retries!r}")
        if isinstance(top_logprobs, bool) or not isinstance(top_logprobs, int) \
                or not 1 <= top_logprobs <= 20:
            raise ValueError(f"top_logprobs must be an integer in 1-20, not {top_logprobs!r}")
        # 2. Load the prompt (a MebenchError names a wrong id or a prompt that does not fit)
        try:
            self.prompt: Prompt | PromptSet = load_prompt(prompt, mode=mode, reference=reference)
        except MebenchError as exc:
            raise ValueError(str(exc)) from exc
        self.model = model
        self.mode = mode
        self.reference = reference
        self.temperature = float(temperature)
        self.seed = seed
        self.max_tokens = max_tokens or DEFAULT_MAX_TOKENS[mode]
        self.timeout = float(timeout)
        self.max_retries = max_retries
        self.top_logprobs = top_logprobs
        self.structured = structured

    @property
    def prompt_id(self) -> str:
        return self.prompt.id

    @property
    def prompt_hash(self) -> str:
        return self.prompt.hash

    @property
    def settings(self) -> dict[str, Any]:
        """Everything besides model, mode and prompt that changes a reply (for cache keys)."""
        out: dict[str, Any] = {"temperature": self.temperature, "seed": self.seed,
                               "max_tokens": self.max_tokens, "reference": self.reference}
        if self.mode == "rubric":
            out["structured"] = self.structured
        else:
            out["top_logprobs"] = self.top_logprobs
        return out

    # -- one request ----------------------------------------------------------------------------

    @abstractmethod
    async def _ask(self, request: JudgeRequest) -> Reply:
        ...

    def _fatal(self, exc: Exception) -> MebenchError | None:
        return None

    async def score(self, request: JudgeRequest) -> JudgeResult:
        """Ask once (the client retries transient errors) and read the reply; never raises for
        one sample's failure, only for what dooms the run (a MebenchError)."""
        try:
            reply = await self._ask(request)
        except MebenchError:
            raise
        except Exception as exc:  # noqa: BLE001 - one sample's failure is recorded, not raised
            fatal = self._fatal(exc)
            if fatal is not None:
                raise fatal from exc
            return self.failure(f"{type(exc).__name__}: {exc}")
        return self.read(reply)

    def failure(self, error: str, raw: str = "") -> JudgeResult:
        """No reply came (after the retries): recorded, counted, not cached."""
        method: Method = ("structured" if self.structured else "free-text") \
            if self.mode == "rubric" else "logprobs"
        return JudgeResult(None, raw, error, method, self.prompt_id, self.prompt_hash,
                           cacheable=False)

    def read(self, reply: Reply) -> JudgeResult:
        """The scores in ``reply``, or a failure that keeps its raw text."""
        method: Method
        if self.mode == "rubric":
            method = "structured" if self.structured else "free-text"
            parsed = parse_rubric_json(reply.text) if self.structured else None
            if parsed is None or parsed.scores is None:
                loose = parse_rubric_text(reply.text)
                if loose.scores is not None:
                    method = "free-text"
                elif parsed is not None:  # say why both readers failed
                    loose = Parsed(None, f"{parsed.error}; free-text reader: {loose.error}")
                parsed = loose
        else:
            expectation = digit_expectation(reply.first_top) if reply.first_top else None
            if expectation is not None:
                method = "logprobs"
                value = round(expectation[0] / SCALE_MAX, 6)
                return self._result({"mllm_reward": value}, None, method, reply)
            method = "logprobs" if reply.first_top else "digit"
            parsed = parse_digit(reply.text)
            if parsed.scores is not None:
                method = "digit"
        error = parsed.error
        if error is not None and reply.finish_reason not in (None, "stop", "STOP"):
            error += f" (generation stopped: {reply.finish_reason})"
        return self._result(parsed.scores, error, method, reply)

    def _result(self, scores: dict[str, float] | None, error: str | None, method: Method,
                reply: Reply) -> JudgeResult:
        return JudgeResult(scores, reply.text, error, method, self.prompt_id, self.prompt_hash,
                           usage=dict(reply.usage))

    async def aclose(self) -> None:
        """Close the clients made for the current event loop (the stage calls this)."""
