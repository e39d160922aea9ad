"""MotionNFT on the toy: the per-step mean reward, trained up and (reward inverted) down.

Three runs: the ``toy-blob`` recipe (closed-form blob reward), the same with the reward's weight
-1 (the curve plotted is still the un-inverted reward), and ``toy-blob-motion`` (the core motion
reward measured with the ``opencv-dis`` flow plugin). Draws the curves into a PNG with PIL (no
matplotlib) and prints JSON: for each run the per-step mean reward, first/last-10 means and
seconds (the first run's include importing peft).

Usage: python benchmarks/nft_toy_curve.py [OUT.png] [--steps N]   (default /tmp/nft_toy_curve.png)
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from PIL import Image, ImageDraw

from mebench.plugin_manager import get_plugin_manager
from mebench.trainers.build import run_recipe
from mebench.trainers.recipe import builtin_recipe_dir, load_recipe_file

RUNS = {  # label: (recipe, overrides, reward plotted, colour)
    "blob-target": ("toy-blob", [], "blob-target", (31, 119, 180)),
    "blob-target inverted": ("toy-blob", ["rewards.0.weight=-1"], "blob-target", (214, 39, 40)),
    "motion (opencv-dis)": ("toy-blob-motion", [], "motion", (44, 160, 44)),
}


def train_curve(recipe: str, overrides: list[str], reward: str,
                steps: int) -> tuple[list[float], float]:
    config = load_recipe_file(builtin_recipe_dir() / f"{recipe}.yaml",
                              overrides=[*overrides, f"training.max_steps={steps}",
                                         f"training.checkpoint_every={steps}"])
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        run_recipe(config, output=Path(tmp), pm=get_plugin_manager(), progress=False)
        seconds = time.perf_counter() - started
        lines = (Path(tmp) / "train_log.jsonl").read_text().splitlines()
    return [round(json.loads(x)["rewards"][reward], 4) for x in lines], seconds


def draw(curves: dict[str, list[float]], colours: dict[str, tuple[int, int, int]],
         path: Path, width: int = 720, height: int = 420) -> None:
    image = Image.new("RGB", (width, height), "white")
    d = ImageDraw.Draw(image)
    left, right, top, bottom = 60, width - 20, 40, height - 50
    d.rectangle([left, top, right, bottom], outline="black")
    steps = max(len(c) for c in curves.values())
    for k in range(6):  # y grid 0, 0.2, ..., 1
        y = bottom - (bottom - top) * k / 5
        d.line([left, y, right, y], fill=(220, 220, 220))
        d.text((left - 30, y - 6), f"{k / 5:.1f}", fill="black")
    for k in range(0, steps + 1, max(1, steps // 8)):
        x = left + (right - left) * k / max(steps - 1, 1)
        d.text((x - 6, bottom + 6), str(k), fill="black")
    d.text((left + (right - left) // 2 - 40, bottom + 24), "training step", fill="black")
    d.text((left, 10), "MotionNFT on the toy: mean reward per step", fill="black")
    for i, (name, values) in enumerate(curves.items()):
        points = [(left + (right - left) * s / max(steps - 1, 1),
                   bottom - (bottom - top) * min(max(v, 0.0), 1.0)) for s, v in enumerate(values)]
        d.line(points, fill=colours[name], width=2)
    legend_top = (top + bottom) // 2 - 10  # mid-right: clear of the curves' ends
    d.rectangle([right - 215, legend_top, right - 10, legend_top + 16 * len(curves) + 8],
                fill="white", outline=(160, 160, 160))
    for i, name in enumerate(curves):
        y = legend_top + 12 + 16 * i
        d.line([right - 205, y, right - 185, y], fill=colours[name], width=3)
        d.text((right - 180, y - 6), name, fill="black")
    image.save(path)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("out", nargs="?", default="/tmp/nft_toy_curve.png")
    parser.add_argument("--steps", type=int, default=80)
    args = parser.parse_args()
    curves, report = {}, {}
    for name, (recipe, overrides, reward, _) in RUNS.items():
        curve, seconds = train_curve(recipe, overrides, reward, args.steps)
        curves[name] = curve
        report[name] = {"first10_mean": round(sum(curve[:10]) / 10, 4),
                        "last10_mean": round(sum(curve[-10:]) / 10, 4),
                        "seconds": round(seconds, 2), "per_step_mean_reward": curve}
    draw(curves, {name: colour for name, (*_, colour) in RUNS.items()}, Path(args.out))
    print(json.dumps({"png": args.out, "steps": args.steps, "runs": report}))


if __name__ == "__main__":
    main()
