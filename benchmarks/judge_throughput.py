"""Judge-stage throughput against the local fake judge API with injected latency.

Runs the real judge stage (mebench.judging.stage.JudgeStage: ``concurrency`` request slots, the
real ``openai`` client over HTTP, the sqlite response cache, image encoding in a worker thread)
with the ``openai-compatible`` judge against tests/servers/judge_api.py, served in its own process
with ``--latency`` seconds (200 ms) per request. For each concurrency level:

1. one judge is built, as ``mebench run`` builds one for every model of a run;
2. a warm-up: one untimed stage run of ``concurrency`` other samples (imports, the judge's TLS
   context, the server's first connections), like a run's first model. The timed run still opens
   its own connections: the stage makes its client, and so its connection pool, per stage run
   (one event loop each), which every model of a user's run pays too;
3. the timed stage run of ``waves * concurrency`` new samples (at least 32), none of them cached.

Per level it reports requests per second and the fraction of the ideal (``concurrency /
latency``) over the whole timed run (``fraction_of_ideal``, the figure that counts) and over the
replies after the first wave (``steady_fraction_of_ideal``, without the start and the ramp); the
client process's CPU time per request, all its threads and the event loop's thread alone (the
bound: one core sustains at most ``1000 / cpu_ms`` requests per second), the server process's,
the TCP connections the server saw opened during the timed run (kept alive and reused: one per
request slot, ``concurrency``), and the 1-minute load average before the level (the machine may
be shared: a load above its core count slows both processes, and CPU times vary with it). At
low concurrency the CPU per request is higher: the stage run's fixed costs (the client, its
connections, the cache keys) spread over fewer requests, and caches go cold between replies.
``--repeats N`` runs every level N times against the same server. Prints one JSON object.

    python benchmarks/judge_throughput.py [--latency 0.2] [--levels 1,8,32,64] [--waves 16]
                                          [--repeats 1]
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
import urllib.request
from pathlib import Path
from typing import Any

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


def _server_stats(port: int) -> dict[str, Any]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/stats", timeout=10) as reply:
        return json.loads(reply.read())  # type: ignore[no-any-return]


def _samples(root: Path, n: int, seed: int = 0) -> tuple[list, list[dict], object]:
    """``n`` tiny distinct samples, their edited outputs on disk, and motion-stage records."""
    import hashlib

    import numpy as np
    from PIL import Image

    from mebench.images import ImageRef, save_png_atomic
    from mebench.rundir import RunDir
    from mebench.types import Sample

    rd = RunDir(root / "run")
    rng = np.random.default_rng(seed)
    samples, records = [], []
    for i in range(n):
        src = Image.fromarray(rng.integers(0, 255, (32, 32, 3), dtype=np.uint8))
        out = Image.fromarray(rng.integers(0, 255, (32, 32, 3), dtype=np.uint8))
        sid = f"b{seed}-{i:05d}"
        save_png_atomic(out, rd.output_path(sid))
        samples.append(Sample(sid, f"Raise the left arm ({seed}/{i}).", ImageRef.of(src), None))
        sha = hashlib.sha256(rd.output_path(sid).read_bytes()).hexdigest()
        records.append({"id": sid, "status": "ok", "metrics": {}, "output_sha256": sha})
    return samples, records, rd


def _setup(port: int, concurrency: int, root: Path) -> Any:
    from mebench.judging.stage import JudgeChoice, build_judge
    from mebench.plugin_manager import get_plugin_manager

    choice = JudgeChoice("openai-compatible", model="bench-model",
                         args={"base_url": f"http://127.0.0.1:{port}/v1"})
    return build_judge(get_plugin_manager(), choice, concurrency=concurrency,
                       cache_root=root / "cache")


def _level(port: int, concurrency: int, n: int, latency: float, tmp: Path, seed: int) -> dict:
    from mebench.judging.stage import JudgeStage

    load = os.getloadavg()[0]
    root = tmp / f"c{seed}-{concurrency}"
    # one judge for the warm-up and the timed run, as one is shared by every model of a run
    setup = _setup(port, concurrency, root)
    replied: list[float] = []
    score = setup.judge.score

    async def timed_score(request: Any) -> Any:
        result = await score(request)
        replied.append(time.perf_counter())
        return result

    setup.judge.score = timed_score  # type: ignore[method-assign]
    # 1. warm-up (untimed): other samples (so the timed run finds nothing in the cache)
    warm, warm_records, warm_rd = _samples(root / "warm-up", concurrency, seed + 1)
    JudgeStage(setup, warm_rd, progress=False).run(warm, warm_records)
    # 2. the timed run, with the time of every reply
    samples, records, rd = _samples(root, n, seed)
    replied.clear()
    stage = JudgeStage(setup, rd, progress=False)
    before = _server_stats(port)
    t0, c0, m0 = time.perf_counter(), time.process_time(), time.thread_time()
    judged, block = stage.run(samples, records)
    elapsed = time.perf_counter() - t0
    cpu, main_cpu = time.process_time() - c0, time.thread_time() - m0
    after = _server_stats(port)
    if block["n_failed"] or stage.counts()["requests"] != n:
        raise RuntimeError(f"concurrency {concurrency}: {block['n_failed']} failed, "
                           f"{stage.counts()}")
    rps = n / elapsed
    ideal = concurrency / latency
    steady = (n - concurrency) / (replied[-1] - replied[concurrency - 1])
    return {"concurrency": concurrency, "requests": n, "seconds": round(elapsed, 3),
            "requests_per_s": round(rps, 2), "ideal_per_s": round(ideal, 2),
            "fraction_of_ideal": round(rps / ideal, 3),
            "steady_fraction_of_ideal": round(steady / ideal, 3),
            "client_cpu_ms_per_request": round(1000 * cpu / n, 2),
            # the event loop's thread alone (the rest is the worker that encodes images)
            "client_loop_thread_cpu_ms_per_request": round(1000 * main_cpu / n, 2),
            # what one free core could sustain at this CPU cost, as a fraction of the ideal
            "cpu_bound_fraction_of_ideal": round(min(1.0, n / cpu / ideal), 3),
            "server_cpu_ms_per_request": round(1000 * (after["cpu_s"] - before["cpu_s"]) / n, 2),
            "server_connections": after["connections"] - before["connections"],
            "load_average_1min": round(load, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description="judge-stage throughput")
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--levels", default="1,8,32,64")
    parser.add_argument("--waves", type=int, default=16,
                        help="timed requests per level = waves * concurrency (at least 32)")
    parser.add_argument("--repeats", type=int, default=1, help="runs of every level")
    args = parser.parse_args()
    levels = [int(c) for c in args.levels.split(",")]
    proc, port = _serve(args.latency)
    runs = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            os.environ["MEBENCH_HOME"] = str(Path(tmp) / "home")
            for repeat in range(args.repeats):
                rows = [_level(port, c, max(32, args.waves * c), args.latency, Path(tmp),
                               seed=10 * repeat) for c in levels]
                runs.append({"levels": rows,
                             "min_fraction_of_ideal": min(r["fraction_of_ideal"] for r in rows)})
    finally:
        proc.terminate()
        proc.wait(10)
    print(json.dumps({
        "benchmark": "judge_throughput",
        "judge": "openai-compatible (openai client over HTTP to tests/servers/judge_api.py, "
                 "own process)",
        "latency_s": args.latency,
        "waves": args.waves,
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "load_average_1min_end": round(os.getloadavg()[0], 2),
        "runs": runs,
        "min_fraction_of_ideal": min(r["min_fraction_of_ideal"] for r in runs),
    }, indent=2))


if __name__ == "__main__":
    main()
