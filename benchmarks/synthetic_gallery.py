"""Contact sheet of the first synthetic samples (source | target | flow) and generation timing.

Usage: python benchmarks/synthetic_gallery.py [OUT.png]   (default /tmp/synthetic_gallery.png)
Prints JSON {"path": ..., "seconds_for_60": ...}.
"""

from __future__ import annotations

import json
import sys
import time

import cv2
import numpy as np
from numpy.typing import NDArray

from mebench.synthetic import generate, generate_sample


def flow_to_rgb(flow: NDArray[np.float32], max_mag: float | None = None) -> NDArray[np.uint8]:
    """HSV coding: hue = direction, value = magnitude (normalised by ``max_mag``)."""
    mag, ang = cv2.cartToPolar(flow[0], flow[1], angleInDegrees=True)
    scale = max_mag if max_mag else max(float(mag.max()), 1e-6)
    hsv = np.zeros((*flow.shape[1:], 3), dtype=np.uint8)
    hsv[..., 0] = (ang / 2).astype(np.uint8)
    hsv[..., 1] = 255
    hsv[..., 2] = np.clip(mag / scale * 255, 0, 255).astype(np.uint8)
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)


def contact_sheet(count: int = 6, size: int = 256) -> NDArray[np.uint8]:
    rows = []
    for i in range(count):
        s = generate_sample(i, size=size)
        row = np.concatenate([np.asarray(s.source), np.asarray(s.target), flow_to_rgb(s.flow)], 1)
        row = np.ascontiguousarray(row)
        cv2.putText(row, f"{s.id} {s.category}: {s.instruction}", (4, 14),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 255), 1, cv2.LINE_AA)
        rows.append(row)
    return np.concatenate(rows, 0)


def main(argv: list[str]) -> None:
    path = argv[1] if len(argv) > 1 else "/tmp/synthetic_gallery.png"
    sheet = contact_sheet()
    cv2.imwrite(path, cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR))
    start = time.perf_counter()
    generate(60)
    print(json.dumps({"path": path, "seconds_for_60": round(time.perf_counter() - start, 3)}))


if __name__ == "__main__":
    main(sys.argv)
