"""The ``unimatch`` flow estimator: input handling around :class:`UniMatchFlow`.

Input as the official MotionNFT reward code feeds UniMatch: float RGB 0-255, zero-padded at the
bottom and right to a multiple of 32, the flow cropped back (``padding="pad32"``; overridden
``attn_splits_list`` may need a larger multiple, which is then used). The official
evaluation scripts' alternative (``padding="resize"``) resizes both images bilinearly
(``align_corners=True``) to the nearest multiple of 32 above, and resizes the flow back, scaling
x and y by the size ratios. Batches go through the network as one batch.
"""

from __future__ import annotations

import contextlib
import math
import re
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path

import torch
import torch.nn.functional as F

from mebench.plugins.unimatch.model import (
    VARIANTS,
    InferenceConfig,
    UniMatchFlow,
    build_model,
    load_checkpoint,
)
from mebench.weights import sha256_of

PADDINGS = ("pad32", "resize")
DTYPES = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}


def _pick_device(device: str | None) -> torch.device:
    if device in (None, "", "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


class UniMatchEstimator:
    """Forward optical flow with GMFlow/UniMatch.

    ``checkpoint`` is an official ``.pth`` (or a bare state dict) loaded strictly; ``None`` is
    allowed only with ``random_weights=True``, a test-only switch that builds a seeded random
    network (its flows mean nothing). ``inference`` defaults to the variant's official settings.
    ``dtype`` bf16/fp16 runs the network under ``torch.autocast`` (the flow comes back float32).
    ``version`` (``<variant>+<first 12 hex of the checkpoint's sha256>``) goes into the flow
    cache's keys, so flows of different weights are never mixed.
    """

    supports_autocast = True  # FlowService's --flow-dtype may wrap estimate() in autocast

    def __init__(self, *, variant: str = "gmflow-scale2-regrefine6",
                 checkpoint: str | Path | None = None, random_weights: bool = False,
                 seed: int = 0, device: str | None = None, padding: str = "pad32",
                 dtype: str = "fp32", inference: InferenceConfig | None = None) -> None:
        # 1. check the arguments
        if variant not in VARIANTS:
            raise ValueError(f"unknown variant {variant!r}; choose one of {', '.join(VARIANTS)}")
        if padding not in PADDINGS:
            raise ValueError(f"padding must be one of {', '.join(PADDINGS)}, got {padding!r}")
        if dtype not in DTYPES:
            raise ValueError(f"dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")
        if (checkpoint is None) == (not random_weights):
            raise ValueError("give exactly one of checkpoint=PATH and random_weights=true "
                             "(random weights are for tests only)")
        self.variant = variant
        self.padding = padding
        self.dtype = dtype
        self.inference = inference or VARIANTS[variant].inference
        self.device = _pick_device(device)
        # 2. build, then load the weights (strict) or draw seeded random ones
        if random_weights:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(seed)
                self.model: UniMatchFlow = build_model(variant)
            weights_id = f"random-seed{seed}"
        else:
            path = Path(checkpoint)  # type: ignore[arg-type]
            self.model = build_model(variant)
            load_checkpoint(self.model, path, variant=variant)
            weights_id = sha256_of(path)[:12]
        self.model.check_config(self.inference)
        self.model.eval().requires_grad_(False).to(self.device)
        self.multiple = math.lcm(32, self.model.size_multiple(self.inference))
        # 3. the cache identity (the flow cache adds the arguments): another checkpoint's flows
        # are never served for this one's
        self.version = f"{variant}+{weights_id}"

    @contextlib.contextmanager
    def _autocast(self) -> Iterator[None]:
        amp = DTYPES[self.dtype]
        if amp is None:
            yield
        else:
            with torch.autocast(self.device.type, dtype=amp):
                yield

    def estimate(self, src: torch.Tensor, dst: torch.Tensor) -> torch.Tensor:
        """``[B, 3, H, W]`` float RGB 0-255 (any H, W >= 1) -> ``[B, 2, H, W]`` float32 pixels."""
        if src.ndim != 4 or src.shape[1] != 3:
            raise ValueError(f"expected a [B, 3, H, W] RGB batch, got shape {tuple(src.shape)}")
        if src.shape != dst.shape:
            raise ValueError(f"src and dst shapes differ: {tuple(src.shape)} vs {tuple(dst.shape)}")
        h, w = src.shape[-2:]
        src = src.to(self.device, torch.float32)
        dst = dst.to(self.device, torch.float32)
        with torch.inference_mode(), self._autocast():
            if self.padding == "pad32":
                ph, pw = _round_up(h, self.multiple), _round_up(w, self.multiple)
                pad = (0, pw - w, 0, ph - h)  # left, right, top, bottom: zeros at bottom/right
                flow = self.model(F.pad(src, pad), F.pad(dst, pad), self.inference)
                flow = flow[..., :h, :w].float()
            else:
                size = (_round_up(h, self.multiple), _round_up(w, self.multiple))
                resized = [F.interpolate(t, size=size, mode="bilinear", align_corners=True)
                           if size != (h, w) else t for t in (src, dst)]
                flow = self.model(resized[0], resized[1], self.inference).float()
                if size != (h, w):
                    flow = F.interpolate(flow, size=(h, w), mode="bilinear", align_corners=True)
                    scale = torch.tensor([w / size[1], h / size[0]], device=flow.device)
                    flow = flow * scale.view(1, 2, 1, 1)
        return flow.contiguous()


def _round_up(n: int, factor: int) -> int:
    return -(-n // factor) * factor


IntList = Sequence[int] | int | str


def _int_list(name: str, value: IntList) -> tuple[int, ...]:
    """A list of ints from a task file's YAML list, one int, or a command-line string such as
    ``"2;8"`` (``--flow-args`` separates arguments with commas, so lists use ``;`` there)."""
    if isinstance(value, bool):
        raise ValueError(f"{name} must be a list of integers, got {value!r}")
    if isinstance(value, int):
        return (value,)
    parts = re.split(r"[;\s]+", value.strip(" []")) if isinstance(value, str) else list(value)
    try:
        ints = tuple(int(v) for v in parts if v != "")
    except (TypeError, ValueError):
        ints = ()
    if not ints or any(isinstance(v, (bool, float)) for v in parts):
        raise ValueError(f"{name} must be a list of integers (on the command line e.g. "
                         f"{name}=2;8), got {value!r}")
    return ints


def inference_config(variant: str, *, attn_splits_list: IntList | None = None,
                     corr_radius_list: IntList | None = None,
                     prop_radius_list: IntList | None = None,
                     num_reg_refine: int | None = None) -> InferenceConfig:
    """The variant's official settings with the given overrides."""
    base = VARIANTS[variant].inference
    changes: dict[str, object] = {}
    for name, value in (("attn_splits_list", attn_splits_list),
                        ("corr_radius_list", corr_radius_list),
                        ("prop_radius_list", prop_radius_list)):
        if value is not None:
            changes[name] = _int_list(name, value)
    if num_reg_refine is not None:
        if isinstance(num_reg_refine, bool) or not isinstance(num_reg_refine, int):
            raise ValueError(f"num_reg_refine must be an integer, got {num_reg_refine!r}")
        changes["num_reg_refine"] = num_reg_refine
    return replace(base, **changes)  # type: ignore[arg-type]
