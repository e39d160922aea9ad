"""The data a judge receives and returns (no heavy imports: PIL loads only in ``JudgeImage.pil``)."""

from __future__ import annotations

import io
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from PIL import Image

Mode = Literal["rubric", "expected-score"]
MODES: tuple[str, ...] = ("rubric", "expected-score")
Method = Literal["structured", "free-text", "logprobs", "digit"]
RUBRIC_CRITERIA: tuple[str, ...] = ("fidelity", "preservation", "coherence")
#: the metric keys each mode adds to a sample's ``metrics``
MODE_METRICS: Mapping[str, tuple[str, ...]] = {
    "rubric": ("overall", *RUBRIC_CRITERIA),
    "expected-score": ("mllm_reward",),
}


@dataclass(frozen=True)
class JudgeImage:
    """An encoded image (PNG bytes as sent to the API) and the digest that names it in caches."""

    data: bytes
    digest: str
    mime_type: str = "image/png"

    def pil(self) -> Image.Image:
        from PIL import Image

        with Image.open(io.BytesIO(self.data)) as im:
            return im.convert("RGB")


@dataclass(frozen=True)
class JudgeRequest:
    """One edit to judge: the source, the edited image, the instruction and, when the task
    shows the judge the ground truth (``reference: true``), the target."""

    sample_id: str
    instruction: str
    source: JudgeImage
    edited: JudgeImage
    target: JudgeImage | None = None
    category: str | None = None


@dataclass(frozen=True)
class JudgeResult:
    """What a judge says about one request.

    ``scores`` maps metric names to numbers (rubric: ``overall``, ``fidelity``, ``preservation``,
    ``coherence`` on 0-5; expected-score: ``mllm_reward`` on 0-1), or is ``None`` when the reply
    did not parse or no reply came: then ``error`` says why and ``raw`` holds whatever text came
    back. A judge never invents a score. ``method`` says how the scores were read. ``cacheable``
    is false when no reply came at all (a timeout, an HTTP error after the retries): such a
    result is recorded for this run but asked again next time.
    """

    scores: Mapping[str, float] | None
    raw: str
    error: str | None
    method: Method
    prompt_id: str
    prompt_hash: str
    usage: Mapping[str, int] = field(default_factory=dict)
    cacheable: bool = True

    def __post_init__(self) -> None:
        if (self.scores is None) == (self.error is None):
            raise ValueError("a JudgeResult has either scores or an error, not both or neither")

    def record(self) -> dict[str, Any]:
        """The ``judge`` field of a sample record in samples.jsonl (the per-sample contract)."""
        return {"scores": None if self.scores is None else dict(self.scores), "raw": self.raw,
                "error": self.error, "method": self.method, "prompt_id": self.prompt_id,
                "prompt_hash": self.prompt_hash, "usage": dict(self.usage)}

    @classmethod
    def from_record(cls, data: Mapping[str, Any], *, cacheable: bool = True) -> JudgeResult:
        return cls(scores=data["scores"], raw=data["raw"], error=data["error"],
                   method=data["method"], prompt_id=data["prompt_id"],
                   prompt_hash=data["prompt_hash"], usage=data.get("usage") or {},
                   cacheable=cacheable)


def usage_dict(input_tokens: int | None, output_tokens: int | None,
               total_tokens: int | None = None) -> dict[str, int]:
    """Token counts in one shape for every provider; unknown counts are left out."""
    out: dict[str, int] = {}
    if input_tokens is not None:
        out["input_tokens"] = int(input_tokens)
    if output_tokens is not None:
        out["output_tokens"] = int(output_tokens)
    if total_tokens is None and input_tokens is not None and output_tokens is not None:
        total_tokens = input_tokens + output_tokens
    if total_tokens is not None:
        out["total_tokens"] = int(total_tokens)
    return out
