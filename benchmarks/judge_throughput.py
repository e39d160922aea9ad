"""Judge-stage throughput against the local fake judge API with injected latency.

Runs the real judge stage (mebench.judging.stage.JudgeStage: asyncio semaphore, the real
``openai`` client over HTTP, the sqlite response cache, image encoding in worker threads) with the
``openai-compatible`` judge against tests/servers/judge_api.py, served in its own process with
200 ms latency per request. For each concurrency it judges ``waves * concurrency`` samples with
an empty cache and reports requests per second and the fraction of the ideal
(``concurrency / latency``), with the CPU time the client process spent per request (the
bound on a busy machine: one Python process cannot exceed ``1000 / cpu_ms`` requests per second
of one core). Prints one JSON object.

    python benchmarks/judge_throughput.py [--latency 0.2] [--levels 1,8,32,64] [--waves 8]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def _serve(latency: float) -> tuple[subprocess.Popen[str], int]:
    proc = subprocess.Popen([sys.executable, str(REPO / "tests" / "servers" / "judge_api.py"),
                             "--latency", str(latency)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line.startswith("PORT "):
        proc.kill()
        raise RuntimeError(f"the fake judge API did not start: {line!r}")
    return proc, int(line.split()[1])


def _samples(root: Path, n: int) -> tuple[list, list[dict], object]:
    """``n`` tiny distinct samples, their edited outputs on disk, and motion-stage records."""
    import hashlib

    import numpy as np
    from PIL import Image

    from mebench.images import ImageRef, save_png_atomic
    from mebench.rundir import RunDir
    from mebench.types import Sample

    rd = RunDir(root / "run")
    rng = np.random.default_rng(0)
    samples, records = [], []
    for i in range(n):
        src = Image.fromarray(rng.integers(0, 255, (32, 32, 3), dtype=np.uint8))
        out = Image.fromarray(rng.integers(0, 255, (32, 32, 3), dtype=np.uint8))
        sid = f"b{i:05d}"
        save_png_atomic(out, rd.output_path(sid))
        samples.append(Sample(sid, f"Raise the left arm ({i}).", ImageRef.of(src), None))
        sha = hashlib.sha256(rd.output_path(sid).read_bytes()).hexdigest()
        records.append({"id": sid, "status": "ok", "metrics": {}, "output_sha256": sha})
    return samples, records, rd


def _level(port: int, concurrency: int, n: int, latency: float, tmp: Path) -> dict:
    from mebench.judging.stage import JudgeChoice, JudgeStage, build_judge
    from mebench.plugin_manager import get_plugin_manager

    root = tmp / f"c{concurrency}"
    samples, records, rd = _samples(root, n)
    choice = JudgeChoice("openai-compatible", model="bench-model",
                         args={"base_url": f"http://127.0.0.1:{port}/v1"})
    setup = build_judge(get_plugin_manager(), choice, concurrency=concurrency,
                        cache_root=root / "cache")
    stage = JudgeStage(setup, rd, progress=False)
    t0, c0 = time.perf_counter(), time.process_time()
    judged, block = stage.run(samples, records)
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
    if block["n_failed"] or stage.counts()["requests"] != n:
        raise RuntimeError(f"concurrency {concurrency}: {block['n_failed']} failed, "
                           f"{stage.counts()}")
    rps = n / elapsed
    ideal = concurrency / latency
    return {"concurrency": concurrency, "requests": n, "seconds": round(elapsed, 3),
            "requests_per_s": round(rps, 2), "ideal_per_s": round(ideal, 2),
            "fraction_of_ideal": round(rps / ideal, 3),
            "client_cpu_ms_per_request": round(1000 * cpu / n, 2),
            # what one free core could sustain at this CPU cost, as a fraction of the ideal
            "cpu_bound_fraction_of_ideal": round(min(1.0, n / cpu / ideal), 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description="judge-stage throughput")
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--levels", default="1,8,32,64")
    parser.add_argument("--waves", type=int, default=8,
                        help="requests per level = waves * concurrency (at least 32)")
    args = parser.parse_args()
    proc, port = _serve(args.latency)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            os.environ["MEBENCH_HOME"] = str(Path(tmp) / "home")
            levels = [int(c) for c in args.levels.split(",")]
            rows = [_level(port, c, max(32, args.waves * c), args.latency, Path(tmp))
                    for c in levels]
    finally:
        proc.terminate()
        proc.wait(10)
    print(json.dumps({
        "benchmark": "judge_throughput",
        "judge": "openai-compatible (openai client over HTTP to tests/servers/judge_api.py, "
                 "own process)",
        "latency_s": args.latency,
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "load_average_1min": round(os.getloadavg()[0], 2),
        "levels": rows,
        "min_fraction_of_ideal": min(r["fraction_of_ideal"] for r in rows),
    }, indent=2))


if __name__ == "__main__":
    main()
