"""Built-in UniMatch (GMFlow) flow estimator and its official weights: registration only.

The network is in :mod:`.model` (with :mod:`.blocks`, :mod:`.attention`, :mod:`.matching`), the
input handling in :mod:`.estimator`; torch is imported only when the factory runs.

Weights: ``--flow-args checkpoint=PATH``, or the file that ``mebench download <weights name>``
put in ``$MEBENCH_HOME/weights`` (``weights=NAME`` picks another of the model zoo's flow
checkpoints; the default is the variant's ``mixdata`` one). Nothing is downloaded by a run, and
there is no silent fallback: ``random_weights=true`` (seeded, meaningless flows) exists for tests
and speed measurements only.

Arguments (``--flow-args k=v,...``): ``variant`` (gmflow-scale1 | gmflow-scale2 |
gmflow-scale2-regrefine6), ``weights``, ``checkpoint``, ``padding`` (``pad32``: zero-pad
bottom/right as the MotionNFT reward code, the default; ``resize``: as the official evaluation),
``dtype`` (fp32 | bf16 | fp16 autocast), and overrides of the official inference settings
``attn_splits_list``, ``corr_radius_list``, ``prop_radius_list`` (lists; on the command line
written with ``;``, e.g. ``attn_splits_list=2;8``) and ``num_reg_refine``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mebench.hookspecs import Register, RegisterWeights, hookimpl
from mebench.weights import WeightFile

DEFAULT_VARIANT = "gmflow-scale2-regrefine6"
_ZOO = "https://s3.eu-central-1.amazonaws.com/avg-projects/unimatch/pretrained/"

# weights name -> (variant, file name in the UniMatch model zoo, training data). The trailing hex
# of each file name is the upstream tag; the publisher gives no full digest, so sha256 is None.
_CHECKPOINTS: dict[str, tuple[str, str, str]] = {
    "unimatch": (DEFAULT_VARIANT,
                 "gmflow-scale2-regrefine6-mixdata-train320x576-4e7b215d.pth", "mixed data"),
    "unimatch-scale2": ("gmflow-scale2",
                        "gmflow-scale2-mixdata-train320x576-9ff1c094.pth", "mixed data"),
    "unimatch-scale1": ("gmflow-scale1",
                        "gmflow-scale1-mixdata-train320x576-4c3a6e9a.pth", "mixed data"),
    "unimatch-scale2-regrefine6-things": (DEFAULT_VARIANT,
                                          "gmflow-scale2-regrefine6-things-776ed612.pth",
                                          "Chairs+Things"),
    "unimatch-scale2-regrefine6-sintelft": (DEFAULT_VARIANT,
                                            "gmflow-scale2-regrefine6-sintelft-6e39e2b9.pth",
                                            "Sintel fine-tuned"),
    "unimatch-scale2-regrefine6-kitti": (DEFAULT_VARIANT,
                                         "gmflow-scale2-regrefine6-kitti15-25b554d7.pth",
                                         "KITTI fine-tuned"),
    "unimatch-scale2-things": ("gmflow-scale2", "gmflow-scale2-things-36579974.pth",
                               "Chairs+Things"),
    "unimatch-scale2-sintel": ("gmflow-scale2", "gmflow-scale2-sintel-3ed1cf48.pth",
                               "Sintel fine-tuned"),
    "unimatch-scale1-things": ("gmflow-scale1", "gmflow-scale1-things-e9887eda.pth",
                               "Chairs+Things"),
}
_DEFAULT_WEIGHTS = {"gmflow-scale2-regrefine6": "unimatch", "gmflow-scale2": "unimatch-scale2",
                    "gmflow-scale1": "unimatch-scale1"}


def weight_file(name: str) -> WeightFile:
    """The :class:`WeightFile` record of one of UniMatch's flow checkpoints."""
    variant, filename, data = _CHECKPOINTS[name]
    return WeightFile(name=name, url=_ZOO + filename, filename=filename, sha256=None,
                      description=f"UniMatch {variant}, {data}")


def _unimatch(*, variant: str | None = None, weights: str | None = None,
              checkpoint: str | None = None, random_weights: bool = False, seed: int = 0,
              device: str | None = None, padding: str = "pad32", dtype: str = "fp32",
              attn_splits_list: Sequence[int] | str | None = None,
              corr_radius_list: Sequence[int] | str | None = None,
              prop_radius_list: Sequence[int] | str | None = None,
              num_reg_refine: int | None = None) -> Any:
    from mebench.weights import resolve

    # 1. the variant and its weights agree
    if weights is not None and weights not in _CHECKPOINTS:
        raise ValueError(f"unknown UniMatch weights {weights!r}; known: "
                         f"{', '.join(sorted(_CHECKPOINTS))}")
    if weights is not None and variant is not None and _CHECKPOINTS[weights][0] != variant:
        raise ValueError(f"weights {weights!r} are for variant {_CHECKPOINTS[weights][0]!r}, "
                         f"not {variant!r}")
    variant = variant or (_CHECKPOINTS[weights][0] if weights else DEFAULT_VARIANT)
    if variant not in _DEFAULT_WEIGHTS:
        raise ValueError(f"unknown UniMatch variant {variant!r}; known: "
                         f"{', '.join(_DEFAULT_WEIGHTS)}")
    if random_weights and (weights is not None or checkpoint is not None):
        raise ValueError("random_weights=true cannot be combined with weights= or checkpoint=")
    # 2. the file: an explicit checkpoint, else the cached download (never a silent fallback)
    path = None
    if not random_weights:
        path = resolve(weight_file(weights or _DEFAULT_WEIGHTS[variant]), checkpoint,
                       owner=f"flow 'unimatch' ({variant})")
    from mebench.plugins.unimatch.estimator import UniMatchEstimator, inference_config

    inference = inference_config(variant, attn_splits_list=attn_splits_list,
                                 corr_radius_list=corr_radius_list,
                                 prop_radius_list=prop_radius_list, num_reg_refine=num_reg_refine)
    return UniMatchEstimator(variant=variant, checkpoint=path, random_weights=random_weights,
                             seed=seed, device=device, padding=padding, dtype=dtype,
                             inference=inference)


@hookimpl
def mebench_register_flow_estimators(register: Register) -> None:
    register("unimatch", _unimatch,
             description="UniMatch/GMFlow (default gmflow-scale2-regrefine6, 7.4M, as the "
             "MotionNFT reward; checkpoint=PATH or `mebench download unimatch`).")


@hookimpl
def mebench_register_weights(register: RegisterWeights) -> None:
    for name in _CHECKPOINTS:
        register(weight_file(name))
