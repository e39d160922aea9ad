"""gpt-image-1 and nano-banana through the real client libraries, over HTTP to a local fake."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from PIL import Image
from servers.image_api import IMAGE_TOKENS, OUTPUT_TOKENS, FakeImageServer, Rule, shifted

from mebench.errors import MebenchError
from mebench.plugin_manager import MebenchPluginManager
from mebench.types import EditFailure, EditRequest

KEY = "test-key-0123456789"
APIS = {
    # name: (key variable, base URL suffix)
    "gpt-image-1": ("OPENAI_API_KEY", "/v1"),
    "nano-banana": ("GEMINI_API_KEY", ""),
}


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeImageServer]:
    for var, _ in APIS.values():
        monkeypatch.setenv(var, KEY)
    with FakeImageServer(api_key=KEY) as srv:
        yield srv


def _source(seed: int) -> Image.Image:
    pixels = np.random.default_rng(seed).integers(0, 255, (40, 56, 3), dtype=np.uint8)
    return Image.fromarray(pixels)


def _requests(n: int, prompt: str = "Raise the left arm") -> list[EditRequest]:
    return [EditRequest(sample_id=f"s{i}", source=_source(i), instruction=f"{prompt} #{i}",
                        seed=i) for i in range(n)]


def _build(pm: MebenchPluginManager, name: str, server: FakeImageServer, **args: Any) -> Any:
    args = {"base_url": server.url + APIS[name][1], "backoff": 0.01, **args}
    return pm.get("model", name).build(args, batch_size=args.pop("batch_size", 4), device=None)


def _same(a: Image.Image, b: Image.Image) -> bool:
    return a.size == b.size and np.array_equal(np.asarray(a), np.asarray(b))


@pytest.mark.parametrize("name", list(APIS))
def test_success_returns_the_servers_image_and_records_usage(
        pm: MebenchPluginManager, server: FakeImageServer, name: str) -> None:
    model = _build(pm, name, server)
    requests = _requests(3)
    out = model.edit(requests)
    assert [type(o) for o in out] == [Image.Image] * 3
    for req, image in zip(requests, out):
        assert _same(image, shifted(req.source, server.shift))  # in request order
        assert not _same(image, req.source)
    assert sorted(r["prompt"] for r in server.requests) == [r.instruction for r in requests]
    expected_model = "gpt-image-1" if name == "gpt-image-1" else "gemini-2.5-flash-image"
    assert {r["model"] for r in server.requests} == {expected_model}
    usage = model.drain_usage()
    assert [u["sample_id"] for u in usage] == ["s0", "s1", "s2"]
    words = len(requests[0].instruction.split())
    for u in usage:
        assert u["status"] == "ok" and u["attempts"] == 1
        assert u["input_tokens"] == IMAGE_TOKENS + words and u["output_tokens"] == OUTPUT_TOKENS
    if name == "gpt-image-1":  # text 5, image input 10, output 40 USD per million tokens
        cost = (words * 5 + IMAGE_TOKENS * 10 + OUTPUT_TOKENS * 40) / 1e6
    else:  # input 0.30, output 30
        cost = ((IMAGE_TOKENS + words) * 0.30 + OUTPUT_TOKENS * 30) / 1e6
    assert usage[0]["cost_usd"] == pytest.approx(cost)
    assert model.drain_usage() == []


@pytest.mark.parametrize("name", list(APIS))
@pytest.mark.parametrize("header", [("Retry-After", "0.25"), ("retry-after-ms", "250")])
def test_429_waits_what_retry_after_says_then_succeeds(
        pm: MebenchPluginManager, server: FakeImageServer, name: str,
        header: tuple[str, str]) -> None:
    server.add_rule(Rule(status=429, headers=dict([header]), times=1))
    model = _build(pm, name, server, backoff=5.0)  # a backoff would wait 5 s: Retry-After wins
    t0 = time.perf_counter()
    (out,) = model.edit(_requests(1))
    elapsed = time.perf_counter() - t0
    assert isinstance(out, Image.Image)
    assert 0.25 <= elapsed < 3.0
    assert len(server.requests) == 2 and server.requests[0]["rule"] == 0
    (usage,) = model.drain_usage()
    assert usage["attempts"] == 2 and usage["status"] == "ok"


@pytest.mark.parametrize("name", list(APIS))
def test_5xx_every_time_is_a_failure_of_that_sample_only(
        pm: MebenchPluginManager, server: FakeImageServer, name: str) -> None:
    server.add_rule(Rule(match="#1", status=503))
    model = _build(pm, name, server, max_retries=2)
    out = model.edit(_requests(3))
    assert isinstance(out[0], Image.Image) and isinstance(out[2], Image.Image)
    assert isinstance(out[1], EditFailure) and out[1].sample_id == "s1"
    assert "503" in out[1].error and "after 3 attempts" in out[1].error
    assert sum("#1" in r["prompt"] for r in server.requests) == 3
    usage = {u["sample_id"]: u for u in model.drain_usage()}
    assert usage["s1"]["status"] == "failed" and usage["s1"]["cost_usd"] == 0.0
    assert KEY not in out[1].error


@pytest.mark.parametrize("name", list(APIS))
def test_timeout_is_retried_then_recorded(pm: MebenchPluginManager, server: FakeImageServer,
                                          name: str) -> None:
    server.add_rule(Rule(delay=1.5))
    model = _build(pm, name, server, timeout=0.25, max_retries=1)
    t0 = time.perf_counter()
    (out,) = model.edit(_requests(1))
    assert time.perf_counter() - t0 < 1.4
    assert isinstance(out, EditFailure)
    assert "timeout" in out.error.lower() or "timed out" in out.error.lower()
    assert "after 2 attempts" in out.error
    assert len(server.requests) == 2


@pytest.mark.parametrize("name", list(APIS))
def test_a_slow_answer_within_the_timeout_succeeds(pm: MebenchPluginManager,
                                                   server: FakeImageServer, name: str) -> None:
    server.add_rule(Rule(delay=0.3))
    model = _build(pm, name, server, timeout=2.0, max_retries=0)
    (out,) = model.edit(_requests(1))
    assert isinstance(out, Image.Image)


@pytest.mark.parametrize("name", list(APIS))
def test_missing_key_names_the_variable(pm: MebenchPluginManager, server: FakeImageServer,
                                        monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    var = APIS[name][0]
    monkeypatch.delenv(var)
    with pytest.raises(MebenchError) as info:
        _build(pm, name, server)
    assert var in str(info.value)
    monkeypatch.setenv("MY_PROXY_KEY", KEY)  # another variable, named by api_key_env
    assert _build(pm, name, server, api_key_env="MY_PROXY_KEY").edit(_requests(1))
    assert len(server.requests) == 1


@pytest.mark.parametrize("name", list(APIS))
def test_a_refused_key_stops_the_run_without_showing_the_key(
        pm: MebenchPluginManager, server: FakeImageServer, monkeypatch: pytest.MonkeyPatch,
        name: str) -> None:
    monkeypatch.setenv(APIS[name][0], "wrong-key-abcdefghij")
    model = _build(pm, name, server)
    with pytest.raises(MebenchError) as info:
        model.edit(_requests(1))
    assert APIS[name][0] in str(info.value) and "401" in str(info.value)
    assert "wrong-key-abcdefghij" not in str(info.value)


@pytest.mark.parametrize("name", list(APIS))
@pytest.mark.parametrize("args, limit", [({"concurrency": 2}, 2), ({"batch_size": 3}, 3)])
def test_concurrency_limit_is_honoured(pm: MebenchPluginManager, server: FakeImageServer,
                                       name: str, args: dict[str, int], limit: int) -> None:
    server.latency = 0.1
    model = _build(pm, name, server, **args)
    out = model.edit(_requests(6))
    assert all(isinstance(o, Image.Image) for o in out)
    assert server.max_in_flight == limit


def test_bad_arguments_are_refused(pm: MebenchPluginManager, server: FakeImageServer) -> None:
    with pytest.raises(MebenchError, match="concurrency must be >= 1"):
        _build(pm, "gpt-image-1", server, concurrency=0)
    with pytest.raises(MebenchError, match="timeout must be > 0"):
        _build(pm, "nano-banana", server, timeout=0)
    with pytest.raises(MebenchError, match="api_key"):  # the key is never an argument
        _build(pm, "gpt-image-1", server, api_key=KEY)
