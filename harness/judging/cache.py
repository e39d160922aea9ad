"""The persistent judge response cache: one sqlite file under ``$MEBENCH_HOME/cache``.

A key is the sha256 of everything that changes a judge's answer (see :func:`request_key`); a
value is the per-sample judge record (scores, raw reply, method, prompt, usage). Each reply is
committed as soon as it arrives (the judge stage commits the replies that arrive in one turn of
its event loop together, :meth:`ResponseCache.put_many`), so a killed judge stage loses only the
requests in flight, and a rerun asks nothing it already has. Only replies are stored: a request
that got no reply (a timeout or an HTTP error after the retries) is asked again next time.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from mebench.judging.types import JudgeResult

SCHEMA = """
CREATE TABLE IF NOT EXISTS responses (
    key TEXT PRIMARY KEY,
    identity TEXT NOT NULL,
    result TEXT NOT NULL,
    created REAL NOT NULL
)
"""


def request_key(identity: Mapping[str, Any], *, instruction: str, source: str, edited: str,
                target: str | None) -> str:
    """sha256 of the judge identity, the instruction and the images' digests."""
    blob = json.dumps({"judge": identity, "instruction": instruction, "source": source,
                       "edited": edited, "target": target}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def identity_json(identity: Mapping[str, Any]) -> str:
    """How a judge identity is stored next to its replies."""
    return json.dumps(identity, sort_keys=True, default=str)


class ResponseCache:
    """``get(key)`` / ``put(key, identity, result)`` over one sqlite file (WAL, safe to share
    between processes)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), timeout=60, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(SCHEMA)

    def get(self, key: str) -> JudgeResult | None:
        row = self._db.execute("SELECT result FROM responses WHERE key = ?", (key,)).fetchone()
        if row is None:
            return None
        try:
            return JudgeResult.from_record(json.loads(row[0]))
        except (ValueError, KeyError, TypeError):  # a damaged entry is asked again
            return None

    def put(self, key: str, identity: Mapping[str, Any], result: JudgeResult) -> None:
        self.put_many([(key, result)], identity)

    def put_many(self, entries: Sequence[tuple[str, JudgeResult]],
                 identity: Mapping[str, Any] | str) -> None:
        """Store ``(key, result)`` pairs of one judge in one transaction; ``identity`` may be
        given already as :func:`identity_json`."""
        rows = [(key, result.record()) for key, result in entries if result.cacheable]
        if not rows:
            return
        ident = identity if isinstance(identity, str) else identity_json(identity)
        now = time.time()
        values = [(key, ident, json.dumps(record, sort_keys=True, ensure_ascii=False), now)
                  for key, record in rows]
        insert = ("INSERT OR REPLACE INTO responses (key, identity, result, created) "
                  "VALUES (?,?,?,?)")
        if len(values) == 1:  # autocommit: one statement is one transaction
            self._db.execute(insert, values[0])
            return
        self._db.execute("BEGIN IMMEDIATE")
        try:
            self._db.executemany(insert, values)
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def __len__(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM responses").fetchone()[0])

    def close(self) -> None:
        self._db.close()
