"""OpenCV's weight-free dense optical flow: DIS and Farneback.

Both work on 8-bit grey images, one pair at a time, on the CPU; the batch is a loop. The result is
forward flow from ``src`` to ``dst`` in pixels, x first, as the flow contract asks.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import cv2
import numpy as np
import torch

_DIS_PRESETS = {
    "ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST,
    "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
    "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM,
}


def _to_grey(batch: torch.Tensor) -> list[np.ndarray]:
    """``[B, 3, H, W]`` float RGB 0-255 -> B uint8 grey images."""
    if batch.ndim != 4 or batch.shape[1] != 3:
        raise ValueError(f"expected a [B, 3, H, W] RGB batch, got shape {tuple(batch.shape)}")
    rgb = batch.detach().to("cpu", torch.float32).clamp(0, 255).round().to(torch.uint8)
    hwc = rgb.permute(0, 2, 3, 1).contiguous().numpy()
    return [cv2.cvtColor(img, cv2.COLOR_RGB2GRAY) for img in hwc]


class _OpenCVFlow(ABC):
    """Shared batching: subclasses provide ``_pair(src_grey, dst_grey) -> [H, W, 2]``."""

    settings: dict[str, Any]

    @property
    def version(self) -> str:
        return f"opencv-{cv2.__version__}"

    @abstractmethod
    def _pair(self, src: np.ndarray, dst: np.ndarray) -> np.ndarray: ...

    def estimate(self, src: torch.Tensor, dst: torch.Tensor) -> torch.Tensor:
        if src.shape != dst.shape:
            raise ValueError(f"src and dst shapes differ: {tuple(src.shape)} vs {tuple(dst.shape)}")
        flows = [self._pair(a, b) for a, b in zip(_to_grey(src), _to_grey(dst))]
        stacked = np.stack(flows).transpose(0, 3, 1, 2)  # [B, 2, H, W]
        return torch.from_numpy(np.ascontiguousarray(stacked, dtype=np.float32))


class DISFlow(_OpenCVFlow):
    """Dense Inverse Search (Kroeger et al., 2016) with one of OpenCV's presets."""

    def __init__(self, *, preset: str = "medium") -> None:
        if preset not in _DIS_PRESETS:
            raise ValueError(f"unknown DIS preset {preset!r}; choose one of {sorted(_DIS_PRESETS)}")
        self.settings = {"preset": preset}
        self._dis = cv2.DISOpticalFlow_create(_DIS_PRESETS[preset])

    def _pair(self, src: np.ndarray, dst: np.ndarray) -> np.ndarray:
        return self._dis.calc(src, dst, None)


class FarnebackFlow(_OpenCVFlow):
    """Farneback's polynomial-expansion flow (2003)."""

    def __init__(self, *, pyr_scale: float = 0.5, levels: int = 5, winsize: int = 15,
                 iterations: int = 3, poly_n: int = 7, poly_sigma: float = 1.5) -> None:
        self.settings = {"pyr_scale": pyr_scale, "levels": levels, "winsize": winsize,
                         "iterations": iterations, "poly_n": poly_n, "poly_sigma": poly_sigma}

    def _pair(self, src: np.ndarray, dst: np.ndarray) -> np.ndarray:
        s = self.settings
        return cv2.calcOpticalFlowFarneback(src, dst, None, s["pyr_scale"], s["levels"],
                                            s["winsize"], s["iterations"], s["poly_n"],
                                            s["poly_sigma"], 0)
