"""SIGKILL a real `mebench run` in its judge stage while requests are in flight, rerun it, and check
on the server that no answered request was asked again and that the results equal an
uninterrupted run's."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from servers.judge_api import FakeJudgeAPI

N = 8
ANSWERED_BEFORE_KILL = 3


@pytest.fixture(scope="module")
def api() -> Iterator[FakeJudgeAPI]:
    with FakeJudgeAPI() as server:
        yield server


def _args(api: FakeJudgeAPI, out: Path) -> list[str]:
    return ["run", "--task", "motionedit-synthetic", "--model", "identity", "--limit", str(N),
            "--dataset-args", "size=64", "--output", str(out), "--no-progress",
            "--judge", "openai-compatible", "--judge-concurrency", "2", "--judge-args",
            f"base_url={api.openai_base_url},model=Qwen/Qwen2.5-VL-7B-Instruct"]


def _cached(home: Path) -> int:
    path = home / "cache" / "judge" / "responses.sqlite"
    if not path.is_file():
        return 0
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1) as db:
            return int(db.execute("SELECT COUNT(*) FROM responses").fetchone()[0])
    except sqlite3.Error:
        return 0


def test_killed_judge_stage_resumes_without_repeating_requests(
        api: FakeJudgeAPI, tmp_path: Path, invoke: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    out, home = tmp_path / "out", tmp_path / "home"
    env = {**os.environ, "MEBENCH_HOME": str(home)}
    command = [sys.executable, "-m", "mebench", *_args(api, out)]
    api.reset()
    api.block_after(ANSWERED_BEFORE_KILL)

    # 1. Run until three replies are cached and two more requests hang, then SIGKILL
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if _cached(home) >= ANSWERED_BEFORE_KILL and len(api.exchanges()) >= 5:
            break
        time.sleep(0.01)
    assert proc.poll() is None, "the run ended before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert _cached(home) == ANSWERED_BEFORE_KILL
    in_flight = [e for e in api.exchanges() if not e.answered]
    assert len(in_flight) == 2
    assert not (out / "identity" / "results.json").exists()

    # 2. The same command again (in-process, same home): only what had no reply is asked
    api.release()
    monkeypatch.setenv("MEBENCH_HOME", str(home))
    done = invoke(*_args(api, out))
    assert done.exit_code == 0, done.output
    answered = api.answered_by_key()
    assert len(answered) == N and set(answered.values()) == {1}
    assert len(api.exchanges()) == N + len(in_flight)
    run_json = (out / "identity" / "run.json").read_text()
    assert '"cache_hits": 3' in run_json and '"requests": 5' in run_json

    # 3. The results equal those of an uninterrupted run (with a cache of its own)
    monkeypatch.setenv("MEBENCH_HOME", str(tmp_path / "fresh-home"))
    api.reset()
    whole = invoke(*_args(api, tmp_path / "whole"))
    assert whole.exit_code == 0, whole.output
    assert len(api.exchanges()) == N
    for name in ("results.json", "samples.jsonl"):
        assert (out / "identity" / name).read_bytes() == \
            (tmp_path / "whole" / "identity" / name).read_bytes()
