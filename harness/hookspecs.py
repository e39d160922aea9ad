"""The hooks a mebench plugin can implement.

A plugin is any module or object registered under the ``mebench`` entry-point group, the built-ins
included. Registration hooks are called once, when the plugin manager is built; they must be cheap:
register a name, a one-line description and a *factory*, and import torch, diffusers or an API
client only inside the factory.

``register`` has the signature ``register(name, factory, *, description)``. The factory is called
with keyword arguments only: the user's ``--model-args`` / ``--flow-args`` plus the runner's
settings that the factory's signature names (``device``, ``batch_size``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import pluggy

if TYPE_CHECKING:
    import click

    from mebench.weights import WeightFile

hookspec = pluggy.HookspecMarker("mebench")
hookimpl = pluggy.HookimplMarker("mebench")


class Register(Protocol):
    def __call__(self, name: str, factory: Callable[..., Any], *, description: str) -> None: ...


# -- plugin kinds -----------------------------------------------------------------------------


@hookspec
def mebench_register_models(register: Register) -> None:
    """Register editing-model adapters (``--model``).

    Called once when the plugin manager is built. The factory returns an object with
    ``edit(requests: Sequence[EditRequest]) -> list[PIL.Image.Image | EditFailure]``
    (see :mod:`mebench.contracts`).
    """


@hookspec
def mebench_register_flow_estimators(register: Register) -> None:
    """Register optical-flow estimators (``--flow``).

    The factory returns an object with ``estimate(src, dst) -> Tensor[B, 2, H, W]`` (pixels,
    x first), where ``src`` and ``dst`` are float tensors ``[B, 3, H, W]`` holding RGB in 0-255.
    """


@hookspec
def mebench_register_judges(register: Register) -> None:
    """Register MLLM judges (``--judge``): async ``score(JudgeRequest) -> JudgeResult``."""


@hookspec
def mebench_register_recipes(register: Register) -> None:
    """Register training recipes (``mebench train --recipe``): ``train(config) -> Path``.

    The factory takes no arguments and returns an object with ``load(overrides) -> config``
    (``overrides``: the ``--set key.path=value`` strings) and ``train(config, *, output, pm,
    resume=False, progress=True) -> Path`` (the final checkpoint folder). A recipe shipped as a
    YAML file can use :func:`mebench.trainers.plugin.file_recipe` (see its module).
    """


# -- weights ----------------------------------------------------------------------------------


class RegisterWeights(Protocol):
    def __call__(self, weight: WeightFile) -> None: ...


@hookspec
def mebench_register_weights(register: RegisterWeights) -> None:
    """Register downloadable weight files (``mebench download NAME``, ``mebench download --list``).

    Called whenever the weights are listed (``mebench download``). ``register(weight)`` takes a
    :class:`mebench.weights.WeightFile` (name, url, filename, sha256 or ``None``, description);
    registering must stay cheap (no download, no torch). ``mebench download`` saves the file as
    ``$MEBENCH_HOME/weights/<filename>``, and the plugin's factory finds it there with
    :func:`mebench.weights.resolve` (which never downloads: a missing file is an error that says
    what to run or where to put it). A name another plugin registered first is reported, and the
    first registration kept.
    """


# -- tasks and commands -----------------------------------------------------------------------


@hookspec
def mebench_register_task_dirs() -> list[Path]:
    """Return folders of YAML task files that this plugin ships (searched after the built-ins)."""
    return []


@hookspec
def mebench_register_commands(cli: click.Group) -> None:
    """Add click commands to the ``mebench`` command line (called when the CLI is built)."""
