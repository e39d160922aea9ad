"""The gemini judge: the real ``google-genai`` client over HTTP against the local fake API, with
mebench's retry (Retry-After, 5xx, timeouts) in place of the client's own."""

from __future__ import annotations

import asyncio
import io
import json
import math
import time
from typing import Any

import pytest
from judge_images import judge_image  # beside this file
from servers.judge_api import Fault, FakeJudgeAPI

from mebench.errors import MebenchError
from mebench.judging.types import JudgeImage, JudgeRequest, JudgeResult
from mebench.plugin_manager import MebenchPluginManager


@pytest.fixture(autouse=True)
def _fresh(api: FakeJudgeAPI, monkeypatch: pytest.MonkeyPatch) -> None:
    api.reset()
    monkeypatch.delenv("GOOGLE_API_KEY", raising=False)
    monkeypatch.setenv("GEMINI_API_KEY", "test-key-not-real")


def _image(color: str) -> JudgeImage:
    return judge_image(color, (20, 12))


REQUEST = JudgeRequest("s1", "Turn the green bar to the left.", _image("green"), _image("white"))


def _judge(pm: MebenchPluginManager, api: FakeJudgeAPI, **args: Any) -> Any:
    return pm.get("judge", "gemini").build({"base_url": api.gemini_base_url, **args})


def _ask(judge: Any) -> JudgeResult:
    async def go() -> JudgeResult:
        try:
            return await judge.score(REQUEST)  # type: ignore[no-any-return]
        finally:
            await judge.aclose()

    return asyncio.run(go())


def _reply(api: FakeJudgeAPI) -> dict[str, Any]:
    (answered,) = [e for e in api.exchanges() if e.answered]
    assert answered.reply is not None
    return answered.reply


def test_rubric_with_a_response_schema(pm: MebenchPluginManager, api: FakeJudgeAPI) -> None:
    seen: list[Any] = []
    original = api.responder
    api.responder = lambda call: (seen.append(call), original(call))[1]
    try:
        result = _ask(_judge(pm, api, seed=3))
    finally:
        api.responder = original
    config = seen[0].body["generationConfig"]
    assert config["responseMimeType"] == "application/json"
    assert config["responseJsonSchema"]["required"][1:] == ["fidelity", "preservation",
                                                            "coherence"]
    assert config["temperature"] == 0 and config["seed"] == 3
    assert seen[0].model == "gemini-2.5-flash"
    assert seen[0].images == (REQUEST.source.data, REQUEST.edited.data)
    sent = json.loads(_reply(api)["candidates"][0]["content"]["parts"][0]["text"])
    assert result.method == "structured"
    assert result.scores is not None
    assert result.scores["fidelity"] == sent["fidelity"]
    assert result.scores["overall"] == pytest.approx(
        (sent["fidelity"] + sent["preservation"] + sent["coherence"]) / 3, abs=1e-6)
    usage = _reply(api)["usageMetadata"]
    assert result.usage == {"input_tokens": usage["promptTokenCount"],
                            "output_tokens": usage["candidatesTokenCount"],
                            "total_tokens": usage["totalTokenCount"]}


def test_expected_score_from_logprobs(pm: MebenchPluginManager, api: FakeJudgeAPI) -> None:
    result = _ask(_judge(pm, api, mode="expected-score", top_logprobs=6))
    top = _reply(api)["candidates"][0]["logprobsResult"]["topCandidates"][0]["candidates"]
    probs = {c["token"]: math.exp(c["logProbability"]) for c in top if c["token"] in "012345"}
    expected = sum(int(d) * p for d, p in probs.items()) / sum(probs.values()) / 5
    assert result.method == "logprobs"
    assert result.scores == {"mllm_reward": pytest.approx(expected, abs=1e-6)}


def test_expected_score_falls_back_to_the_digit(pm: MebenchPluginManager,
                                                api: FakeJudgeAPI) -> None:
    api.inject(Fault.no_logprobs())
    result = _ask(_judge(pm, api, mode="expected-score"))
    digit = int(_reply(api)["candidates"][0]["content"]["parts"][0]["text"])
    assert result.method == "digit" and result.scores == {"mllm_reward": digit / 5}


def test_429_waits_for_retry_after(pm: MebenchPluginManager, api: FakeJudgeAPI) -> None:
    # mebench's backoff would wait at most 1.0 s (0.5 s plus up to 0.5 s of jitter)
    api.inject(Fault.rate_limit(retry_after=1.2))
    t0 = time.monotonic()
    result = _ask(_judge(pm, api))
    assert time.monotonic() - t0 >= 1.2
    assert result.scores is not None
    assert [e.status for e in api.exchanges()] == [429, 200]


def test_server_errors_and_timeouts_are_retried(pm: MebenchPluginManager,
                                                api: FakeJudgeAPI) -> None:
    api.inject(Fault.server_error(500, retry_after=0.05))
    api.inject(Fault.hang(3.0))
    result = _ask(_judge(pm, api, timeout=0.5))
    assert result.scores is not None
    assert [e.fault for e in api.exchanges()] == ["status", "hang", None]


def test_exhausted_retries_are_a_recorded_failure(pm: MebenchPluginManager,
                                                  api: FakeJudgeAPI) -> None:
    api.inject(Fault.server_error(503, retry_after=0.05), times=2)
    result = _ask(_judge(pm, api, max_retries=1))
    assert result.scores is None and "503" in (result.error or "")
    assert result.cacheable is False
    assert len(api.exchanges()) == 2


def test_malformed_reply_is_a_failure_with_its_text(pm: MebenchPluginManager,
                                                    api: FakeJudgeAPI) -> None:
    api.inject(Fault.reply('{"fidelity": 3, "preservation": '))
    result = _ask(_judge(pm, api))
    assert result.scores is None and result.raw == '{"fidelity": 3, "preservation": '
    assert "not valid JSON" in (result.error or "") and result.cacheable


def test_a_broken_http_body_is_a_failure(pm: MebenchPluginManager, api: FakeJudgeAPI) -> None:
    api.inject(Fault.broken_body())
    result = _ask(_judge(pm, api, max_retries=0))
    assert result.scores is None and not result.cacheable


def test_a_refused_key_stops_the_run(pm: MebenchPluginManager, api: FakeJudgeAPI) -> None:
    api.inject(Fault.server_error(403))
    with pytest.raises(MebenchError, match="refused the key"):
        _ask(_judge(pm, api))


def test_the_key_comes_from_the_environment(pm: MebenchPluginManager, api: FakeJudgeAPI,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GEMINI_API_KEY")
    with pytest.raises(MebenchError, match="GEMINI_API_KEY"):
        _judge(pm, api)
    monkeypatch.setenv("GOOGLE_API_KEY", "other")
    assert _judge(pm, api)._api_key == "other"
