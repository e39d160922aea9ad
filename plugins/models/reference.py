"""Reference editors: the ceiling, the floor, outputs made elsewhere, and partial motion."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from mebench.errors import MebenchError
from mebench.types import EditFailure, EditRequest

if TYPE_CHECKING:
    from PIL import Image

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")


class GroundTruthModel:
    """Returns each sample's ground-truth target (a task without targets is an error)."""

    uses_target = True

    def edit(self, requests: Sequence[EditRequest]) -> list[Image.Image | EditFailure]:
        out: list[Image.Image | EditFailure] = []
        for req in requests:
            if req.target is None:
                out.append(EditFailure(req.sample_id, "the sample has no target image"))
            else:
                out.append(req.target.copy())
        return out


class IdentityModel:
    """Returns the source image unchanged."""

    def edit(self, requests: Sequence[EditRequest]) -> list[Image.Image | EditFailure]:
        return [req.source.copy() for req in requests]


class FolderModel:
    """Reads ``<path>/<sample id>.<png|jpg|jpeg|webp>``; a missing or bad file fails that sample."""

    def __init__(self, *, path: str | Path) -> None:
        self.path = Path(path).expanduser()
        if not self.path.is_dir():
            raise MebenchError(f"folder {str(self.path)!r} does not exist or is not a directory",
                               where="--model-args path", hint="point path= at a folder of images "
                               "named by sample id")

    def _find(self, sample_id: str) -> Path | None:
        for suffix in IMAGE_SUFFIXES:
            candidate = self.path / f"{sample_id}{suffix}"
            if candidate.is_file():
                return candidate
        return None

    def edit(self, requests: Sequence[EditRequest]) -> list[Image.Image | EditFailure]:
        from PIL import Image, UnidentifiedImageError

        out: list[Image.Image | EditFailure] = []
        for req in requests:
            found = self._find(req.sample_id)
            if found is None:
                out.append(EditFailure(req.sample_id, f"no output image {self.path / req.sample_id}"
                                       f".png (or {', '.join(IMAGE_SUFFIXES[1:])})"))
                continue
            try:
                with Image.open(found) as im:
                    out.append(im.convert("RGB"))
            except (UnidentifiedImageError, OSError) as exc:
                out.append(EditFailure(req.sample_id, f"unreadable image {found}: {exc}"))
        return out


class SyntheticMotionModel:
    """Renders a synthetic sample with ``fraction`` times its true motion (-1: the opposite)."""

    def __init__(self, *, fraction: float = 1.0) -> None:
        self.fraction = fraction

    def edit(self, requests: Sequence[EditRequest]) -> list[Image.Image | EditFailure]:
        from mebench.synthetic import generate_sample

        out: list[Image.Image | EditFailure] = []
        for req in requests:
            spec = req.metadata.get("synthetic")
            if not isinstance(spec, dict):
                raise MebenchError(
                    "the synthetic-motion model only works on the motionedit-synthetic task",
                    where=f"sample {req.sample_id!r}",
                    hint="use --task motionedit-synthetic, or another --model",
                )
            sample = generate_sample(spec["index"], seed=spec["seed"], size=spec["size"],
                                     fraction=self.fraction)
            out.append(sample.target)
        return out
