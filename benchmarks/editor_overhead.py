"""The harness's time per edited sample against a bare pipeline call, on the tiny test pipelines.

For each diffusers family, on the same synthetic samples (64 px, 4 steps, resolution 64), with
warm pipelines (two edits are made before timing starts, as the first calls of a pipeline pay
for lazy initialisation):

- ``bare_ms``: the median time of ``pipe(**kwargs)`` alone, made right after each sample's edit
  on the same (warm) pipeline object with every argument (resized image, prompt, generator)
  prepared beforehand: the floor.
- ``adapter_ms``: time per sample inside the adapter's ``edit`` during ``mebench run`` (the bare
  call plus building its arguments, resizing, the per-sample generator).
- ``harness_ms``: the generation stage of ``mebench run`` per sample, without the one-time
  loading and the bare calls made aside: ``(T_generate - T_build - T_aside) / n``. On top of
  ``edit`` it reads the source, builds the request and writes the PNG atomically (with fsync).
- ``overhead_pct`` = ``harness_ms / bare_ms - 1`` and ``fixed_ms`` = ``harness_ms - bare_ms``;
  ``outside_edit_ms`` = ``harness_ms - adapter_ms``, the runner's own cost per sample, measured
  within one run (so less noisy than the comparison with the bare calls).

The run goes through the real CLI; the model is a thin in-process plugin, ``timed-<editor>``,
that builds the registered editor, clocks its ``edit`` and makes the bare calls beside it.
Each figure is the best of ``--repeats`` runs, as a shared machine is noisy. Tiny models make
the per-call work as small as it gets, so the relative overhead is an upper bound of that on
real models (where a call takes seconds). Torch runs on one thread. Prints one JSON object.

    python benchmarks/editor_overhead.py [--families qwen-edit,flux-kontext,pix2pix]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from mebench.hookspecs import Register, hookimpl

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "plugins" / "editors"))

EDITOR_OF_FAMILY = {"qwen-edit": "qwen-image-edit", "qwen-edit-plus": "qwen-image-edit-2509",
                    "flux-kontext": "flux-kontext", "pix2pix": "instruct-pix2pix",
                    "flux2-klein": "flux2-klein", "longcat-edit": "longcat-image-edit"}
STEPS, RESOLUTION, SIZE = 4, 64, 64


class TimedEditor:
    """Wraps an editor: clocks its ``edit``, then makes the same edits with bare pipeline calls
    (timed apart, and taken out of the generation stage's time)."""

    def __init__(self, *, inner: Any, clock: dict[str, Any]) -> None:
        self.inner = inner
        self.clock = clock

    def edit(self, requests: Any) -> Any:
        t0 = time.perf_counter()
        out = self.inner.edit(requests)
        t1 = time.perf_counter()
        self.clock["edit"] += t1 - t0
        for r in requests:
            self.clock["bare"].append(_bare_call_seconds(self.inner, r))
        self.clock["aside"] += time.perf_counter() - t1
        return out


def _bare_call_seconds(model: Any, request: Any) -> float:
    """One ``model.pipe(**kwargs)`` for ``request``, its arguments prepared before the clock."""
    import torch

    gen = torch.Generator().manual_seed(request.seed)
    call = model.family.build(model.pipe, model._settings, [request.source.convert("RGB")],
                              [request.instruction], [gen])
    t0 = time.perf_counter()
    with torch.inference_mode():
        if call.context is not None:
            with call.context:
                model.pipe(**call.kwargs)
        else:
            model.pipe(**call.kwargs)
    return time.perf_counter() - t0


class TimedPlugin:
    """Registers ``timed-<name>``: build the real editor, warm it up, and clock it."""

    def __init__(self, *, name: str, clock: dict[str, Any]) -> None:
        self.name = name
        self.clock = clock

    @hookimpl
    def mebench_register_models(self, register: Register) -> None:
        from mebench.plugin_manager import get_plugin_manager
        from mebench.types import EditRequest

        def factory(*, model_path: str, device: str | None = None,
                    batch_size: int | None = None) -> TimedEditor:
            from PIL import Image

            t0 = time.perf_counter()
            inner = get_plugin_manager().get("model", self.name).build(
                {"model_path": model_path, "steps": STEPS, "resolution": RESOLUTION},
                device=device, batch_size=batch_size)
            warm = EditRequest(sample_id="warm-up", source=Image.new("RGB", (SIZE, SIZE)),
                               instruction="warm up", seed=0)
            for _ in range(2):
                inner.edit([warm])
            self.clock.update(build=time.perf_counter() - t0, edit=0.0, aside=0.0, bare=[])
            return TimedEditor(inner=inner, clock=self.clock)

        register(f"timed-{self.name}", factory, description="benchmark wrapper")


def _harness(name: str, model_dir: Path, out: Path, n: int) -> dict[str, float]:
    from click.testing import CliRunner

    from mebench.cli.main import build_cli
    from mebench.plugin_manager import get_plugin_manager

    clock: dict[str, Any] = {}
    pm = get_plugin_manager()
    pm.add_plugin(TimedPlugin(name=name, clock=clock), name="bench-timed")
    result = CliRunner().invoke(build_cli(pm), [
        "run", "--task", "motionedit-synthetic", "--limit", str(n), "--model", f"timed-{name}",
        "--model-args", f"model_path={model_dir}", "--dataset-args", f"size={SIZE}",
        "--output", str(out), "--no-progress", "--no-cache"], obj=pm, catch_exceptions=False)
    if result.exit_code != 0:
        raise SystemExit(result.output)
    (run_dir,) = out.iterdir()
    generate = float(json.loads((run_dir / "run.json").read_text())["timings"]["generate"])
    return {"harness_ms": 1000 * (generate - clock["build"] - clock["aside"]) / n,
            "adapter_ms": 1000 * clock["edit"] / n,
            "bare_ms": 1000 * statistics.median(clock["bare"])}


def measure(family: str, root: Path, n: int, repeats: int) -> dict[str, Any]:
    import tiny_pipelines

    model_dir = tiny_pipelines.TinyModels(root)(family)
    name = EDITOR_OF_FAMILY[family]
    runs = [_harness(name, model_dir, root / f"{family}-{i}", n) for i in range(repeats)]
    b, a, h = (min(r[k] for r in runs) for k in ("bare_ms", "adapter_ms", "harness_ms"))
    return {"editor": name, "bare_ms": round(b, 2), "adapter_ms": round(a, 2),
            "harness_ms": round(h, 2), "overhead_pct": round(100 * (h / b - 1), 2),
            "fixed_ms": round(h - b, 2), "outside_edit_ms": round(h - a, 2)}


def main() -> None:
    import torch

    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--families", default="qwen-edit,flux-kontext,pix2pix")
    parser.add_argument("--samples", type=int, default=12)
    parser.add_argument("--repeats", type=int, default=3)
    opts = parser.parse_args()
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        rows = [measure(f, Path(tmp), opts.samples, opts.repeats)
                for f in opts.families.split(",")]
    print(json.dumps({"steps": STEPS, "resolution": RESOLUTION, "image_size": SIZE,
                      "torch_threads": 1, "samples": opts.samples, "repeats": opts.repeats,
                      "editors": rows}, indent=2))


if __name__ == "__main__":
    main()
