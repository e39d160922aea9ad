"""The data that flows between the runner and the plugins.

Nothing here imports torch or PIL at import time: the heavy types are only named for the type
checker, so that ``mebench list`` stays fast.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    from PIL import Image

    from mebench.images import ImageRef


@dataclass(frozen=True)
class Sample:
    """One benchmark item: a source image, an instruction and (usually) a target image.

    ``flow`` is the exact forward optical flow from source to target, ``[2, H, W]`` float32 in
    pixels with x first, where the task knows it (the synthetic task); otherwise ``None``.
    ``metadata`` carries dataset-specific extras (for the synthetic task, what regenerates it).
    """

    id: str
    instruction: str
    source: ImageRef
    target: ImageRef | None
    category: str | None = None
    flow: np.ndarray | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class EditRequest:
    """What a model adapter is asked to do for one sample."""

    sample_id: str
    source: Image.Image
    instruction: str
    seed: int
    metadata: Mapping[str, Any] = field(default_factory=dict)
    target: Image.Image | None = None  # only for adapters that declare ``uses_target = True``


@dataclass(frozen=True)
class EditFailure:
    """Returned by a model adapter in place of an image when one sample could not be edited.

    The run goes on; the failure is recorded in ``samples.jsonl`` and counted in ``n_failed``.
    """

    sample_id: str
    error: str
