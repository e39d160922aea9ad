"""Small PNG judge images for the judge plugins' tests."""

from __future__ import annotations

import hashlib
import io

from PIL import Image

from mebench.judging.types import JudgeImage


def judge_image(color: str, size: tuple[int, int]) -> JudgeImage:
    """A plain ``color`` PNG of ``size`` (width, height) with its content hash."""
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, format="PNG")
    return JudgeImage(buf.getvalue(), hashlib.sha256(buf.getvalue()).hexdigest())
