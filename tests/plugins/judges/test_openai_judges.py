"""The openai and openai-compatible judges: the real ``openai`` client over HTTP against the local
fake API (tests/servers/judge_api.py), through every path: structured, free text, logprobs, the
digit fallback, 429 with Retry-After, 5xx, timeouts, exhausted retries, malformed and partial
replies, broken bodies, refused keys and bad arguments."""

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
    api.latency = 0.0
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-real-key")


def _image(color: str) -> JudgeImage:
    return judge_image(color, (24, 16))


REQUEST = JudgeRequest("s1", "Make the red square jump.", _image("red"), _image("blue"))


def _judge(pm: MebenchPluginManager, api: FakeJudgeAPI, **args: Any) -> Any:
    base = {"base_url": api.openai_base_url, "model": "Qwen/Qwen2.5-VL-7B-Instruct"}
    return pm.get("judge", "openai-compatible").build({**base, **args})


def _ask(judge: Any, request: JudgeRequest = REQUEST) -> JudgeResult:
    async def go() -> JudgeResult:
        try:
            return await judge.score(request)  # type: ignore[no-any-return]
        finally:
            await judge.aclose()

    return asyncio.run(go())


def _content(api: FakeJudgeAPI) -> str:
    (answered,) = [e for e in api.exchanges() if e.answered]
    return answered.reply["choices"][0]["message"]["content"]  # type: ignore[index,no-any-return]


def test_rubric_with_structured_output(pm: MebenchPluginManager, api: FakeJudgeAPI) -> None:
    judge = _judge(pm, api)
    result = _ask(judge)
    sent = json.loads(_content(api))
    assert result.method == "structured" and result.error is None
    expected = {k: float(sent[k]) for k in ("fidelity", "preservation", "coherence")}
    assert result.scores == {**expected, "overall": round(sum(expected.values()) / 3, 6)}
    assert result.prompt_id == "motion-rubric-v1" and result.prompt_hash == judge.prompt_hash
    assert result.usage["input_tokens"] > 0 and result.usage["total_tokens"] > 0
    assert [e.api for e in api.exchanges()] == ["openai"]


def test_request_carries_settings_schema_and_both_images(pm: MebenchPluginManager,
                                                         api: FakeJudgeAPI) -> None:
    seen: list[dict[str, Any]] = []
    original = api.responder

    def spy(call: Any) -> Any:
        seen.append(call.body)
        assert call.images == (REQUEST.source.data, REQUEST.edited.data)
        return original(call)

    api.responder = spy
    try:
        _ask(_judge(pm, api, temperature=0.5, seed=7, max_tokens=300))
    finally:
        api.responder = original
    (body,) = seen
    assert body["temperature"] == 0.5 and body["seed"] == 7 and body["max_tokens"] == 300
    assert body["response_format"]["type"] == "json_schema"
    schema = body["response_format"]["json_schema"]["schema"]
    assert set(schema["required"]) == {"reasoning", "fidelity", "preservation", "coherence"}
    assert "logprobs" not in body


def test_openai_proper_sends_max_completion_tokens(pm: MebenchPluginManager,
                                                   api: FakeJudgeAPI) -> None:
    seen: list[dict[str, Any]] = []
    original = api.responder
    api.responder = lambda call: (seen.append(call.body), original(call))[1]
    try:
        judge = pm.get("judge", "openai").build({"base_url": api.openai_base_url})
        result = _ask(judge)
    finally:
        api.responder = original
    assert result.scores is not None and judge.model == "gpt-4o"
    assert seen[0]["max_completion_tokens"] == 1024 and "max_tokens" not in seen[0]


def test_free_text_when_structured_output_is_off(pm: MebenchPluginManager,
                                                 api: FakeJudgeAPI) -> None:
    result = _ask(_judge(pm, api, structured=False))
    assert result.method == "free-text" and result.scores is not None
    assert "Fidelity:" in result.raw and result.raw == _content(api)


def test_expected_score_from_logprobs(pm: MebenchPluginManager, api: FakeJudgeAPI) -> None:
    result = _ask(_judge(pm, api, mode="expected-score"))
    (exchange,) = api.exchanges()
    top = exchange.reply["choices"][0]["logprobs"]["content"][0]["top_logprobs"]  # type: ignore[index]
    probs = {t["token"]: math.exp(t["logprob"]) for t in top if t["token"] in "012345"}
    expected = sum(int(d) * p for d, p in probs.items()) / sum(probs.values()) / 5
    assert result.method == "logprobs" and result.prompt_id == "mllm-reward-v1"
    assert result.scores == {"mllm_reward": pytest.approx(expected, abs=1e-6)}


def test_expected_score_falls_back_to_the_digit(pm: MebenchPluginManager,
                                                api: FakeJudgeAPI) -> None:
    api.inject(Fault.no_logprobs())
    result = _ask(_judge(pm, api, mode="expected-score"))
    assert result.method == "digit"
    assert result.scores == {"mllm_reward": int(_content(api)) / 5}


def test_connections_are_kept_alive_and_reused(pm: MebenchPluginManager,
                                              api: FakeJudgeAPI) -> None:
    judge = _judge(pm, api)

    async def go() -> list[JudgeResult]:
        try:
            results = []
            for _ in range(3):  # three waves of four concurrent requests
                results += await asyncio.gather(*(judge.score(REQUEST) for _ in range(4)))
            return results
        finally:
            await judge.aclose()

    results = asyncio.run(go())
    assert all(r.scores is not None for r in results) and len(api.exchanges()) == 12
    assert api.connections == 4  # one per concurrent request, not one per request
    _ask(judge)  # a new event loop gets a new client: one new connection
    assert api.connections == 5 and len(api.exchanges()) == 13


def test_429_waits_for_retry_after(pm: MebenchPluginManager, api: FakeJudgeAPI) -> None:
    # the client's own backoff would wait at most 0.5 s before its first retry
    api.inject(Fault.rate_limit(retry_after=0.9))
    t0 = time.monotonic()
    result = _ask(_judge(pm, api))
    assert time.monotonic() - t0 >= 0.9
    assert result.scores is not None
    statuses = [e.status for e in api.exchanges()]
    assert statuses == [429, 200]
    assert len({e.key for e in api.exchanges()}) == 1  # the same request, asked again


def test_server_errors_and_timeouts_are_retried(pm: MebenchPluginManager,
                                                api: FakeJudgeAPI) -> None:
    api.inject(Fault.server_error(503))
    api.inject(Fault.hang(3.0))
    result = _ask(_judge(pm, api, timeout=0.5))
    assert result.scores is not None
    assert [e.fault for e in api.exchanges()] == ["status", "hang", None]


def test_exhausted_retries_are_a_recorded_failure(pm: MebenchPluginManager,
                                                  api: FakeJudgeAPI) -> None:
    api.inject(Fault.server_error(500, retry_after=0.05), times=3)
    result = _ask(_judge(pm, api, max_retries=2))
    assert result.scores is None and "500" in (result.error or "")
    assert result.cacheable is False and result.raw == ""
    assert len(api.exchanges()) == 3


@pytest.mark.parametrize(("content", "error"), [
    ("The edit looks great to me!", "no scores found"),
    ('{"reasoning": "the arm is raised", "fidelity": 4, "preserv', "no preservation score"),
    ('{"reasoning": "x", "fidelity": 9, "preservation": 3, "coherence": 2}', "outside 0-5"),
])
def test_replies_that_do_not_parse_are_failures_with_their_text(
        pm: MebenchPluginManager, api: FakeJudgeAPI, content: str, error: str) -> None:
    api.inject(Fault.reply(content))
    result = _ask(_judge(pm, api))
    assert result.scores is None and error in (result.error or "")
    assert result.raw == content and result.cacheable is True
    assert result.method == "structured"


def test_a_broken_http_body_is_a_failure(pm: MebenchPluginManager, api: FakeJudgeAPI) -> None:
    api.inject(Fault.broken_body())
    result = _ask(_judge(pm, api, max_retries=0))
    assert result.scores is None and result.cacheable is False
    assert result.error


def test_a_refused_key_stops_the_run(pm: MebenchPluginManager, api: FakeJudgeAPI) -> None:
    api.inject(Fault.server_error(401))
    with pytest.raises(MebenchError, match="refused the key"):
        _ask(_judge(pm, api))


def test_openai_needs_its_key(pm: MebenchPluginManager, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY")
    with pytest.raises(MebenchError, match=r"\$OPENAI_API_KEY is not set"):
        pm.get("judge", "openai").build({})
    monkeypatch.setenv("MY_KEY", "secret")
    judge = pm.get("judge", "openai").build({"api_key_env": "MY_KEY"})
    assert judge.model == "gpt-4o"


def test_compatible_key_is_optional_unless_named(pm: MebenchPluginManager, api: FakeJudgeAPI,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    assert _judge(pm, api)._api_key == "EMPTY"
    with pytest.raises(MebenchError, match=r"\$VLLM_KEY is not set"):
        _judge(pm, api, api_key_env="VLLM_KEY")
    monkeypatch.setenv("VLLM_KEY", "k")
    assert _judge(pm, api, api_key_env="VLLM_KEY")._api_key == "k"


@pytest.mark.parametrize(("args", "message"), [
    ({"mode": "score"}, "mode must be one of rubric, expected-score"),
    ({"temperature": 3}, "temperature must be a number in [0, 2]"),
    ({"max_tokens": 0}, "max_tokens must be a positive integer"),
    ({"timeout": -1}, "timeout must be a positive number"),
    ({"top_logprobs": 50}, "top_logprobs must be an integer in 1-20"),
    ({"prompt": "nope"}, "unknown judge prompt 'nope'"),
    ({"base_url": "127.0.0.1:8000"}, "base_url must be an http(s) URL"),
    ({"api_key": "sk-x"}, "does not accept argument(s) api_key"),
])
def test_bad_arguments_are_refused(pm: MebenchPluginManager, api: FakeJudgeAPI,
                                   args: dict[str, Any], message: str) -> None:
    with pytest.raises(MebenchError) as info:
        _judge(pm, api, **args)
    assert message in str(info.value)
