"""Kill a run with SIGKILL at several points, restart the same command, get the same results."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

N = 36


def _command(out: Path) -> list[str]:
    return [sys.executable, "-m", "mebench", "run", "--task", "motionedit-synthetic",
            "--model", "synthetic-motion", "--model-args", "fraction=0.5", "--limit", str(N),
            "--output", str(out), "--no-progress"]


def _env(home: Path) -> dict[str, str]:
    return {**os.environ, "MEBENCH_HOME": str(home)}


def _partial_ids(run: Path) -> list[str]:
    path = run / "samples.partial.jsonl"
    ids = []
    if path.is_file():
        for line in path.read_text().splitlines():
            try:
                ids.append(json.loads(line)["id"])
            except json.JSONDecodeError:
                pass
    return ids


def _kill_when(out: Path, home: Path, ready) -> bool:  # type: ignore[no-untyped-def]
    """Start the run, SIGKILL it once ``ready(run_dir)`` holds; True if it was killed."""
    proc = subprocess.Popen(_command(out), env=_env(home), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while proc.poll() is None and time.monotonic() < deadline:
        runs = [p for p in out.glob("synthetic-motion-*") if p.is_dir()]
        if runs and ready(runs[0]):
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            return True
        time.sleep(0.002)
    proc.wait()
    return False


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("whole")
    subprocess.run(_command(out), env=_env(tmp_path_factory.mktemp("home")), check=True,
                   capture_output=True)
    (run,) = [p for p in out.iterdir() if p.is_dir()]
    return run


@pytest.mark.parametrize("stage", ["generate", "motion"])
def test_sigkill_then_resume_matches_an_uninterrupted_run(tmp_path: Path, uninterrupted: Path,
                                                         stage: str) -> None:
    out, home = tmp_path / "out", tmp_path / "home"
    if stage == "generate":
        def ready(run: Path) -> bool:
            return len(list((run / "outputs").glob("*.png"))) >= 5
    else:
        def ready(run: Path) -> bool:
            return len(_partial_ids(run)) >= 8

    assert _kill_when(out, home, ready), "the run finished before it could be killed"
    (run,) = [p for p in out.iterdir() if p.is_dir()]
    assert not (run / "results.json").exists()
    before = {p.name: p.stat().st_mtime_ns for p in (run / "outputs").glob("*.png")}
    scored_before = _partial_ids(run)

    done = subprocess.run(_command(out), env=_env(home), capture_output=True, text=True)
    assert done.returncode == 0, done.stderr

    # no finished sample was redone: outputs untouched, no sample scored twice
    after = {p.name: p.stat().st_mtime_ns for p in (run / "outputs").glob("*.png")}
    assert all(after[name] == mtime for name, mtime in before.items())
    assert len(after) == N
    scored = _partial_ids(run)
    assert scored[: len(scored_before)] == scored_before
    assert sorted(scored) == sorted(set(scored)) and len(scored) == N

    assert (run / "results.json").read_bytes() == (uninterrupted / "results.json").read_bytes()
    assert (run / "samples.jsonl").read_bytes() == (uninterrupted / "samples.jsonl").read_bytes()
