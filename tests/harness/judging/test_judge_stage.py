"""The judge stage through `mebench run` (in-process), the real openai client over HTTP against the
local fake API: judge columns, the per-sample contract, the cache (a rerun asks nothing), failures
that are recorded and counted, usage and cost, modes, the reference image, and option errors."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from servers.judge_api import Fault, FakeJudgeAPI

MODEL = "Qwen/Qwen2.5-VL-7B-Instruct"
N = 4


@pytest.fixture(scope="module")
def api() -> Iterator[FakeJudgeAPI]:
    with FakeJudgeAPI() as server:
        yield server


@pytest.fixture(autouse=True)
def _fresh(api: FakeJudgeAPI) -> None:
    api.reset()


def _run(invoke: Any, out: Path, *extra: str, models: str = "ground-truth,identity") -> Any:
    result = invoke("run", "--task", "motionedit-synthetic", "--model", models,
                    "--limit", str(N), "--dataset-args", "size=64", "--output", str(out),
                    "--no-progress", *extra)
    return result


def _judge_args(api: FakeJudgeAPI, more: str = "") -> list[str]:
    return ["--judge", "openai-compatible", "--judge-args",
            f"base_url={api.openai_base_url},model={MODEL}{more}"]


def _records(run: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (run / "samples.jsonl").read_text().splitlines()]


def _results(run: Path) -> dict[str, Any]:
    return json.loads((run / "results.json").read_text())  # type: ignore[no-any-return]


def test_run_fills_the_judge_columns_and_a_rerun_asks_nothing(invoke: Any, api: FakeJudgeAPI,
                                                              tmp_path: Path) -> None:
    result = _run(invoke, tmp_path, *_judge_args(api))
    assert result.exit_code == 0, result.output
    assert "Overall" in result.output and "judged 4/4 (openai-compatible)" in result.output
    assert len(api.exchanges()) == 2 * N
    for name in ("ground-truth", "identity"):
        run = tmp_path / name
        results = _results(run)
        for key in ("overall", "fidelity", "preservation", "coherence", "mas"):
            assert results["metrics"][key]["n"] == N
        block = results["judge"]
        assert block["name"] == "openai-compatible" and block["model"] == MODEL
        assert (block["mode"], block["prompt_id"]) == ("rubric", "motion-rubric-v1")
        assert (block["n_judged"], block["n_failed"], block["cost_usd"]) == (N, 0, None)
        for record in _records(run):
            judge = record["judge"]
            assert set(judge) == {"scores", "raw", "error", "method", "prompt_id",
                                  "prompt_hash", "usage"}
            assert judge["method"] == "structured" and judge["error"] is None
            assert judge["prompt_hash"] == block["prompt_hash"]
            assert {k: record["metrics"][k] for k in judge["scores"]} == judge["scores"]
            assert "mas" in record["metrics"]
        assert block["usage"]["input_tokens"] == sum(
            r["judge"]["usage"]["input_tokens"] for r in _records(run))
        run_json = json.loads((run / "run.json").read_text())
        assert run_json["judge"]["prompt_hash"] == block["prompt_hash"]
        assert run_json["judge_counts"] == {"requests": N, "cache_hits": 0}
        assert "sk-" not in (run / "run.json").read_text()
    # the answers follow the images: the two models' edits are judged independently
    gt = {r["id"]: r["judge"]["raw"] for r in _records(tmp_path / "ground-truth")}
    ident = {r["id"]: r["judge"]["raw"] for r in _records(tmp_path / "identity")}
    assert gt != ident

    before = (tmp_path / "identity" / "results.json").read_bytes()
    again = _run(invoke, tmp_path, *_judge_args(api))
    assert again.exit_code == 0, again.output
    assert len(api.exchanges()) == 2 * N  # zero new requests
    run_json = json.loads((tmp_path / "identity" / "run.json").read_text())
    assert run_json["judge_counts"] == {"requests": 0, "cache_hits": N}
    assert (tmp_path / "identity" / "results.json").read_bytes() == before


def test_failures_are_recorded_counted_and_keep_the_motion_metrics(
        invoke: Any, api: FakeJudgeAPI, tmp_path: Path) -> None:
    api.inject(Fault.reply("I cannot rate this."))
    api.inject(Fault.server_error(500))  # max_retries=0: no reply, not cached
    result = _run(invoke, tmp_path, *_judge_args(api, ",max_retries=0,structured=false"),
                  "--judge-concurrency", "1", models="identity")
    assert result.exit_code == 0, result.output
    run = tmp_path / "identity"
    records = _records(run)
    failed = [r for r in records if r["judge"]["error"] is not None]
    assert len(failed) == 2
    unparsed = next(r for r in failed if r["judge"]["raw"])
    assert unparsed["judge"]["raw"] == "I cannot rate this."
    assert unparsed["judge"]["scores"] is None and unparsed["judge"]["method"] == "free-text"
    for r in failed:
        assert "overall" not in r["metrics"] and "mas" in r["metrics"]
    results = _results(run)
    assert results["judge"]["n_judged"] == N and results["judge"]["n_failed"] == 2
    assert results["metrics"]["overall"]["n"] == N - 2
    assert results["metrics"]["mas"]["n"] == N
    assert results["n_failed"] == 0  # the samples themselves did not fail

    # the reply that did not parse is cached; the one that never came is asked again
    api.reset()
    rerun = _run(invoke, tmp_path, *_judge_args(api, ",max_retries=0,structured=false"),
                 models="identity")
    assert rerun.exit_code == 0, rerun.output
    assert len(api.exchanges()) == 1
    assert _results(run)["judge"]["n_failed"] == 1


def test_concurrency_is_limited_and_another_judge_reads_no_cached_reply(
        invoke: Any, api: FakeJudgeAPI, tmp_path: Path) -> None:
    api.latency = 0.2
    try:
        first = _run(invoke, tmp_path, *_judge_args(api), "--judge-concurrency", "3",
                     models="identity")
        assert first.exit_code == 0, first.output
        assert api.max_in_flight == 3 and len(api.exchanges()) == N
        api.reset()
        hotter = _run(invoke, tmp_path, *_judge_args(api, ",temperature=0.7"),
                      "--judge-concurrency", "1", models="identity")
    finally:
        api.latency = 0.0
    assert hotter.exit_code == 0, hotter.output
    assert api.max_in_flight == 1 and len(api.exchanges()) == N  # nothing served from cache


def test_expected_score_mode(invoke: Any, api: FakeJudgeAPI, tmp_path: Path) -> None:
    result = _run(invoke, tmp_path, *_judge_args(api, ",mode=expected-score"), models="identity")
    assert result.exit_code == 0, result.output
    results = _results(tmp_path / "identity")
    assert results["metrics"]["mllm_reward"]["n"] == N and "overall" not in results["metrics"]
    assert 0 <= results["metrics"]["mllm_reward"]["mean"] <= 1
    assert results["judge"]["prompt_id"] == "mllm-reward-v1"
    assert {r["judge"]["method"] for r in _records(tmp_path / "identity")} == {"logprobs"}


def test_reference_mode_shows_the_target(invoke: Any, api: FakeJudgeAPI, tmp_path: Path) -> None:
    counts: list[int] = []
    original = api.responder
    api.responder = lambda call: (counts.append(len(call.images)), original(call))[1]
    try:
        result = _run(invoke, tmp_path, *_judge_args(api, ",reference=true"), models="identity")
    finally:
        api.responder = original
    assert result.exit_code == 0, result.output
    assert counts == [3] * N
    assert _results(tmp_path / "identity")["judge"]["prompt_id"] == "motion-rubric-ref-v1"


def test_a_priced_model_reports_its_cost(invoke: Any, api: FakeJudgeAPI, tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from mebench.judging.prices import PRICES_PER_MTOK

    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-real-key")
    result = _run(invoke, tmp_path, "--judge", "openai", "--judge-args",
                  f"base_url={api.openai_base_url},model=gpt-4o", models="identity")
    assert result.exit_code == 0, result.output
    block = _results(tmp_path / "identity")["judge"]
    price_in, price_out = PRICES_PER_MTOK["gpt-4o"]
    usage = block["usage"]
    expected = (usage["input_tokens"] * price_in + usage["output_tokens"] * price_out) / 1e6
    assert usage["input_tokens"] > 0
    assert block["cost_usd"] == pytest.approx(expected, abs=1e-6)
    assert "sk-test" not in (tmp_path / "identity" / "run.json").read_text()


@pytest.mark.parametrize(("args", "message"), [
    (["--judge", "openai-compatibel"], "unknown judge 'openai-compatibel' (did you mean "
                                       "'openai-compatible'?"),
    (["--judge-args", "model=x"], "--judge-args given, but the task has no judge"),
    (["--judge", "none", "--judge-args", "model=x"], "--judge none takes no --judge-args"),
    (["--judge", "openai-compatible", "--judge-args", "model=x"],
     "missing 1 required keyword-only argument: 'base_url'"),
    (["--judge", "openai-compatible", "--judge-args",
      "base_url=http://127.0.0.1:9/v1,model=m,mode=scores"], "mode must be one of"),
    (["--judge", "openai-compatible", "--judge-args", "base_url=http://127.0.0.1:9/v1,model=m",
      "--judge-concurrency", "0"], "--judge-concurrency must be at least 1"),
])
def test_judge_option_errors(invoke: Any, tmp_path: Path, args: list[str], message: str) -> None:
    result = _run(invoke, tmp_path, *args, models="identity")
    assert result.exit_code == 2
    assert message in result.output
    assert not (tmp_path / "identity").exists()  # refused before any work


def test_resolve_judge_overrides_the_task_section() -> None:
    from mebench.judging.stage import resolve_judge
    from mebench.taskfile.schema import JudgeConfig

    task = JudgeConfig("openai", model="gpt-4o", mode="rubric", args={"timeout": 30})
    same = resolve_judge(task, "openai", {"model": "gpt-4.1", "seed": 1, "reference": True})
    assert same is not None
    assert (same.model, same.reference, dict(same.args)) == ("gpt-4.1", True,
                                                             {"timeout": 30, "seed": 1})
    other = resolve_judge(task, "gemini", {})
    assert other is not None and (other.name, other.model, dict(other.args)) == ("gemini", None,
                                                                                  {})
    assert resolve_judge(task, "none", {}) is None
    assert resolve_judge(task, None, {}) == resolve_judge(task, "openai", {})
    assert resolve_judge(None, None, {}) is None


def test_the_task_files_judge_section_runs_and_the_command_line_overrides_it(
        invoke: Any, api: FakeJudgeAPI, tmp_path: Path) -> None:
    task = tmp_path / "judged.yaml"
    task.write_text("task: judged\nversion: 1\ninclude: _motionedit_base.yaml\n"
                    "dataset: {source: builtin, path: motionedit-synthetic}\n"
                    f"judge:\n  name: openai-compatible\n  model: {MODEL}\n"
                    "  mode: expected-score\n"
                    f"  args: {{base_url: '{api.openai_base_url}', seed: 5}}\n")
    seen: list[dict[str, Any]] = []
    original = api.responder
    api.responder = lambda call: (seen.append(call.body), original(call))[1]
    try:
        result = invoke("run", "--task", str(task), "--model", "identity", "--limit", "2",
                        "--dataset-args", "size=64", "--output", str(tmp_path / "o"),
                        "--no-progress", "--judge-args", "temperature=0.3")
    finally:
        api.responder = original
    assert result.exit_code == 0, result.output
    assert [(b["model"], b["seed"], b["temperature"], b["logprobs"]) for b in seen] == \
        [(MODEL, 5, 0.3, True)] * 2
    results = _results(tmp_path / "o" / "identity")
    assert results["judge"]["mode"] == "expected-score"
    assert results["metrics"]["mllm_reward"]["n"] == 2


def test_the_run_table_has_win_rates_of_the_runs_it_made(invoke: Any, api: FakeJudgeAPI,
                                                        tmp_path: Path) -> None:
    result = _run(invoke, tmp_path, *_judge_args(api))
    assert result.exit_code == 0, result.output
    assert "Win Rate" in result.output and "ties count one half" in result.output
    rates = [float(line.split("│")[7]) for line in result.output.splitlines()
             if line.startswith("│ ground-truth") or line.startswith("│ identity")]
    assert len(rates) == 2 and sum(rates) == pytest.approx(100.0)
