"""``motionedit-synthetic``: a seeded generator of motion edits with exact optical flow.

``generate_sample(i, seed=..., size=..., fraction=F)`` renders scene ``i`` (a function of
``(seed, i)`` only) with its motion scaled by ``F``; ``generate(n)`` is the first ``n`` samples.
The category of sample ``i`` is ``CATEGORIES[i % 6]``.
"""

from __future__ import annotations

from mebench.synthetic.builder import PALETTE, Scene
from mebench.synthetic.render import (
    MIN_SIZE, RenderedScene, SyntheticSample, generate, generate_sample, render_scene,
)
from mebench.synthetic.scenes import CATEGORIES, sample_scene

__all__ = [
    "CATEGORIES", "MIN_SIZE", "PALETTE", "RenderedScene", "Scene", "SyntheticSample", "generate",
    "generate_sample", "render_scene", "sample_scene",
]
