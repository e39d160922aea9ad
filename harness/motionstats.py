"""How much a dataset moves: the MotionEdit paper's Figure 6 measure.

For each pair, the mean length of the input -> target optical flow over the image, divided by the
image diagonal ``sqrt(H^2 + W^2)`` (the paper reports 0.19 for MotionEdit against about 0.05 for
earlier editing datasets). The flow comes from a registered estimator through the same
content-addressed cache as a run's ground-truth flow (so the two share entries), or, for tasks that
know it, from the exact flow (``flow="exact"``). A target whose size differs from its input is
resized (bilinear) to the input's size first, as the scorer does.
"""

from __future__ import annotations

import glob
import math
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from mebench.errors import MebenchError

if TYPE_CHECKING:
    from mebench.flowcache import FlowService
    from mebench.plugin_manager import MebenchPluginManager
    from mebench.types import Sample

EXACT = "exact"
_PAIR_RE = re.compile(r"^(?P<id>.+)_input\.(?P<ext>png|jpg|jpeg|webp)$", re.IGNORECASE)
CHUNK = 16


def normalised_magnitude(flow: np.ndarray) -> float:
    """Mean per-pixel flow length of a ``[2, H, W]`` flow, divided by the image diagonal."""
    if flow.ndim != 3 or flow.shape[0] != 2:
        raise ValueError(f"expected a [2, H, W] flow, got shape {flow.shape}")
    h, w = flow.shape[1:]
    length = np.sqrt(flow[0].astype(np.float64) ** 2 + flow[1].astype(np.float64) ** 2)
    return float(length.mean() / math.hypot(h, w))


def distribution(values: Sequence[float]) -> dict[str, Any]:
    """mean, std (n - 1), median, p10, p90, min, max and n, rounded to 6 places."""
    data = np.asarray(values, dtype=np.float64)
    if data.size == 0:
        return {"n": 0, "mean": None, "std": None, "median": None, "p10": None, "p90": None,
                "min": None, "max": None}
    p10, median, p90 = np.percentile(data, [10, 50, 90])
    return {"n": int(data.size), "mean": _r(data.mean()),
            "std": _r(data.std(ddof=1)) if data.size > 1 else None,
            "median": _r(median), "p10": _r(p10), "p90": _r(p90),
            "min": _r(data.min()), "max": _r(data.max())}


def _r(x: float) -> float:
    return round(float(x), 6)


def summarise(records: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Overall and per-category distributions of the records' ``motion`` values."""
    categories = sorted({r["category"] for r in records if r["category"] is not None})
    return {
        "overall": distribution([r["motion"] for r in records]),
        "by_category": {c: distribution([r["motion"] for r in records if r["category"] == c])
                        for c in categories},
    }


def pairs_from_folder(folder: Path) -> list[Sample]:
    """Samples from ``<id>_input.<ext>`` / ``<id>_target.<ext>`` files (png, jpg, webp)."""
    from mebench.images import ImageRef
    from mebench.types import Sample

    if not folder.is_dir():
        raise MebenchError(f"{str(folder)!r} is not a folder", where="--pairs")
    samples = []
    for path in sorted(folder.iterdir()):
        match = _PAIR_RE.match(path.name)
        if match is None:
            continue
        sid = match["id"]
        targets = [p for p in folder.glob(f"{glob.escape(sid)}_target.*")
                   if p.suffix.lower().lstrip(".") in ("png", "jpg", "jpeg", "webp")]
        if not targets:
            raise MebenchError(f"{path.name} has no {sid}_target.png beside it", where=str(folder),
                               hint="each <id>_input.png needs an <id>_target.png")
        samples.append(Sample(id=sid, instruction="",
                              source=ImageRef(path=path, label=f"pair {sid!r} input"),
                              target=ImageRef(path=sorted(targets)[0],
                                              label=f"pair {sid!r} target")))
    if not samples:
        raise MebenchError(f"no <id>_input.png files in {str(folder)!r}", where="--pairs")
    return samples


def build_flow_service(pm: MebenchPluginManager, name: str, args: dict[str, Any], *,
                       device: str | None, batch_size: int, cache_dir: Path | None,
                       use_cache: bool) -> FlowService:
    """The same flow service (and cache) a run with this estimator would use."""
    from mebench.flowcache import FlowService, mebench_home

    spec = pm.get("flow", name)
    estimator = spec.build(args, device=device)
    root = (cache_dir or mebench_home() / "cache") if use_cache else None
    return FlowService(estimator, spec, args, root, batch_size=batch_size)


def measure(samples: Sequence[Sample], flows: FlowService | None, *,
            progress: bool = True) -> list[dict[str, Any]]:
    """One record per sample: id, category, size and ``motion`` (normalised magnitude).

    ``flows=None`` uses each sample's exact flow (an error naming the first sample without one).
    """
    from mebench.runner import progress_bar

    if flows is None:
        missing = next((s.id for s in samples if s.flow is None), None)
        if missing is not None:
            raise MebenchError("this dataset has no exact flow", where=f"sample {missing!r}",
                               hint="use a flow estimator (--flow opencv-dis)")
    records: list[dict[str, Any]] = []
    bar = progress_bar(len(samples), "motion-stats", progress)
    for start in range(0, len(samples), CHUNK):
        chunk = samples[start:start + CHUNK]
        if flows is None:
            computed = [s.flow for s in chunk]
        else:
            computed = flows.flows([_pair(s) for s in chunk])
        for s, flow in zip(chunk, computed):
            assert flow is not None
            records.append({"id": s.id, "category": s.category,
                            "size": [int(flow.shape[2]), int(flow.shape[1])],
                            "motion": _r(normalised_magnitude(flow))})
        bar.update(len(chunk))
    bar.close()
    return records


def _pair(sample: Sample) -> Any:
    from PIL import Image

    from mebench.flowcache import FlowPair
    from mebench.images import pixel_digest

    if sample.target is None:
        raise MebenchError("the sample has no target image", where=f"sample {sample.id!r}")
    source = sample.source.load()
    target = sample.target.load()
    if target.size != source.size:
        target = target.resize(source.size, Image.Resampling.BILINEAR)
        return FlowPair(source, target, sample.source.digest, pixel_digest(target))
    return FlowPair(source, target, sample.source.digest, sample.target.digest)


def histogram_png(values: Sequence[float], path: Path, *, bins: int = 20,
                  title: str = "input-target motion / image diagonal") -> None:
    """A bar histogram drawn with PIL (no matplotlib), with the mean marked in red."""
    from PIL import Image, ImageDraw

    from mebench.images import save_png_atomic

    data = np.asarray(values, dtype=np.float64)
    if data.size == 0:
        raise MebenchError("no values to draw", where="--hist")
    hi = float(data.max()) if data.max() > 0 else 1.0
    counts, edges = np.histogram(data, bins=bins, range=(0.0, hi))
    width, height, left, right, top, bottom = 720, 420, 60, 20, 40, 50
    im = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(im)
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = max(int(counts.max()), 1)
    bar_w = plot_w / bins
    for i, c in enumerate(counts):
        x0 = left + i * bar_w
        y0 = top + plot_h * (1 - c / peak)
        draw.rectangle([x0 + 1, y0, x0 + bar_w - 1, top + plot_h], fill=(70, 110, 180))
    draw.line([left, top + plot_h, left + plot_w, top + plot_h], fill="black")
    draw.line([left, top, left, top + plot_h], fill="black")
    mean_x = left + plot_w * float(data.mean()) / hi
    draw.line([mean_x, top, mean_x, top + plot_h], fill=(200, 30, 30), width=2)
    for k in range(0, bins + 1, max(1, bins // 5)):
        x = left + k * bar_w
        draw.line([x, top + plot_h, x, top + plot_h + 4], fill="black")
        draw.text((x - 14, top + plot_h + 8), f"{edges[k]:.3g}", fill="black")
    draw.text((left - 40, top - 4), str(peak), fill="black")
    draw.text((left - 20, top + plot_h - 8), "0", fill="black")
    draw.text((left, 10), f"{title}   n={data.size}  mean={data.mean():.4f}  "
              f"median={np.median(data):.4f}", fill="black")
    save_png_atomic(im, path)
