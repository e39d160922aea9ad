"""Built-in RAFT flow estimators (torchvision): registration only, the model is in :mod:`.model`.

Weights: torchvision's enums (``weights=C_T_SKHT_V2``) from torch's hub cache or from
``mebench download raft-large`` (every enum is registered with the weights registry), a state dict
file (``checkpoint=PATH``), or, for tests and speed measurements only, ``random_weights=true``.
"""

from __future__ import annotations

from typing import Any

from mebench.hookspecs import Register, RegisterWeights, hookimpl


def _factory(variant: str) -> Any:
    def build(*, weights: str | None = None, checkpoint: str | None = None,
              random_weights: bool = False, seed: int = 0, num_flow_updates: int = 12,
              device: str | None = None) -> Any:
        from mebench.plugins.raft.model import RAFTFlow

        return RAFTFlow(variant=variant, weights=weights, checkpoint=checkpoint,
                        random_weights=random_weights, seed=seed,
                        num_flow_updates=num_flow_updates, device=device)

    return build


@hookimpl
def mebench_register_flow_estimators(register: Register) -> None:
    register("raft-large", _factory("raft-large"),
             description="torchvision RAFT large (5.3M; weights=C_T_SKHT_V2 default, "
             "checkpoint=PATH, num_flow_updates=12).")
    register("raft-small", _factory("raft-small"),
             description="torchvision RAFT small (1.0M; weights=C_T_V2 default, checkpoint=PATH, "
             "num_flow_updates=12).")


@hookimpl
def mebench_register_weights(register: RegisterWeights) -> None:
    from mebench.plugins.raft.weights import weight_files

    for weight in weight_files():
        register(weight)
