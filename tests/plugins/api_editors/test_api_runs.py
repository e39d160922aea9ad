"""`mebench run` with an API editor: failures counted, usage recorded, the key written nowhere."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import Result
from servers.image_api import FakeImageServer, Rule

Invoke = Callable[..., Result]
KEY = "sk-run-test-0123456789"
FAILING = "Make the purple ellipse taller."  # syn-0002's instruction


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeImageServer]:
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    with FakeImageServer(api_key=KEY) as srv:
        yield srv


def _run(invoke: Invoke, server: FakeImageServer, out: Path, *extra: str) -> Result:
    return invoke("run", "--task", "motionedit-synthetic", "--model", "gpt-image-1",
                  "--model-args", f"base_url={server.url}/v1,max_retries=2,backoff=0.01",
                  "--limit", "4", "--dataset-args", "size=64", "--batch-size", "2",
                  "--output", str(out), "--no-progress", *extra)


def test_a_failing_sample_is_counted_and_retried_on_resume(invoke: Invoke, server: FakeImageServer,
                                                           tmp_path: Path) -> None:
    rule = server.add_rule(Rule(match=FAILING, status=500))
    result = _run(invoke, server, tmp_path)
    assert result.exit_code == 0, result.output
    assert "3/4 scored, 1 failed" in result.output
    (run,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    res = json.loads((run / "results.json").read_text())
    assert res["n"] == 4 and res["n_failed"] == 1 and res["n_scored"] == 3
    (failure,) = res["failures"]
    assert failure["id"] == "syn-0002" and failure["stage"] == "generate"
    assert "500" in failure["error"] and "after 3 attempts" in failure["error"]
    assert rule.used == 3
    assert sorted(p.stem for p in (run / "outputs").glob("*.png")) == [
        "syn-0000", "syn-0001", "syn-0003"]

    usage = [json.loads(x) for x in (run / "usage.jsonl").read_text().splitlines()]
    assert sorted(u["sample_id"] for u in usage) == ["syn-0000", "syn-0001", "syn-0002",
                                                     "syn-0003"]
    totals = json.loads((run / "run.json").read_text())["usage"]
    assert totals["requests"] == 4 and totals["failed"] == 1 and totals["attempts"] == 6
    assert totals["cost_usd"] == pytest.approx(sum(u["cost_usd"] for u in usage))
    assert totals["cost_usd"] > 0

    # the key is sent to the API and written nowhere
    for path in run.rglob("*"):
        if path.is_file():
            assert KEY.encode() not in path.read_bytes(), path
    assert KEY not in result.output

    # the same command once the API recovers: only the failed sample is asked again
    rule.times = rule.used
    before = len(server.requests)
    result = _run(invoke, server, tmp_path)
    assert result.exit_code == 0, result.output
    assert [r["prompt"] for r in server.requests[before:]] == [FAILING]
    res = json.loads((run / "results.json").read_text())
    assert res["n_failed"] == 0 and res["n_scored"] == 4
    totals = json.loads((run / "run.json").read_text())["usage"]
    assert totals["requests"] == 5 and totals["failed"] == 1


def test_missing_key_stops_the_run_naming_the_variable(invoke: Invoke, server: FakeImageServer,
                                                       tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY")
    result = _run(invoke, server, tmp_path)
    assert result.exit_code == 2
    assert "OPENAI_API_KEY is not set" in result.output
    assert server.requests == []
