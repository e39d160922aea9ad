"""What run.json records: the configuration echo, versions, seeds, git hash and timings.

Versions are read from installed distributions' metadata, never by importing the package, so that
recording diffusers' version does not import diffusers.
"""

from __future__ import annotations

import importlib.metadata as md
import platform
import subprocess
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import mebench

if TYPE_CHECKING:
    from mebench.flowcache import FlowService
    from mebench.metrics.flowmetrics import FlowMetric
    from mebench.plugin_manager import PluginSpec
    from mebench.runner import ModelChoice, Runner

TRACKED_DISTRIBUTIONS = ("torch", "torchvision", "diffusers", "transformers", "numpy",
                         "opencv-python-headless", "opencv-python", "Pillow", "datasets")


def _version(dist: str) -> str | None:
    try:
        return md.version(dist)
    except md.PackageNotFoundError:
        return None


def versions(plugin_distributions: dict[str, str | None]) -> dict[str, str | None]:
    found = {d: _version(d) for d in TRACKED_DISTRIBUTIONS}
    return {"python": platform.python_version(), "mebench": mebench.__version__,
            **{d: v for d, v in found.items() if v is not None}, **plugin_distributions}


def git_hash() -> str | None:
    """The commit of the mebench checkout, when it is one."""
    here = Path(mebench.__file__).resolve().parent
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True,
                             text=True, timeout=5, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def run_record(runner: Runner, choice: ModelChoice, spec: PluginSpec, flows: FlowService | None,
               metrics: list[FlowMetric], generation_key: str) -> dict[str, Any]:
    opts = runner.opts
    return {
        "mebench_version": mebench.__version__,
        "command": list(opts.command),
        "task": opts.task.to_dict(),
        "task_hash": opts.task.content_hash(),
        "task_file": str(opts.task.path) if opts.task.path else None,
        "dataset": {"source": opts.dataset.source, "path": opts.dataset.path,
                    "split": opts.dataset.split, "options": dict(opts.dataset.options)},
        "limit": opts.limit,
        "model": choice.name,
        "model_args": choice.args,
        "model_plugin": {"plugin": spec.plugin, "distribution": spec.distribution,
                         "version": spec.version},
        "generation_key": generation_key,
        "seed": runner.seed,
        "device": opts.device,
        "batch_size": opts.batch_size,
        "flow": None if flows is None else flows.identity,
        "metrics": {m.name: m.settings() for m in metrics},
        "versions": versions(runner.pm.distribution_versions()),
        "git": git_hash(),
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
