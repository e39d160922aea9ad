"""Built-in optical-flow estimators: registration only (OpenCV's in :mod:`.opencv`)."""

from __future__ import annotations

from typing import Any

from mebench.hookspecs import Register, hookimpl


def _dis(*, preset: str = "medium", device: str | None = None) -> Any:
    from mebench.plugins.flows.opencv import DISFlow

    return DISFlow(preset=preset)


def _farneback(*, pyr_scale: float = 0.5, levels: int = 5, winsize: int = 15,
               iterations: int = 3, poly_n: int = 7, poly_sigma: float = 1.5,
               device: str | None = None) -> Any:
    from mebench.plugins.flows.opencv import FarnebackFlow

    return FarnebackFlow(pyr_scale=pyr_scale, levels=levels, winsize=winsize,
                         iterations=iterations, poly_n=poly_n, poly_sigma=poly_sigma)


@hookimpl
def mebench_register_flow_estimators(register: Register) -> None:
    register("opencv-dis", _dis,
             description="OpenCV DIS optical flow (CPU, no weights; preset=ultrafast|fast|medium).")
    register("opencv-farneback", _farneback,
             description="OpenCV Farneback dense optical flow (CPU, no weights).")
