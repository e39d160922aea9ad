"""Training prompts from a dataset (MotionEdit-Train: hub or local parquet), prepared as the
official training code does (REFERENCE.md): black bars are cropped from the target (rows and
columns whose grey-level variance is at most 5.0), the same crop is applied to the input, both
are centre-cropped to a square and resized to the resolution (LANCZOS).

Images stay encoded until a step draws their prompt (:class:`DatasetPrompts` is a lazy
sequence), so 9,142 pairs are never decoded at once. The rows come from mebench's dataset
loaders (:func:`mebench.data.load_samples`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, overload

from mebench.errors import MebenchError
from mebench.trainers.backbone import TrainPrompt

if TYPE_CHECKING:
    import numpy as np
    from PIL import Image

    from mebench.trainers.recipe_schema import DatasetConfig
    from mebench.types import Sample

BAR_VARIANCE = 5.0


def black_bar_box(image: np.ndarray, threshold: float = BAR_VARIANCE) -> tuple[int, int, int, int]:
    """``(left, top, right, bottom)`` of the part of an ``[H, W, 3]`` image inside its bars: the
    first to the last row (column) whose grey-level variance exceeds ``threshold``."""
    import numpy as np

    grey = image.astype(np.float64).mean(axis=2)
    rows = np.flatnonzero(grey.var(axis=1) > threshold)
    cols = np.flatnonzero(grey.var(axis=0) > threshold)
    if rows.size == 0 or cols.size == 0:  # a flat image: nothing to crop by
        return 0, 0, image.shape[1], image.shape[0]
    return int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1


def prepare_pair(source: Image.Image, target: Image.Image,
                 resolution: int) -> tuple[Image.Image, Image.Image]:
    """Crop the target's black bars from both, centre-crop to a square, resize (LANCZOS)."""
    import numpy as np
    from PIL import Image

    source, target = source.convert("RGB"), target.convert("RGB")
    if source.size != target.size:
        source = source.resize(target.size, Image.Resampling.LANCZOS)
    box = black_bar_box(np.asarray(target))
    out = []
    for image in (source.crop(box), target.crop(box)):
        side = min(image.size)
        left, top = (image.width - side) // 2, (image.height - side) // 2
        square = image.crop((left, top, left + side, top + side))
        out.append(square.resize((resolution, resolution), Image.Resampling.LANCZOS))
    return out[0], out[1]


def _tensor(image: Image.Image) -> object:
    import numpy as np
    import torch

    return torch.from_numpy(np.asarray(image, dtype=np.float32).copy()).permute(2, 0, 1)


class DatasetPrompts(Sequence[TrainPrompt]):
    """The samples of a dataset as training prompts, decoded and prepared when indexed."""

    def __init__(self, *, samples: Sequence[Sample], resolution: int) -> None:
        missing = [s.id for s in samples if s.target is None]
        if missing:
            raise MebenchError("training needs each sample's target image (the motion reward "
                               "compares flows with it)", where=f"sample {missing[0]!r}")
        self.samples, self.resolution = list(samples), resolution

    def __len__(self) -> int:
        return len(self.samples)

    @overload
    def __getitem__(self, index: int) -> TrainPrompt: ...

    @overload
    def __getitem__(self, index: slice) -> list[TrainPrompt]: ...

    def __getitem__(self, index: int | slice) -> TrainPrompt | list[TrainPrompt]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        sample = self.samples[index]
        assert sample.target is not None
        src, tgt = prepare_pair(sample.source.load(), sample.target.load(), self.resolution)
        return TrainPrompt(id=sample.id, instruction=sample.instruction,
                           source=_tensor(src), target=_tensor(tgt))  # type: ignore[arg-type]

    def __iter__(self) -> Iterator[TrainPrompt]:
        return (self[i] for i in range(len(self)))


def load_dataset_prompts(ds: DatasetConfig) -> DatasetPrompts:
    """``hub`` / ``parquet`` datasets through mebench's loaders (columns id, prompt,
    input_image, target_image, as MotionEdit-Train has them)."""
    from mebench.data import load_samples
    from mebench.taskfile import DatasetConfig as TaskDataset

    cfg = TaskDataset(source=ds.source, path=ds.path, split=ds.split)  # type: ignore[arg-type]
    return DatasetPrompts(samples=load_samples(cfg, ds.limit), resolution=ds.resolution)
