"""ImgEdit-Bench's basic set (general editing; the MotionEdit paper's Table 2), from its release.

Assumed release format (the ``Benchmark/Basic`` folder of PKU-YuanGroup/ImgEdit, whose
``basic_bench.py`` reads it): one JSON file, ``basic_edit.json``, mapping each benchmark key to
``{"id": <image path relative to the original-image root>, "prompt": <instruction>,
"edit_type": <category>}``, plus a folder of original images (``animal/000342021.jpg``, ...).
The key is the sample id (ImgEdit names each edited image ``<key>.png``). There is no target
image and no motion flow: the task is judged only.

``edit_type`` spellings map to the Table 2 category names: ``add``, ``adjust``/``alter``,
``replace``, ``remove``, ``background``, ``style``, ``compose``/``hybrid``, ``action`` and
``extract`` (the ninth category, which the paper's Table 2 leaves out). Any other value is an
error naming the key.

Options (task-file ``dataset.options`` or ``--dataset-args``; ``--dataset-path`` sets ``path``):
``path``, the JSON file or a folder holding ``basic_edit.json``; ``images``, the root of the
original images (default: the JSON file's folder).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mebench.errors import MebenchError, did_you_mean
from mebench.images import ImageRef
from mebench.types import Sample

if TYPE_CHECKING:
    from mebench.taskfile import DatasetConfig

JSON_NAME = "basic_edit.json"
GENERATOR = "imgedit-basic"

# Table 2's column order; Extract last (not in the paper's table).
CATEGORIES: tuple[str, ...] = (
    "Add", "Adjust", "Replace", "Remove", "Background", "Style", "Hybrid", "Action", "Extract",
)
PAPER_CATEGORIES: tuple[str, ...] = CATEGORIES[:8]
EDIT_TYPES: Mapping[str, str] = {
    "add": "Add", "adjust": "Adjust", "alter": "Adjust", "replace": "Replace",
    "remove": "Remove", "background": "Background", "style": "Style", "compose": "Hybrid",
    "hybrid": "Hybrid", "action": "Action", "extract": "Extract",
}
OPTIONS = ("path", "images")


def json_path(path: str | Path) -> Path:
    """The JSON file: ``path`` itself, or ``basic_edit.json`` inside the folder ``path``."""
    p = Path(path).expanduser()
    return p / JSON_NAME if p.is_dir() else p


def load_imgedit(cfg: DatasetConfig, limit: int | None) -> list[Sample]:
    """The samples of ``basic_edit.json``, in the file's key order (the first ``limit``)."""
    # 1. Check the options
    options = dict(cfg.options)
    unknown = sorted(set(options) - set(OPTIONS))
    if unknown:
        raise MebenchError(f"unknown option {unknown[0]!r} of the {GENERATOR} dataset",
                           where="dataset.options (--dataset-args)",
                           hint=did_you_mean(unknown[0], list(OPTIONS)))
    if not options.get("path"):
        raise MebenchError(f"the {GENERATOR} dataset needs the path of {JSON_NAME}",
                           where="dataset.options.path",
                           hint=f"pass --dataset-path /data/ImgEdit/Benchmark/Basic (the folder "
                           f"holding {JSON_NAME}) or the file itself")
    meta = json_path(str(options["path"]))
    if not meta.is_file():
        raise MebenchError(f"no {JSON_NAME} at {str(meta)!r}", where="dataset.options.path",
                           hint="give the JSON file of ImgEdit's basic benchmark or its folder")
    images = Path(str(options.get("images") or meta.parent)).expanduser()
    if not images.is_dir():
        raise MebenchError(f"the image root {str(images)!r} is not a folder",
                           where="dataset.options.images")

    # 2. Read the JSON mapping
    try:
        data = json.loads(meta.read_text(encoding="utf-8"), object_pairs_hook=_unique_keys)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MebenchError(f"cannot read {JSON_NAME}: {exc}", where=str(meta)) from exc
    if not isinstance(data, dict):
        raise MebenchError(f"expected a JSON object mapping keys to edits, got "
                           f"{type(data).__name__}", where=str(meta))

    # 3. One sample per key
    samples: list[Sample] = []
    for key, entry in data.items():
        if limit is not None and len(samples) >= limit:
            break
        samples.append(_sample(str(key), entry, meta, images))
    return samples


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise MebenchError(f"duplicate key {key!r}", where=JSON_NAME)
        out[key] = value
    return out


def _sample(key: str, entry: Any, meta: Path, images: Path) -> Sample:
    where = f"{meta}: key {key!r}"
    if not key or "/" in key or "\\" in key or key.startswith("."):
        raise MebenchError(f"key {key!r} cannot name a file", where=where)
    if not isinstance(entry, dict):
        raise MebenchError("expected an object {id, prompt, edit_type}", where=where)
    for name in ("id", "prompt", "edit_type"):
        if not isinstance(entry.get(name), str) or not entry[name]:
            raise MebenchError(f"field {name!r} is missing or not a non-empty string",
                               where=where, hint="each entry is {id: image path, prompt: "
                               "instruction, edit_type: category}")
    edit_type = entry["edit_type"].strip().lower()
    if edit_type not in EDIT_TYPES:
        raise MebenchError(f"unknown edit_type {entry['edit_type']!r}", where=where,
                           hint=did_you_mean(edit_type, sorted(EDIT_TYPES)))
    image = images / entry["id"]
    if not image.is_file():
        raise MebenchError(f"original image {entry['id']!r} not found under {str(images)!r}",
                           where=where, hint="set the image root with --dataset-args images=DIR")
    return Sample(
        id=key, instruction=entry["prompt"], category=EDIT_TYPES[edit_type],
        source=ImageRef(path=image, label=f"sample {key!r} source"), target=None,
        metadata={"imgedit": {"image": entry["id"], "edit_type": entry["edit_type"]}},
    )
