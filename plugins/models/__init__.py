"""Built-in reference models: registration only (the adapters live in :mod:`.reference`)."""

from __future__ import annotations

from typing import Any

from mebench.hookspecs import Register, hookimpl


def _ground_truth() -> Any:
    from mebench.plugins.models.reference import GroundTruthModel

    return GroundTruthModel()


def _identity() -> Any:
    from mebench.plugins.models.reference import IdentityModel

    return IdentityModel()


def _folder(*, path: str) -> Any:
    from mebench.plugins.models.reference import FolderModel

    return FolderModel(path=path)


def _synthetic_motion(*, fraction: float = 1.0) -> Any:
    from mebench.plugins.models.reference import SyntheticMotionModel

    return SyntheticMotionModel(fraction=float(fraction))


@hookimpl
def mebench_register_models(register: Register) -> None:
    register("ground-truth", _ground_truth,
             description="Returns the ground-truth target: the ceiling of every metric.")
    register("identity", _identity,
             description="Returns the input unchanged: the 'editing inertia' floor.")
    register("folder", _folder,
             description="Scores images made elsewhere: path=DIR holding <sample id>.png.")
    register("synthetic-motion", _synthetic_motion,
             description="Synthetic task only: renders fraction=F of each sample's true motion.")
