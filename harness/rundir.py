"""The run directory: its lock, its files and what makes a restart safe.

```
run.json              config echo, task hash, versions, seeds, git hash, timings
outputs/<id>.png      the edited images (written atomically, one per finished sample)
samples.partial.jsonl per-sample records appended as scoring goes (a torn last line is ignored)
samples.jsonl         the final per-sample records, in dataset order
results.json          the aggregate (no timings: a resumed run ends byte-identical)
```
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from mebench.errors import MebenchError
from mebench.images import atomic_write_text

RUN_JSON = "run.json"
RESULTS_JSON = "results.json"
SAMPLES_JSONL = "samples.jsonl"
PARTIAL_JSONL = "samples.partial.jsonl"
LOCK_FILE = ".lock"


def dumps(obj: Any) -> str:
    """The one JSON style of every file mebench writes."""
    return json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


class RunDir:
    """One model's run of one task."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.outputs = path / "outputs"

    def output_path(self, sample_id: str) -> Path:
        return self.outputs / f"{sample_id}.png"

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Hold an exclusive lock for the whole run; a second run on the directory is refused.

        ``flock`` is released by the kernel when the process dies, so a killed run never leaves a
        stale lock behind.
        """
        self.path.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.read(fd, 64).decode(errors="replace").strip() or "another process"
                raise MebenchError(
                    f"another mebench run is using this run directory (pid {holder})",
                    where=str(self.path),
                    hint="wait for it to finish, or give this run another --output",
                ) from None
            os.ftruncate(fd, 0)
            os.write(fd, str(os.getpid()).encode())
            yield
        finally:
            os.close(fd)

    # -- run.json -------------------------------------------------------------------------------

    def read_run_json(self) -> dict[str, Any] | None:
        path = self.path / RUN_JSON
        if not path.is_file():
            return None
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise MebenchError(f"corrupt run.json: {exc}", where=str(path),
                               hint="delete the run directory to start over") from exc
        return data if isinstance(data, dict) else None

    def check_compatible(self, task: str, generation_key: str) -> None:
        """Refuse a directory made by another task, or by another model / arguments / seed."""
        previous = self.read_run_json()
        if previous is None:
            if any(self.outputs.glob("*.png")):
                raise MebenchError("the directory holds outputs but no run.json",
                                   where=str(self.path), hint="give this run another --output")
            return
        if previous.get("task", {}).get("task") != task:
            raise MebenchError(
                f"this run directory was made by task {previous.get('task', {}).get('task')!r}, "
                f"not {task!r}", where=str(self.path), hint="give this run another --output")
        if previous.get("generation_key") != generation_key:
            raise MebenchError(
                "this run directory was made with another model, model arguments or seed "
                f"({previous.get('model')}, {previous.get('model_args')}, seed "
                f"{previous.get('seed')})", where=str(self.path),
                hint="give this run another --output, or delete the directory")

    def write_run_json(self, data: dict[str, Any]) -> None:
        atomic_write_text(self.path / RUN_JSON, dumps(data))

    # -- per-sample records -------------------------------------------------------------------

    def read_partial(self) -> dict[str, dict[str, Any]]:
        """Records written so far, by sample id; a torn final line (a kill mid-write) is dropped."""
        return read_records(self.path / PARTIAL_JSONL)

    def append_partial(self, records: list[dict[str, Any]]) -> None:
        path = self.path / PARTIAL_JSONL
        text = "".join(json.dumps(r, sort_keys=True, ensure_ascii=False) + "\n" for r in records)
        with open(path, "a", encoding="utf-8") as fh:
            if fh.tell() > 0:
                _ensure_newline(path, fh)
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())

    def write_samples(self, records: list[dict[str, Any]]) -> None:
        text = "".join(json.dumps(r, sort_keys=True, ensure_ascii=False) + "\n" for r in records)
        atomic_write_text(self.path / SAMPLES_JSONL, text)

    def write_results(self, results: dict[str, Any]) -> None:
        atomic_write_text(self.path / RESULTS_JSON, dumps(results))


def _ensure_newline(path: Path, fh: Any) -> None:
    """After a torn write the file may end mid-line; start the next record on a fresh line."""
    with open(path, "rb") as rb:
        rb.seek(-1, os.SEEK_END)
        if rb.read(1) != b"\n":
            fh.write("\n")


def read_records(path: Path) -> dict[str, dict[str, Any]]:
    """Per-sample records of a JSONL file by sample id (later lines win); lines that do not
    parse, such as one torn by a kill, are skipped; a missing file has none."""
    records: dict[str, dict[str, Any]] = {}
    if not path.is_file():
        return records
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(record, dict) and "id" in record:
            records[str(record["id"])] = record
    return records


def read_results(run_dir: Path) -> dict[str, Any]:
    """results.json of a finished run, or a MebenchError naming the directory."""
    path = run_dir / RESULTS_JSON
    if not path.is_file():
        raise MebenchError("no results.json (the run has not finished)", where=str(run_dir),
                           hint="run the same `mebench run` command again to finish it")
    return read_json_object(path)


def read_json_object(path: Path) -> dict[str, Any]:
    """A JSON file holding one object; unreadable, corrupt or not an object is a MebenchError
    naming the file."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise MebenchError(f"unreadable or corrupt {path.name}: {exc}", where=str(path)) from exc
    if not isinstance(data, dict):
        raise MebenchError(f"{path.name} is not a JSON object", where=str(path))
    return data
