"""What the runner expects of each plugin kind.

These are structural protocols: a plugin does not subclass anything, it only has to provide these
methods. ``version`` (optional, a string) is folded into cache keys so that a new release of an
estimator never reads an old one's entries; the providing distribution's version is folded in
regardless.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    import torch
    from PIL import Image

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
