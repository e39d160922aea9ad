"""Where RAFT's weights come from: a torchvision weight enum, a checkpoint file, or (tests only)
a seeded random initialisation.

An enum's file (``weights=C_T_SKHT_V2``) is looked for, in order, in torch's hub cache,
``torch.hub.get_dir()/checkpoints/<file name of the enum's url>`` (where torchvision itself puts
and finds it), and in ``$MEBENCH_HOME/weights/`` (where ``mebench download raft-large`` puts it:
every enum is registered with mebench's weights registry). A run never downloads: a missing file is
a :class:`MebenchError` that names the file and the hub cache path to put it at, the download
command, and ``checkpoint=PATH``. There is no fallback to random weights: those only come with the
explicit test-only flag ``random_weights=true``.

This module is imported when the plugin registers its weights: it must not import torch.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mebench.errors import MebenchError

if TYPE_CHECKING:
    import torch

    from mebench.weights import WeightFile

URL_BASE = "https://download.pytorch.org/models/"

# name -> (torchvision builder, weight enum class, default member)
VARIANTS: dict[str, tuple[str, str, str]] = {
    "raft-large": ("raft_large", "Raft_Large_Weights", "C_T_SKHT_V2"),
    "raft-small": ("raft_small", "Raft_Small_Weights", "C_T_V2"),
}

# (variant, enum member) -> file name of torchvision's url (a test checks them against the enums;
# listed here so that registering the weights does not import torchvision)
FILES: dict[tuple[str, str], str] = {
    ("raft-large", "C_T_V1"): "raft_large_C_T_V1-22a6c225.pth",
    ("raft-large", "C_T_V2"): "raft_large_C_T_V2-1bb1363a.pth",
    ("raft-large", "C_T_SKHT_V1"): "raft_large_C_T_SKHT_V1-0b8c9e55.pth",
    ("raft-large", "C_T_SKHT_V2"): "raft_large_C_T_SKHT_V2-ff5fadd5.pth",
    ("raft-large", "C_T_SKHT_K_V1"): "raft_large_C_T_SKHT_K_V1-4a6a5039.pth",
    ("raft-large", "C_T_SKHT_K_V2"): "raft_large_C_T_SKHT_K_V2-b5c70766.pth",
    ("raft-small", "C_T_V1"): "raft_small_C_T_V1-ad48884c.pth",
    ("raft-small", "C_T_V2"): "raft_small_C_T_V2-01064c6d.pth",
}


@dataclass(frozen=True)
class ResolvedWeights:
    """A state dict (``None``: random init) and the identity that goes into the cache key."""

    state_dict: dict[str, torch.Tensor] | None
    identity: str


def weights_name(variant: str, member: str) -> str:
    """The registry name: ``raft-large`` for the default enum, ``raft-large-C_T_V1`` otherwise."""
    return variant if member == VARIANTS[variant][2] else f"{variant}-{member}"


def weight_files() -> list[WeightFile]:
    """Every torchvision RAFT checkpoint, as records for ``mebench download``."""
    from mebench.weights import WeightFile

    return [WeightFile(name=weights_name(variant, member), url=URL_BASE + filename,
                       filename=filename, sha256=None,
                       description=f"torchvision {variant} {VARIANTS[variant][1]}.{member}")
            for (variant, member), filename in FILES.items()]


def check_member(variant: str, member: str) -> None:
    if (variant, member) not in FILES:
        known = [m for v, m in FILES if v == variant]
        raise ValueError(f"unknown weights {member!r} for {variant}; choose one of "
                         f"{', '.join(known)} (or pass checkpoint=PATH)")


def hub_cache_file(filename: str) -> Path:
    """``torch.hub.get_dir()/checkpoints/<filename>``."""
    import torch

    return Path(torch.hub.get_dir()) / "checkpoints" / filename


def read_state_dict(path: Path, where: str) -> dict[str, torch.Tensor]:
    """A state dict from a ``.safetensors`` file or a torch pickle (loaded ``weights_only``)."""
    import torch

    if not path.is_file():
        raise MebenchError(f"checkpoint file {str(path)!r} does not exist", where=where,
                           hint="fix the path given with --flow-args checkpoint=PATH")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            state: Any = load_file(str(path))
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - torch/safetensors raise many types
        raise MebenchError(f"cannot read checkpoint {str(path)!r}: {exc}", where=where,
                           hint="give a RAFT state dict saved with torch.save or safetensors"
                           ) from exc
    if isinstance(state, dict) and len(state) == 1:
        (only,) = state.values()
        if isinstance(only, dict):  # {"state_dict": {...}} or {"model": {...}}
            state = only
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise MebenchError(f"{str(path)!r} does not hold a state dict of tensors", where=where)
    return state


def _enum_file(variant: str, member: str) -> Path:
    from mebench.weights import weights_dir

    filename = FILES[(variant, member)]
    hub = hub_cache_file(filename)
    for candidate in (hub, weights_dir() / filename):
        if candidate.is_file():
            return candidate
    name = weights_name(variant, member)
    raise MebenchError(
        f"the weights file {filename} ({VARIANTS[variant][1]}.{member}) is missing",
        where=f"flow {variant!r}",
        hint=f"put {filename} (from {URL_BASE}{filename}) at {hub} (the torch hub cache, "
             f"torch.hub.get_dir()/checkpoints), or run `mebench download {name}` where the "
             f"internet is reachable, or pass --flow-args checkpoint=PATH")


def resolve(variant: str, *, weights: str | None, checkpoint: str | None,
            random_weights: bool) -> ResolvedWeights:
    """Pick the one weight source the arguments name; contradictory arguments are errors."""
    from mebench.weights import sha256_of

    if random_weights and (checkpoint is not None or weights is not None):
        raise ValueError("random_weights=true cannot be combined with weights= or checkpoint=")
    if checkpoint is not None and weights is not None:
        raise ValueError("give weights=ENUM or checkpoint=PATH, not both")
    if random_weights:
        return ResolvedWeights(None, "random-init")
    if checkpoint is not None:
        path = Path(checkpoint).expanduser()
        state = read_state_dict(path, where=f"flow {variant!r} checkpoint")
        return ResolvedWeights(state, f"checkpoint-sha256:{sha256_of(path)[:16]}")
    member = weights or VARIANTS[variant][2]
    check_member(variant, member)
    path = _enum_file(variant, member)
    state = read_state_dict(path, where=f"flow {variant!r} weights={member}")
    return ResolvedWeights(state, f"{VARIANTS[variant][1]}.{member}")
