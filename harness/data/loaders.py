"""Loaders for each ``dataset.source`` of a task file: hub, parquet, folder and builtin.

Images stay encoded (bytes or paths) in :class:`ImageRef` until a stage needs the pixels, so the
1,015 pairs of MotionEdit-Bench are not decoded at once. Every error names the dataset, the column
or line, and the task field to fix.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mebench.data.imgedit import GENERATOR as IMGEDIT, load_imgedit
from mebench.errors import MebenchError, did_you_mean
from mebench.images import ImageRef
from mebench.types import Sample

if TYPE_CHECKING:
    from mebench.taskfile import DatasetConfig, TaskConfig

Row = Mapping[str, Any]


def _image_ref(value: Any, label: str, base: Path | None = None) -> ImageRef:
    """An image cell (HF ``{"bytes", "path"}`` struct, raw bytes, a path, or a PIL image)."""
    if isinstance(value, Mapping):
        if value.get("bytes"):
            return ImageRef(data=bytes(value["bytes"]), label=label)
        if value.get("path"):
            return ImageRef(path=_resolve(value["path"], base), label=label)
    if isinstance(value, (bytes, bytearray)):
        return ImageRef(data=bytes(value), label=label)
    if isinstance(value, str) and value:
        return ImageRef(path=_resolve(value, base), label=label)
    if hasattr(value, "convert"):
        return ImageRef.of(value, label=label)
    raise MebenchError(f"no image in this cell (got {type(value).__name__})", where=label)


def _resolve(path: str, base: Path | None) -> Path:
    p = Path(path)
    return p if p.is_absolute() or base is None else base / p


def _rows_to_samples(rows: Iterable[Row], columns: Iterable[str], cfg: DatasetConfig,
                     where: str, base: Path | None = None) -> list[Sample]:
    cols = cfg.columns
    present = set(columns)
    wanted = {"id": cols.id, "instruction": cols.instruction, "source": cols.source,
              "target": cols.target, "category": cols.category}
    for field_name, column in wanted.items():
        if column is not None and column not in present:
            raise MebenchError(
                f"column {column!r} (dataset.columns.{field_name}) is missing",
                where=where, hint=did_you_mean(column, sorted(present)),
            )
    samples: list[Sample] = []
    seen: set[str] = set()
    for n, row in enumerate(rows):
        sid = str(row[cols.id])
        if not sid or "/" in sid or "\\" in sid or sid.startswith("."):
            raise MebenchError(f"sample id {sid!r} cannot name a file", where=f"{where} row {n}")
        if sid in seen:
            raise MebenchError(f"duplicate sample id {sid!r}", where=f"{where} row {n}")
        seen.add(sid)
        label = f"sample {sid!r}"
        target = row[cols.target] if cols.target else None
        samples.append(Sample(
            id=sid,
            instruction=str(row[cols.instruction]),
            source=_image_ref(row[cols.source], f"{label} {cols.source}", base),
            target=None if target is None else _image_ref(target, f"{label} {cols.target}", base),
            category=None if cols.category is None or row[cols.category] is None
            else str(row[cols.category]),
        ))
    return samples


def _load_parquet(cfg: DatasetConfig, limit: int | None) -> list[Sample]:
    import pyarrow.parquet as pq

    path = Path(cfg.path).expanduser()
    files = sorted(path.glob("**/*.parquet")) if path.is_dir() else [path]
    if not files or not files[0].exists():
        raise MebenchError(f"no parquet file at {str(path)!r}", where="dataset.path",
                           hint="give a .parquet file or a folder of them (--dataset-path)")
    rows: list[Row] = []
    columns: list[str] = []
    for file in files:
        try:
            table = pq.read_table(file)
        except Exception as exc:  # noqa: BLE001 - pyarrow raises several types
            raise MebenchError(f"cannot read parquet: {exc}", where=str(file)) from exc
        columns = table.column_names
        rows.extend(table.to_pylist())
        if limit is not None and len(rows) >= limit:
            break
    return _rows_to_samples(rows[:limit] if limit is not None else rows, columns, cfg,
                            where=str(files[0]) if len(files) == 1 else str(path))


def _load_hub(cfg: DatasetConfig, limit: int | None) -> list[Sample]:
    import datasets

    try:
        ds = datasets.load_dataset(cfg.path, split=cfg.split, revision=cfg.revision)
    except Exception as exc:  # noqa: BLE001 - offline, missing, gated...
        raise MebenchError(
            f"cannot load hub dataset {cfg.path!r} (split {cfg.split!r}): {exc}",
            where="dataset.path",
            hint="download it where the hub is reachable and pass --dataset-path to the parquet "
            "files",
        ) from exc
    for col in (cfg.columns.source, cfg.columns.target):
        if col and col in ds.column_names:
            ds = ds.cast_column(col, datasets.Image(decode=False))
    if limit is not None:
        ds = ds.select(range(min(limit, len(ds))))
    return _rows_to_samples(ds, ds.column_names, cfg, where=f"hub dataset {cfg.path}")


def _load_folder(cfg: DatasetConfig, limit: int | None) -> list[Sample]:
    """A folder with ``metadata.jsonl`` (one JSON object per line) and the image files."""
    root = Path(cfg.path).expanduser()
    meta = root / "metadata.jsonl"
    if not meta.is_file():
        raise MebenchError(f"no metadata.jsonl in {str(root)!r}", where="dataset.path",
                           hint="a folder dataset lists its rows in metadata.jsonl")
    rows: list[Row] = []
    columns: set[str] = set()
    for lineno, line in enumerate(meta.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise MebenchError(f"invalid JSON: {exc.msg}", where=f"{meta}:{lineno}") from exc
        if not isinstance(row, dict):
            raise MebenchError("each line must be a JSON object", where=f"{meta}:{lineno}")
        rows.append(row)
        columns |= set(row) if not columns else columns & set(row)
        if limit is not None and len(rows) >= limit:
            break
    return _rows_to_samples(rows, columns, cfg, where=str(meta), base=root)


def _load_synthetic(cfg: DatasetConfig, limit: int | None) -> list[Sample]:
    from mebench.synthetic import generate_sample

    options = dict(cfg.options)
    allowed = {"num_samples", "size", "seed"}
    unknown = sorted(set(options) - allowed)
    if unknown:
        raise MebenchError(f"unknown option {unknown[0]!r} of the synthetic generator",
                           where="dataset.options", hint=did_you_mean(unknown[0], sorted(allowed)))
    num = int(options.get("num_samples", 60))
    size = int(options.get("size", 256))
    seed = int(options.get("seed", 0))
    count = num if limit is None else min(num, limit)
    samples = []
    for index in range(count):
        try:
            syn = generate_sample(index, seed=seed, size=size)
        except ValueError as exc:
            raise MebenchError(str(exc), where="dataset.options (--dataset-args)") from exc
        samples.append(Sample(
            id=syn.id, instruction=syn.instruction, category=syn.category,
            source=ImageRef.of(syn.source, label=f"sample {syn.id!r} source"),
            target=ImageRef.of(syn.target, label=f"sample {syn.id!r} target"),
            flow=syn.flow,
            metadata={"synthetic": {"index": index, "seed": seed, "size": size}},
        ))
    return samples


BUILTIN_GENERATORS: Mapping[str, Callable[[DatasetConfig, int | None], list[Sample]]] = {
    "motionedit-synthetic": _load_synthetic,
    IMGEDIT: load_imgedit,
}


def _load_builtin(cfg: DatasetConfig, limit: int | None) -> list[Sample]:
    if cfg.path not in BUILTIN_GENERATORS:
        raise MebenchError(f"unknown builtin dataset {cfg.path!r}", where="dataset.path",
                           hint=did_you_mean(cfg.path, list(BUILTIN_GENERATORS)))
    return BUILTIN_GENERATORS[cfg.path](cfg, limit)


LOADERS: Mapping[str, Callable[[DatasetConfig, int | None], list[Sample]]] = {
    "hub": _load_hub,
    "parquet": _load_parquet,
    "folder": _load_folder,
    "builtin": _load_builtin,
}


def effective_dataset(task: TaskConfig, dataset_path: str | None = None,
                      options: Mapping[str, Any] | None = None) -> DatasetConfig:
    """The task's dataset with ``--dataset-path`` (a local copy) and ``--dataset-args`` applied.

    A local path replaces a hub id: a folder holding ``metadata.jsonl`` is a folder dataset,
    anything else parquet. For a builtin loader that reads files (``imgedit-basic``), the path
    becomes its ``path`` option.
    """
    import types

    cfg = task.dataset
    if dataset_path is not None and cfg.source == "builtin" and cfg.path == IMGEDIT:
        path_option = {"path": str(Path(dataset_path).expanduser())}
        cfg = replace(cfg, options=types.MappingProxyType({**cfg.options, **path_option}))
    elif dataset_path is not None:
        p = Path(dataset_path).expanduser()
        source = "folder" if (p / "metadata.jsonl").is_file() else "parquet"
        cfg = replace(cfg, source=source, path=str(p))
    if options:
        cfg = replace(cfg, options=types.MappingProxyType({**cfg.options, **options}))
    return cfg


def load_samples(cfg: DatasetConfig, limit: int | None = None) -> list[Sample]:
    """All samples of the dataset (the first ``limit``); an empty dataset is an error."""
    if limit is not None and limit <= 0:
        raise MebenchError(f"--limit must be a positive number of samples, got {limit}")
    samples = LOADERS[cfg.source](cfg, limit)
    if not samples:
        raise MebenchError("the dataset has no samples", where=f"dataset {cfg.path!r}")
    return samples
