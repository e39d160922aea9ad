"""Training recipes: YAML files loaded into frozen dataclasses, validated like task files.

A recipe names the backbone, the dataset, the rewards and their weights, and every hyperparameter
of MotionNFT training (REFERENCE.md); the dataclass defaults (:mod:`.recipe_schema`) are
REFERENCE.md's values. Files whose names start with ``_`` are include-only bases; ``include:``
merges them under the file (as for task files). Every error names ``FILE:LINE: FIELD.PATH``; an
unknown key is an error. ``--set key.path=value`` overrides (``rewards.0.weight=0.3`` indexes
lists) are applied to the tree before validation, and their errors name ``--set:N`` (the N-th
``--set``).

The located-YAML reader and the include merge are the task-file loader's (:mod:`mebench.
taskfile.loader`); only ``yaml`` and the standard library are imported.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import fields
from pathlib import Path
from typing import Any

import yaml

from mebench.errors import MebenchError, did_you_mean
from mebench.taskfile.loader import _merge, read_tree
from mebench.taskfile.schema import Node, args_mapping, describe, where
from mebench.trainers.recipe_schema import (
    AdvantageConfig, BackboneConfig, DatasetConfig, EMAConfig, EvalConfig, GroupFilterConfig,
    LoggingConfig, LoraConfig, NFTConfig, OldPolicyConfig, OptimizerConfig, RecipeConfig, RewardConfig, SamplingConfig,
    TrainingConfig,
)

__all__ = ["RecipeConfig", "RewardConfig", "apply_overrides", "builtin_recipe_dir",
           "load_recipe_file", "recipe_files"]

NAME_PATTERN = r"[a-z0-9][a-z0-9._-]*"
DATASET_SOURCES = ("hub", "parquet", "builtin")
PRECISIONS = ("bf16", "fp16", "fp32")


# Checks of single values ----------------------------------------------------------------------

Check = Callable[[Node, str], Any]


def _fail(node: Node, path: str, expected: str) -> MebenchError:
    return MebenchError(f"expected {expected}, got {describe(node.value)}",
                        where=where(node.file, node.line, path))


def _string(node: Node, path: str) -> str:
    if not isinstance(node.value, str) or not node.value:
        raise _fail(node, path, "a non-empty string")
    return node.value


def _text(node: Node, path: str) -> str:
    if not isinstance(node.value, str):
        raise _fail(node, path, "a string")
    return node.value


def _optional(check: Check) -> Check:
    return lambda node, path: None if node.value is None else check(node, path)


def _bool(node: Node, path: str) -> bool:
    if not isinstance(node.value, bool):
        raise _fail(node, path, "true or false")
    return node.value


def _int(minimum: int) -> Check:
    def check(node: Node, path: str) -> int:
        if isinstance(node.value, bool) or not isinstance(node.value, int) or node.value < minimum:
            raise _fail(node, path, f"an integer >= {minimum}")
        return node.value
    return check


_EXPONENT = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+")


def _number(low: float = -math.inf, high: float = math.inf, *, open_low: bool = False,
            open_high: bool = False, nonzero: bool = False) -> Check:
    """A finite number in the range; ``1e-4`` (a string to YAML 1.1, which wants ``1.0e-4``)
    is read as the number it spells."""
    parts = []
    if low > -math.inf:
        parts.append(f"{'>' if open_low else '>='} {low:g}")
    if high < math.inf:
        parts.append(f"{'<' if open_high else '<='} {high:g}")
    if nonzero:
        parts.append("not 0")
    rule = "a number" + (" " + " and ".join(parts) if parts else "")

    def check(node: Node, path: str) -> float:
        v = node.value
        if isinstance(v, str) and _EXPONENT.fullmatch(v):
            v = float(v)
        ok = (not isinstance(v, bool) and isinstance(v, (int, float)) and math.isfinite(v)
              and (v > low if open_low else v >= low) and (v < high if open_high else v <= high)
              and not (nonzero and v == 0))
        if not ok:
            raise _fail(node, path, rule)
        return float(v)
    return check


def _choice(options: Sequence[str]) -> Check:
    def check(node: Node, path: str) -> str:
        if node.value not in options or not isinstance(node.value, str):
            raise _fail(node, path, "one of " + ", ".join(options))
        return node.value
    return check


def _name(node: Node, path: str) -> str:
    if not isinstance(node.value, str) or not re.fullmatch(NAME_PATTERN, node.value):
        raise _fail(node, path, f"a name matching {NAME_PATTERN}")
    return node.value


def _strings(node: Node, path: str) -> tuple[str, ...]:
    if not isinstance(node.value, list) or not node.value:
        raise _fail(node, path, "a non-empty list of strings")
    return tuple(_string(item, f"{path}[{i}]") for i, item in enumerate(node.value))


def _betas(node: Node, path: str) -> tuple[float, float]:
    if not isinstance(node.value, list) or len(node.value) != 2:
        raise _fail(node, path, "a list of two numbers in [0, 1)")
    check = _number(0.0, 1.0, open_high=True)
    return (check(node.value[0], f"{path}[0]"), check(node.value[1], f"{path}[1]"))


def _version(node: Node, path: str) -> int | str:
    if isinstance(node.value, bool) or not isinstance(node.value, (int, str)) or node.value == "":
        raise _fail(node, path, "an integer or a non-empty string")
    return node.value


# Sections -------------------------------------------------------------------------------------


def _section(cls: type, checks: dict[str, Check]) -> Check:
    """A mapping checked key by key into ``cls``; fields without a default are required."""
    required = {f.name for f in fields(cls) if f.default is dataclasses.MISSING
                and f.default_factory is dataclasses.MISSING}

    def check(node: Node, path: str) -> Any:
        if not isinstance(node.value, dict):
            raise _fail(node, path or "(top level)", "a mapping")
        values: dict[str, Any] = {}
        for key, child in node.value.items():
            if key not in checks:
                raise MebenchError(f"unknown key {key!r}",
                                   where=where(child.file, child.line, _join(path, key)),
                                   hint=did_you_mean(key, list(checks)))
            values[key] = checks[key](child, _join(path, key))
        for key in sorted(required - set(values)):
            section = f"section {path!r}" if path else "the recipe"
            raise MebenchError(f"missing required field {key!r} in {section}",
                               where=where(node.file, node.line, _join(path, key)))
        return cls(**values)
    return check


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _rewards(node: Node, path: str) -> tuple[RewardConfig, ...]:
    if not isinstance(node.value, list) or not node.value:
        raise _fail(node, path, "a non-empty list of rewards {name, weight, args}")
    reward = _section(RewardConfig, {"name": _name, "weight": _number(nonzero=True),
                                     "args": args_mapping})
    items: list[RewardConfig] = []
    for i, item in enumerate(node.value):
        parsed = reward(item, f"{path}[{i}]")
        if parsed.name in {r.name for r in items}:
            raise MebenchError(f"reward {parsed.name!r} is listed twice",
                               where=where(item.file, item.line, f"{path}[{i}]"))
        items.append(parsed)
    return tuple(items)


_POSITIVE = _number(0.0, open_low=True)
_NONNEG = _number(0.0)
_RECIPE = _section(RecipeConfig, {
    "recipe": _name, "version": _version, "description": _text,
    "backbone": _section(BackboneConfig, {"name": _name, "model": _optional(_string),
                                          "args": args_mapping}),
    "dataset": _section(DatasetConfig, {"source": _choice(DATASET_SOURCES), "path": _string,
                                        "split": _string, "resolution": _int(1),
                                        "limit": _optional(_int(1)), "options": args_mapping}),
    "rewards": _rewards,
    "lora": _section(LoraConfig, {"rank": _int(1), "alpha": _POSITIVE,
                                  "dropout": _number(0.0, 1.0, open_high=True),
                                  "target_modules": _strings}),
    "sampling": _section(SamplingConfig, {"num_steps": _int(1), "order": _int(1),
                                          "shift": _POSITIVE, "group_size": _int(2),
                                          "groups_per_step": _int(1)}),
    "nft": _section(NFTConfig, {"beta": _POSITIVE, "kl_weight": _NONNEG,
                                "weight_floor": _POSITIVE,
                                "train_timesteps": _optional(_int(1))}),
    "advantages": _section(AdvantageConfig, {"std_eps": _POSITIVE, "clip": _POSITIVE}),
    "group_filter": _section(GroupFilterConfig, {"enabled": _bool, "std_below": _NONNEG,
                                                 "mean_above": _number()}),
    "old_policy": _section(OldPolicyConfig, {"decay_rate": _NONNEG,
                                             "decay_cap": _number(0.0, 1.0)}),
    "ema": _section(EMAConfig, {"enabled": _bool, "decay": _number(0.0, 1.0, open_high=True)}),
    "optimizer": _section(OptimizerConfig, {"lr": _POSITIVE, "betas": _betas,
                                            "weight_decay": _NONNEG, "eps": _POSITIVE,
                                            "grad_clip": _POSITIVE}),
    "training": _section(TrainingConfig, {
        "max_steps": _int(1), "micro_batch_size": _int(1),
        "mixed_precision": _choice(PRECISIONS), "gradient_checkpointing": _bool,
        "seed": _int(0), "checkpoint_every": _int(1), "device": _optional(_string),
        "cpu_threads": _optional(_int(1)), "fsdp_text_encoder": _bool}),
    "eval": _section(EvalConfig, {"every": _optional(_int(1)), "samples": _int(1),
                                  "adapter": _choice(("current", "ema")),
                                  "flow": _optional(_name), "flow_args": args_mapping,
                                  "judge": _bool}),
    "logging": _section(LoggingConfig, {"tensorboard": _bool}),
})  # ``include:`` is consumed by _resolve before checking


# Files ----------------------------------------------------------------------------------------


def _resolve(path: Path, chain: tuple[Path, ...]) -> Node:
    """The file's tree with its ``include:`` files (relative to it) merged underneath."""
    tree = read_tree(path, "recipe file", "a recipe is a YAML mapping of training settings")
    entries = dict(tree.value)
    include = entries.pop("include", None)
    merged = Node({}, path, tree.line)
    names = [] if include is None else (
        include.value if isinstance(include.value, list) else [include])
    for item in names:
        if not isinstance(item.value, str) or not item.value:
            raise _fail(item, "include", "a file name or a list of file names")
        target = (path.parent / item.value).resolve()
        if target in chain:
            raise MebenchError("include cycle: " + " -> ".join(p.name for p in (*chain, target)),
                               where=where(path, item.line, "include"))
        if not target.is_file():
            raise MebenchError(f"included file {item.value!r} not found",
                               where=where(path, item.line, "include"), hint=f"looked for {target}")
        merged = _merge(merged, _resolve(target, (*chain, target)))
    return _merge(merged, Node(entries, path, tree.line))


def _node_of(value: Any, file: Path, line: int) -> Node:
    if isinstance(value, dict):
        return Node({str(k): _node_of(v, file, line) for k, v in value.items()}, file, line)
    if isinstance(value, list):
        return Node([_node_of(v, file, line) for v in value], file, line)
    return Node(value, file, line)


def apply_overrides(tree: Node, overrides: Sequence[str]) -> Node:
    """``key.path=value`` (value read as YAML) applied onto the tree, one after the other."""
    source = Path("--set")
    for number, text in enumerate(overrides, start=1):
        key, sep, raw = text.partition("=")
        if not sep or not key.strip():
            raise MebenchError(f"{text!r} is not key=value", where=f"--set:{number}",
                               hint="write e.g. --set optimizer.lr=1e-4")
        try:
            value = yaml.safe_load(raw) if raw.strip() else ""
        except yaml.YAMLError:
            value = raw
        tree = _set(tree, key.strip().split("."), _node_of(value, source, number), number, key)
    return tree


def _set(node: Node, keys: list[str], value: Node, number: int, full: str) -> Node:
    if not keys:
        return value
    head, rest = keys[0], keys[1:]
    if isinstance(node.value, list):
        if not head.isdigit() or int(head) >= len(node.value):
            raise MebenchError(f"{full!r}: {head!r} is not an index of a list of "
                               f"{len(node.value)}", where=f"--set:{number}")
        items = list(node.value)
        items[int(head)] = _set(items[int(head)], rest, value, number, full)
        return Node(items, node.file, node.line)
    entries = dict(node.value) if isinstance(node.value, dict) else {}
    child = entries.get(head, Node({}, value.file, value.line))
    entries[head] = _set(child, rest, value, number, full)
    return Node(entries, node.file, node.line)


def load_recipe_file(path: str | Path, *, overrides: Sequence[str] = ()) -> RecipeConfig:
    """Load, merge, override and validate a recipe file; raises :class:`MebenchError`."""
    path = Path(path)
    tree = apply_overrides(_resolve(path, (path.resolve(),)), overrides)
    config: RecipeConfig = _RECIPE(tree, "")
    if config.dataset.options and config.dataset.source != "builtin":
        node = tree.value["dataset"].value["options"]
        raise MebenchError(f"'options' applies only to source 'builtin', not "
                           f"{config.dataset.source!r}",
                           where=where(node.file, node.line, "dataset.options"))
    if config.eval.adapter == "ema" and not config.ema.enabled:
        node = tree.value["eval"].value["adapter"]
        raise MebenchError("eval.adapter 'ema' needs the EMA, which is off",
                           where=where(node.file, node.line, "eval.adapter"),
                           hint="set ema.enabled: true or eval.adapter: current")
    return dataclasses.replace(config, path=path)


def builtin_recipe_dir() -> Path:
    return Path(__file__).resolve().parent / "recipes"


def recipe_files(folder: Path) -> list[Path]:
    """The recipe files of a folder (``*.yaml``, not the ``_`` bases), sorted."""
    return sorted(p for p in folder.glob("*.yaml") if not p.name.startswith("_"))
