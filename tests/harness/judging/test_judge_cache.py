"""The judge response cache: what its keys depend on, what it stores, and what it survives."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from mebench.judging.cache import ResponseCache, identity_json, request_key
from mebench.judging.types import JudgeResult

IDENTITY = {"provider": "openai", "model": "gpt-4o", "mode": "rubric", "prompt_id": "p-v1",
            "prompt_hash": "h1", "settings": {"temperature": 0.0, "seed": 0}}
IMAGES = {"instruction": "Raise the arm.", "source": "s", "edited": "e", "target": None}


def _result(cacheable: bool = True) -> JudgeResult:
    return JudgeResult({"fidelity": 4.0, "preservation": 3.0, "coherence": 2.0, "overall": 3.0},
                       '{"fidelity": 4}', None, "structured", "p-v1", "h1",
                       {"input_tokens": 10, "output_tokens": 2, "total_tokens": 12}, cacheable)


def test_the_key_changes_with_everything_that_changes_the_answer() -> None:
    base = request_key(IDENTITY, **IMAGES)  # type: ignore[arg-type]
    assert base == request_key(dict(IDENTITY), **IMAGES)  # type: ignore[arg-type]
    variants = [
        {**IDENTITY, "provider": "openai-compatible"}, {**IDENTITY, "model": "gpt-4.1"},
        {**IDENTITY, "mode": "expected-score"}, {**IDENTITY, "prompt_hash": "h2"},
        {**IDENTITY, "settings": {"temperature": 0.5, "seed": 0}},
        {**IDENTITY, "settings": {"temperature": 0.0, "seed": 1}},
    ]
    keys = {request_key(v, **IMAGES) for v in variants}  # type: ignore[arg-type]
    for field, value in (("instruction", "Lower the arm."), ("source", "s2"), ("edited", "e2"),
                         ("target", "t")):
        keys.add(request_key(IDENTITY, **{**IMAGES, field: value}))  # type: ignore[arg-type]
    assert base not in keys and len(keys) == len(variants) + 4


def test_replies_round_trip_and_persist(tmp_path: Path) -> None:
    path = tmp_path / "judge" / "responses.sqlite"
    cache = ResponseCache(path)
    cache.put("k1", IDENTITY, _result())
    cache.put("k2", IDENTITY, _result(cacheable=False))  # no reply came: not stored
    cache.close()
    again = ResponseCache(path)
    assert len(again) == 1
    assert again.get("k1") == _result() and again.get("k2") is None
    again.close()


def test_a_damaged_entry_is_asked_again(tmp_path: Path) -> None:
    path = tmp_path / "responses.sqlite"
    ResponseCache(path).put("k1", IDENTITY, _result())
    with sqlite3.connect(path) as db:
        db.execute("UPDATE responses SET result = '{\"scores\": ' WHERE key = 'k1'")
    assert ResponseCache(path).get("k1") is None


def test_a_batch_is_stored_like_single_puts(tmp_path: Path) -> None:
    one = ResponseCache(tmp_path / "one.sqlite")
    one.put("k1", IDENTITY, _result())
    batch = ResponseCache(tmp_path / "batch.sqlite")
    batch.put_many([("k1", _result()), ("k2", _result(cacheable=False)), ("k3", _result())],
                   identity_json(IDENTITY))
    assert len(batch) == 2 and batch.get("k1") == batch.get("k3") == _result()
    assert batch.get("k2") is None
    rows = [db.execute("SELECT identity, result FROM responses WHERE key = 'k1'").fetchone()
            for db in (one._db, batch._db)]
    assert rows[0] == rows[1]
    one.close()
    batch.close()
