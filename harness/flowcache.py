"""Optical flow with a content-addressed cache.

A flow is keyed by everything that changes it: the estimator's name, providing distribution and
version, its own ``version`` attribute, its arguments, and the pixel digests of both images. The
ground-truth flow ``F(source, target)`` therefore has the same key in every model's run and is
computed once; a different estimator or argument never reads another's entries.

Flows are stored as float16 ``.npy`` files (half the disk of float32; a few hundredths of a pixel of
rounding at 100 px). The value handed back is always the stored one, cached or fresh, so a resumed
run computes exactly what an uninterrupted one does.

``dtype`` (``bf16`` or ``fp16``; ``None`` for float32) runs the estimator under ``torch.autocast``
on its ``device``; only estimators that declare ``supports_autocast = True`` accept it, and the
dtype is part of the cache key (it changes the flow).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from mebench.images import atomic_write_bytes

if TYPE_CHECKING:
    from PIL import Image

    from mebench.contracts import FlowEstimator
    from mebench.plugin_manager import PluginSpec

HOME_ENV = "MEBENCH_HOME"
AUTOCAST_DTYPES = ("bf16", "fp16")


def mebench_home() -> Path:
    """``$MEBENCH_HOME``, else ``$XDG_CACHE_HOME/mebench``, else ``~/.cache/mebench``."""
    if os.environ.get(HOME_ENV):
        return Path(os.environ[HOME_ENV]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "mebench"


def _widen(half: np.ndarray) -> np.ndarray:
    import torch

    return torch.from_numpy(np.ascontiguousarray(half)).float().numpy()


def autocast(estimator: Any, dtype: str | None) -> Any:
    """``torch.autocast`` on the estimator's device for ``dtype`` (bf16/fp16); ``None``: no-op."""
    import contextlib

    import torch

    if dtype is None:
        return contextlib.nullcontext()
    device = torch.device(getattr(estimator, "device", None) or "cpu")
    return torch.autocast(device.type, dtype={"bf16": torch.bfloat16, "fp16": torch.float16}[dtype])


def _to_tensor(images: Sequence[Image.Image]) -> Any:
    import torch

    arrays = np.stack([np.asarray(im.convert("RGB"), dtype=np.uint8) for im in images])
    return torch.from_numpy(arrays).permute(0, 3, 1, 2).float()


@dataclass
class FlowPair:
    """One flow to compute: the images and their digests (digests name the cache entry)."""

    src: Image.Image
    dst: Image.Image
    src_digest: str
    dst_digest: str


@dataclass
class FlowService:
    """Computes flows through one estimator, in batches of equal-size pairs, through the cache.

    ``root`` is the cache folder (``None``: no disk cache). ``computed`` counts the pairs the
    estimator actually ran on; ``hits`` those served from the cache or from this run's memory.
    ``dtype``: autocast dtype (see the module docstring).
    """

    estimator: FlowEstimator
    spec: PluginSpec
    args: dict[str, Any]
    root: Path | None
    batch_size: int = 8
    computed: int = 0
    hits: int = 0
    dtype: str | None = None
    _memory: dict[str, np.ndarray] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        from mebench.errors import MebenchError

        if self.batch_size < 1:
            raise MebenchError(f"the flow batch size must be at least 1, got {self.batch_size}",
                               where="--flow-batch-size")
        if self.dtype in (None, "fp32"):
            self.dtype = None
        elif self.dtype not in AUTOCAST_DTYPES:
            raise MebenchError(f"unknown flow dtype {self.dtype!r}", where="--flow-dtype",
                               hint="choose fp32, bf16 or fp16")
        elif not getattr(self.estimator, "supports_autocast", False):
            raise MebenchError(f"flow estimator {self.spec.name!r} does not run under autocast",
                               where="--flow-dtype", hint="leave --flow-dtype at fp32")

    @property
    def identity(self) -> dict[str, Any]:
        ident = {**self.spec.cache_identity, "args": self.args,
                 "estimator_version": str(getattr(self.estimator, "version", ""))}
        if self.dtype is not None:  # float32 keys stay as they were before dtypes existed
            ident["autocast"] = self.dtype
        return ident

    def key(self, src_digest: str, dst_digest: str) -> str:
        blob = json.dumps({"flow": self.identity, "src": src_digest, "dst": dst_digest},
                          sort_keys=True, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()

    def _path(self, key: str) -> Path | None:
        return None if self.root is None else self.root / "flow" / key[:2] / f"{key}.npy"

    def _load(self, key: str) -> np.ndarray | None:
        if key in self._memory:
            return self._memory[key]
        path = self._path(key)
        if path is None or not path.is_file():
            return None
        try:
            flow = _widen(np.load(path))
        except (OSError, ValueError):  # a torn or corrupt entry is recomputed
            return None
        self._memory[key] = flow
        return flow

    def _store(self, key: str, flow: np.ndarray) -> np.ndarray:
        import torch

        half = torch.from_numpy(np.ascontiguousarray(flow)).half()  # numpy's cast is ~50x slower
        path = self._path(key)
        if path is not None:
            buf = io.BytesIO()
            np.save(buf, half.numpy())
            atomic_write_bytes(path, buf.getvalue())
        stored = half.float().numpy()
        self._memory[key] = stored
        return stored

    def flows(self, pairs: Sequence[FlowPair]) -> list[np.ndarray]:
        """``[2, H, W]`` float32 flows for ``pairs``, in order."""
        keys = [self.key(p.src_digest, p.dst_digest) for p in pairs]
        result: dict[str, np.ndarray] = {}
        todo: dict[tuple[int, int], list[int]] = {}
        pending: set[str] = set()
        for i, key in enumerate(keys):
            if key in result or key in pending:
                continue
            cached = self._load(key)
            if cached is not None:
                result[key] = cached
                self.hits += 1
            else:
                pending.add(key)
                todo.setdefault(pairs[i].src.size, []).append(i)
        for indices in todo.values():
            for start in range(0, len(indices), self.batch_size):
                chunk = indices[start:start + self.batch_size]
                src = _to_tensor([pairs[i].src for i in chunk])
                dst = _to_tensor([pairs[i].dst for i in chunk])
                with autocast(self.estimator, self.dtype):
                    out = self.estimator.estimate(src, dst)
                out = out.detach().float().cpu().numpy()
                self.computed += len(chunk)
                for i, flow in zip(chunk, out):
                    result[keys[i]] = self._store(keys[i], flow)
        return [result[k] for k in keys]
