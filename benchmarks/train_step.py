"""Seconds and peak memory per MotionNFT optimisation step: the toy backbone and tiny seeded
FLUX.1 Kontext and Qwen-Image-Edit-2509 pipelines (the editors' test builders,
``tests/plugins/editors/tiny_pipelines.py``), 32x32 images, motion reward (opencv-dis) only.

Each backbone runs in its own subprocess (so the process's peak RSS, ``ru_maxrss``, is its own):
build the trainer from its recipe, one warm-up step, then ``--steps`` timed steps
(``trainer.train_step``, the whole step: sampling, rewards, loss, AdamW, old-policy update).
Reported per backbone: median and mean seconds per step, the peak RSS of the process (MiB), that
peak above the RSS after importing torch and mebench (model, data, optimiser state, activations), its growth over
the timed steps, and on CUDA ``torch.cuda.max_memory_allocated`` (MiB).

Usage: python benchmarks/train_step.py [--steps N] [--device cpu|cuda] [--threads T]
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RES = 32


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # kB on Linux


TINY = {  # backbone -> (recipe, family in tiny_pipelines.BUILDERS, extra settings)
    "flux-kontext": ("motionnft-flux-kontext", "flux-kontext", []),
    "qwen-image-edit": ("motionnft", "qwen-edit-plus",
                        [f"backbone.args.condition_area={56 * 56}"]),
}


def _tiny_settings(backbone: str, tmp: Path) -> tuple[str, list[str]]:
    sys.path.insert(0, str(ROOT / "tests" / "plugins" / "editors"))
    import tiny_pipelines

    recipe, family, extra = TINY[backbone]
    model = tiny_pipelines.save(tiny_pipelines.BUILDERS[family](), tmp / backbone)

    data = tiny_pipelines.write_square_pairs(tmp / "train.parquet", size=RES)
    return recipe, [
        *extra, f"backbone.model={model}", "dataset.source=parquet", f"dataset.path={data}",
        f"dataset.resolution={RES}",
        "rewards=[{name: motion, weight: 1.0, args: {flow: opencv-dis}}]",
        "lora.rank=4", "lora.alpha=8", "sampling.num_steps=2", "sampling.group_size=4",
        "sampling.groups_per_step=2", "group_filter.enabled=false",
        "training.gradient_checkpointing=false", "training.mixed_precision=fp32"]


def measure(backbone: str, *, steps: int, device: str, threads: int) -> dict[str, Any]:
    import torch

    from mebench.plugin_manager import get_plugin_manager
    from mebench.trainers.build import build_trainer
    from mebench.trainers.recipe import builtin_recipe_dir, load_recipe_file

    torch.set_num_threads(threads)
    rss_imported = _rss_mib()  # after importing torch and mebench
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        recipe, sets = ("toy-blob", []) if backbone == "toy-blob" else _tiny_settings(backbone,
                                                                                       tmp)
        sets = [*sets, f"training.max_steps={steps + 1}", f"training.device={device}"]
        config = load_recipe_file(builtin_recipe_dir() / f"{recipe}.yaml", overrides=sets)
        trainer = build_trainer(config, output=tmp / "run", pm=get_plugin_manager(),
                                progress=False)
        cuda = device.startswith("cuda")
        trainer.train_step(0)  # warm-up
        rss_before = _rss_mib()
        if cuda:
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        seconds = []
        for step in range(1, steps + 1):
            started = time.perf_counter()
            trainer.train_step(step)
            if cuda:
                torch.cuda.synchronize()
            seconds.append(time.perf_counter() - started)
        params = sum(p.numel() for p in trainer.module.parameters())
        trained = sum(p.numel() for p in trainer.params.values())
    result: dict[str, Any] = {
        "backbone": backbone, "device": device, "threads": threads, "steps": steps,
        "images_per_step": config.sampling.groups_per_step * config.sampling.group_size,
        "sampling_steps": config.sampling.num_steps,
        "seconds_median": round(statistics.median(seconds), 4),
        "seconds_mean": round(statistics.fmean(seconds), 4),
        "peak_rss_mib": round(_rss_mib(), 1),
        "peak_rss_above_imports_mib": round(_rss_mib() - rss_imported, 1),
        "rss_growth_during_steps_mib": round(_rss_mib() - rss_before, 1),
        "parameters": params, "lora_parameters": trained}
    if cuda:
        result["cuda_max_allocated_mib"] = round(torch.cuda.max_memory_allocated() / 2**20, 1)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--one", choices=("toy-blob", *TINY), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure(args.one, steps=args.steps, device=args.device,
                                 threads=args.threads)))
        return
    results = []
    for backbone in ("toy-blob", *TINY):
        out = subprocess.run([sys.executable, __file__, "--one", backbone, "--steps",
                              str(args.steps), "--device", args.device, "--threads",
                              str(args.threads)], capture_output=True, text=True, check=True)
        results.append(json.loads(out.stdout.strip().splitlines()[-1]))
    print(json.dumps({"benchmark": "train_step", "results": results}, indent=2))


if __name__ == "__main__":
    main()
