"""Sharded generation under torchrun: 2 CPU processes with gloo, compared with one process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import Result
from servers.image_api import FakeImageServer

from mebench.distributed import DistContext, launched
from mebench.errors import MebenchError

Invoke = Callable[..., Result]
KEY = "sk-dist-test-0123456789"
SYNTHETIC = ["--task", "motionedit-synthetic", "--limit", "8", "--dataset-args", "size=96",
             "--no-progress"]


def _torchrun(*args: str) -> list[str]:
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node",
            "2", "-m", "mebench", "run", *args]


def _env(home: Path) -> dict[str, str]:
    return {**os.environ, "MEBENCH_HOME": str(home), "OPENAI_API_KEY": KEY,
            "OMP_NUM_THREADS": "1"}


def _only_run(out: Path) -> Path:
    (run,) = [p for p in out.iterdir() if p.is_dir()]
    return run


# -- the context -------------------------------------------------------------------------------


def test_context_from_the_launchers_environment() -> None:
    assert DistContext.from_env({}) == DistContext(0, 1, 0)
    ctx = DistContext.from_env({"RANK": "3", "WORLD_SIZE": "4", "LOCAL_RANK": "1"})
    assert (ctx.rank, ctx.world_size, ctx.local_rank, ctx.distributed, ctx.is_main) == (
        3, 4, 1, True, False)
    assert ctx.shard(list(range(10))) == [3, 7]
    assert DistContext.from_env({"RANK": "2", "WORLD_SIZE": "3"}).local_rank == 2
    single = DistContext.from_env({})
    assert single.shard([1, 2, 3]) == [1, 2, 3] and single.device(None) is None
    assert single.agree({"a": "x"}) == [{"a": "x"}]
    with pytest.raises(ValueError, match="boom"):
        single.agree(None, ValueError("boom"))


@pytest.mark.parametrize("env, message", [
    ({"RANK": "one", "WORLD_SIZE": "2"}, "$RANK is 'one'"),
    ({"RANK": "2", "WORLD_SIZE": "2"}, "do not fit together"),
    ({"RANK": "0", "WORLD_SIZE": "0"}, "do not fit together"),
])
def test_inconsistent_environment_is_refused(env: dict[str, str], message: str) -> None:
    with pytest.raises(MebenchError) as info:
        DistContext.from_env(env)
    assert message in str(info.value)


def test_a_bad_launcher_environment_stops_the_cli(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        with launched({"RANK": "x", "WORLD_SIZE": "2"}):
            pass
    assert info.value.code == 2
    assert "$RANK is 'x', not an integer" in capsys.readouterr().err
    with launched({}) as ctx:  # no launcher: nothing to do, torch.distributed untouched
        assert not ctx.distributed


def test_shards_cover_every_sample_once() -> None:
    items = [f"s{i}" for i in range(11)]
    shards = [DistContext(r, 3, r).shard(items) for r in range(3)]
    assert sorted(sum(shards, [])) == sorted(items)
    assert shards[1] == ["s1", "s4", "s7", "s10"]


# -- two processes -----------------------------------------------------------------------------


def test_two_ranks_match_one_process_byte_for_byte(invoke: Invoke, tmp_path: Path) -> None:
    args = [*SYNTHETIC, "--model", "synthetic-motion", "--model-args", "fraction=0.5"]
    single = invoke("run", *args, "--output", str(tmp_path / "single"))
    assert single.exit_code == 0, single.output
    done = subprocess.run(_torchrun(*args, "--output", str(tmp_path / "multi")),
                          env=_env(tmp_path / "home"), capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    one, two = _only_run(tmp_path / "single"), _only_run(tmp_path / "multi")
    assert (two / "results.json").read_bytes() == (one / "results.json").read_bytes()
    assert (two / "samples.jsonl").read_bytes() == (one / "samples.jsonl").read_bytes()
    assert json.loads((two / "run.json").read_text())["distributed"] == {"world_size": 2}
    # rank 0 alone prints the summary
    assert done.stdout.count("8/8 scored, 0 failed") == 1

    # rank 0 refuses the directory (another seed made it): every rank stops, none waits forever
    refused = subprocess.run(_torchrun(*args, "--seed", "7", "--output", str(tmp_path / "multi")),
                             env=_env(tmp_path / "home"), capture_output=True, text=True,
                             timeout=240)
    assert refused.returncode != 0
    assert "made with another model, model arguments or seed" in refused.stderr
    assert "rank 0 failed: MebenchError" in refused.stderr  # what rank 1 reports
    assert (two / "results.json").read_bytes() == (one / "results.json").read_bytes()


def test_accelerate_launch_shards_the_same_way(invoke: Invoke, tmp_path: Path) -> None:
    """`accelerate launch --multi_gpu --num_processes 2` sets the same rank variables (gloo on CPU)."""
    args = [*SYNTHETIC, "--model", "synthetic-motion", "--model-args", "fraction=0.5"]
    single = invoke("run", *args, "--output", str(tmp_path / "single"))
    assert single.exit_code == 0, single.output
    accelerate = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu",
                  "--num_processes", "2", "--num_machines", "1", "--mixed_precision", "no",
                  "--dynamo_backend", "no", "-m", "mebench", "run", *args,
                  "--output", str(tmp_path / "multi")]
    done = subprocess.run(accelerate, env=_env(tmp_path / "home"), capture_output=True,
                          text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    one, two = _only_run(tmp_path / "single"), _only_run(tmp_path / "multi")
    assert json.loads((two / "run.json").read_text())["distributed"] == {"world_size": 2}
    assert (two / "results.json").read_bytes() == (one / "results.json").read_bytes()


@pytest.fixture
def slow_api() -> Iterator[FakeImageServer]:
    with FakeImageServer(api_key=KEY, latency=0.4) as srv:
        yield srv


def _rank_pid(parent: int, rank: int, timeout: float = 60) -> int | None:
    """The worker of ``rank`` among the launcher's children (read from /proc)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for task in Path(f"/proc/{parent}/task").glob("*"):
            try:
                children = (task / "children").read_text().split()
            except OSError:
                continue
            for child in children:
                try:
                    environ = Path(f"/proc/{child}/environ").read_bytes().split(b"\0")
                except OSError:
                    continue
                if f"RANK={rank}".encode() in environ:
                    return int(child)
        time.sleep(0.05)
    return None


def test_killing_a_rank_then_restarting_resumes(invoke: Invoke, tmp_path: Path,
                                                slow_api: FakeImageServer,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    args = ["--task", "motionedit-synthetic", "--limit", "8", "--dataset-args", "size=64",
            "--no-progress", "--model", "gpt-image-1",
            "--model-args", f"base_url={slow_api.url}/v1,max_retries=0"]
    out, home = tmp_path / "multi", tmp_path / "home"

    # 1. two ranks; SIGKILL rank 1 once a few outputs exist
    proc = subprocess.Popen(_torchrun(*args, "--output", str(out)), env=_env(home),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    pid = _rank_pid(proc.pid, 1)
    assert pid is not None, "no rank 1 worker appeared"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if len(list(out.glob("*/outputs/*.png"))) >= 2:
            os.kill(pid, signal.SIGKILL)
            break
        time.sleep(0.02)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode != 0, "the job finished before rank 1 could be killed"
    run = _only_run(out)
    assert not (run / "results.json").exists()
    before = {p.name: p.stat().st_mtime_ns for p in (run / "outputs").glob("*.png")}
    assert 2 <= len(before) < 8

    # 2. the same command again: only the missing samples are requested
    slow_api.latency = 0.0
    asked = len(slow_api.requests)
    done = subprocess.run(_torchrun(*args, "--output", str(out)), env=_env(home),
                          capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    after = {p.name: p.stat().st_mtime_ns for p in (run / "outputs").glob("*.png")}
    assert len(after) == 8
    assert all(after[name] == mtime for name, mtime in before.items())
    assert len(slow_api.requests) - asked == 8 - len(before)
    # each rank asked for its own slice: dataset index % 2
    usage = [json.loads(x) for x in (run / "usage.jsonl").read_text().splitlines()]
    for u in usage:
        assert int(u["sample_id"].split("-")[1]) % 2 == u["rank"]

    # 3. the same results as one uninterrupted process
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    single = invoke("run", *args, "--output", str(tmp_path / "single"))
    assert single.exit_code == 0, single.output
    one = _only_run(tmp_path / "single")
    assert (run / "results.json").read_bytes() == (one / "results.json").read_bytes()
