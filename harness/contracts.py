"""What the runner expects of each plugin kind.

These are structural protocols: a plugin does not subclass anything, it only has to provide these
methods. ``version`` (optional, a string) is folded into cache keys so that a new release of an
estimator never reads an old one's entries; the providing distribution's version is folded in
regardless.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    import torch
    from PIL import Image

    from mebench.judging.types import JudgeRequest, JudgeResult
    from mebench.types import EditFailure, EditRequest


@runtime_checkable
class ModelAdapter(Protocol):
    """``edit`` returns one image (or an :class:`EditFailure`) per request, in request order.

    An adapter whose class sets ``uses_target = True`` receives the ground-truth target in
    ``EditRequest.target`` (only reference models such as ``ground-truth`` should).
    """

    def edit(self, requests: Sequence[EditRequest]) -> list[Image.Image | EditFailure]: ...


@runtime_checkable
class FlowEstimator(Protocol):
    """``estimate(src, dst)``: float ``[B, 3, H, W]`` RGB 0-255 -> ``[B, 2, H, W]`` pixels, x first.

    The flow is forward: it tells where each source pixel moved to, ``src(p) ~= dst(p + flow(p))``.
    """

    def estimate(self, src: torch.Tensor, dst: torch.Tensor) -> torch.Tensor: ...


@runtime_checkable
class Judge(Protocol):
    """An MLLM judge (see :mod:`mebench.judging`): async ``score`` of one edit.

    ``score`` returns a :class:`~mebench.judging.types.JudgeResult` with the parsed scores, the
    raw reply, the prompt id and hash and the token usage; it never invents a score (a reply
    that does not parse is ``scores=None`` plus an ``error``) and raises only a MebenchError, for
    what dooms the whole run (a refused key, an unknown model). ``model``, ``mode``
    (``rubric`` | ``expected-score``), ``reference`` (whether requests carry the target),
    ``prompt_id``, ``prompt_hash`` and ``settings`` (whatever else changes an answer) name the
    judge in cache keys; ``version`` (optional) is bumped when the same reply would now be read
    differently. Optional: ``default_concurrency`` (int) and ``async aclose()``, called at the
    end of each judge stage.
    """

    model: str
    mode: str
    reference: bool

    @property
    def prompt_id(self) -> str: ...

    @property
    def prompt_hash(self) -> str: ...

    @property
    def settings(self) -> Mapping[str, Any]: ...

    async def score(self, request: JudgeRequest) -> JudgeResult: ...
