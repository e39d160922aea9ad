"""GMFlow / UniMatch optical flow, written from the papers, loading the official checkpoints.

Xu, Zhang, Cai, Rezatofighi, Tao, "GMFlow: Learning Optical Flow via Global Matching" (CVPR 2022)
and Xu et al., "Unifying Flow, Stereo and Depth Estimation" (TPAMI 2023). Flow only (no stereo,
depth or bidirectional flow). The pipeline, for each scale from coarse (1/8) to fine (1/4):

1. CNN features of both images (one backbone pass on the stacked pair);
2. at the finer scale, warp image 1's features by the upsampled coarse flow;
3. add sine positions, run the swin-style transformer with ``attn_splits`` windows;
4. match: global softmax correlation (``corr_radius`` -1) or local within radius R; the result
   is the flow, or a residual added to the coarse flow;
5. propagate the flow by self-attention on image-0 features (global, or local radius);
6. at the last scale: convex upsampling to full resolution, or (``reg_refine``) ``num_reg_refine``
   RAFT-style regression steps on a local cost volume, the last one convex-upsampled.

Module attributes are named as the official state dicts' keys, so ``load_state_dict(strict=True)``
takes an official checkpoint's ``"model"`` entry as it is.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from mebench.plugins.unimatch.attention import FeatureTransformer, FlowPropagation, add_position
from mebench.plugins.unimatch.blocks import CNNEncoder, UpdateBlock
from mebench.plugins.unimatch.matching import (
    convex_upsample,
    flow_warp,
    global_correlation_softmax,
    local_correlation_softmax,
    local_correlation_with_flow,
)

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
REFINE_RADIUS = 4  # the refinement's cost-volume radius: 81 channels, fixed by the checkpoints


@dataclass(frozen=True)
class ModelConfig:
    """Architecture settings (the official ``UniMatch(...)`` constructor arguments, flow task)."""

    feature_channels: int = 128
    num_scales: int = 1
    upsample_factor: int = 8
    num_head: int = 1
    ffn_dim_expansion: int = 4
    num_transformer_layers: int = 6
    reg_refine: bool = False


@dataclass(frozen=True)
class InferenceConfig:
    """Per-call settings; one entry per scale, coarse first (the official inference defaults)."""

    attn_splits_list: tuple[int, ...]
    corr_radius_list: tuple[int, ...]
    prop_radius_list: tuple[int, ...]
    num_reg_refine: int = 1


@dataclass(frozen=True)
class Variant:
    model: ModelConfig
    inference: InferenceConfig
    num_parameters: int  # the model zoo's figure, checked by the tests


VARIANTS: dict[str, Variant] = {
    "gmflow-scale1": Variant(
        ModelConfig(num_scales=1, upsample_factor=8),
        InferenceConfig((2,), (-1,), (-1,)), 4_680_288),
    "gmflow-scale2": Variant(
        ModelConfig(num_scales=2, upsample_factor=4),
        InferenceConfig((2, 8), (-1, 4), (-1, 1)), 4_716_720),
    "gmflow-scale2-regrefine6": Variant(
        ModelConfig(num_scales=2, upsample_factor=4, reg_refine=True),
        InferenceConfig((2, 8), (-1, 4), (-1, 1), num_reg_refine=6), 7_360_688),
}


class UniMatchFlow(nn.Module):
    """The flow network. ``forward(img0, img1, cfg)``: float RGB 0-255 ``[B, 3, H, W]`` with H
    and W multiples of :meth:`size_multiple` -> flow ``[B, 2, H, W]`` in pixels, x first."""

    def __init__(self, *, config: ModelConfig) -> None:
        super().__init__()
        c = config.feature_channels
        self.config = config
        self.backbone = CNNEncoder(output_dim=c, num_scales=config.num_scales)
        self.transformer = FeatureTransformer(num_layers=config.num_transformer_layers,
                                              d_model=c, num_head=config.num_head,
                                              ffn_dim_expansion=config.ffn_dim_expansion)
        self.feature_flow_attn = FlowPropagation(channels=c)
        if not config.reg_refine:
            self.upsampler = nn.Sequential(
                nn.Conv2d(2 + c, 256, 3, padding=1), nn.ReLU(inplace=True),
                nn.Conv2d(256, config.upsample_factor ** 2 * 9, 1))
        else:
            self.refine_proj = nn.Conv2d(c, 256, 1)
            self.refine = UpdateBlock(corr_channels=(2 * REFINE_RADIUS + 1) ** 2,
                                      downsample_factor=config.upsample_factor)
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1),
                             persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    def size_multiple(self, cfg: InferenceConfig) -> int:
        """H and W must be multiples of this: at every scale, the feature stride times the
        number of window splits (16 for scale1's official settings, 32 for scale2's)."""
        n = self.config.num_scales
        strides = [self.config.upsample_factor * 2 ** (n - 1 - i) for i in range(n)]
        return math.lcm(*(s * max(k, 1) for s, k in zip(strides, cfg.attn_splits_list)))

    def check_config(self, cfg: InferenceConfig) -> None:
        n = self.config.num_scales
        for name in ("attn_splits_list", "corr_radius_list", "prop_radius_list"):
            if len(getattr(cfg, name)) != n:
                raise ValueError(f"{name} needs {n} entries (one per scale), got "
                                 f"{list(getattr(cfg, name))}")
        if any(k < 1 for k in cfg.attn_splits_list):
            raise ValueError(f"attn_splits_list entries must be >= 1, got {cfg.attn_splits_list}")
        if self.config.reg_refine and cfg.num_reg_refine < 1:
            raise ValueError(f"num_reg_refine must be >= 1, got {cfg.num_reg_refine}")

    def _features(self, img0: torch.Tensor,
                  img1: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Per scale, coarse first: (image-0, image-1) features."""
        b = img0.shape[0]
        feats = self.backbone(torch.cat((img0, img1)))[::-1]
        return [(f[:b], f[b:]) for f in feats]

    def forward(self, img0: torch.Tensor, img1: torch.Tensor,
                cfg: InferenceConfig) -> torch.Tensor:
        self.check_config(cfg)
        img0 = (img0 / 255.0 - self.mean) / self.std
        img1 = (img1 / 255.0 - self.mean) / self.std
        flow: torch.Tensor | None = None
        last = self.config.num_scales - 1
        for scale, (f0, f1) in enumerate(self._features(img0, img1)):
            f0_cnn, f1_cnn = f0, f1  # the refinement correlates the raw CNN features
            if flow is not None:
                # 1/8 -> 1/4: values double with the resolution
                flow = F.interpolate(flow, scale_factor=2.0, mode="bilinear",
                                     align_corners=True) * 2
                f1 = flow_warp(f1, flow)
            splits = cfg.attn_splits_list[scale]
            f0, f1 = add_position(f0, f1, splits)
            f0, f1 = self.transformer(f0, f1, splits)
            radius = cfg.corr_radius_list[scale]
            if radius == -1:
                pred = global_correlation_softmax(f0, f1)
            else:
                pred = local_correlation_softmax(f0, f1, radius)
            flow = pred if flow is None else flow + pred
            flow = self.feature_flow_attn(f0, flow, radius=cfg.prop_radius_list[scale])
            if scale == last:
                if not self.config.reg_refine:
                    mask = self.upsampler(torch.cat((flow, f0), dim=1))
                    return convex_upsample(flow, mask, self.config.upsample_factor)
                return self._refine(flow, f0, f0_cnn, f1_cnn, cfg.num_reg_refine)
        raise AssertionError("unreachable: the scale loop returns")

    def _refine(self, flow: torch.Tensor, feature: torch.Tensor, f0: torch.Tensor,
                f1: torch.Tensor, steps: int) -> torch.Tensor:
        """UniMatch's local regression refinement. As in the official code the GRU state is
        re-initialised from the transformer features at every step (the checkpoints were trained
        so), and only the last step's mask upsamples the flow."""
        mask = flow  # replaced in the first step (steps >= 1 is checked)
        for _ in range(steps):
            corr = local_correlation_with_flow(f0, f1, flow, REFINE_RADIUS)
            net, inp = torch.chunk(self.refine_proj(feature), 2, dim=1)
            _, mask, delta = self.refine(torch.tanh(net), torch.relu(inp), corr, flow)
            flow = flow + delta
        return convex_upsample(flow, mask, self.config.upsample_factor)


def build_model(variant: str) -> UniMatchFlow:
    """A randomly initialised model of a named variant (load a checkpoint into it)."""
    if variant not in VARIANTS:
        raise ValueError(f"unknown UniMatch variant {variant!r}; known: {', '.join(VARIANTS)}")
    return UniMatchFlow(config=VARIANTS[variant].model)


def extract_state_dict(obj: object, *, source: str) -> dict[str, torch.Tensor]:
    """The state dict inside a loaded checkpoint: the official files wrap it as ``{"model": ...}``
    (with optimizer state and step counters beside it); a bare state dict is accepted too."""
    if isinstance(obj, dict) and "model" in obj and isinstance(obj["model"], dict):
        obj = obj["model"]
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise ValueError(f"{source} holds no state dict (expected a dict of tensors, or one under "
                         "the key 'model')")
    return obj


def load_checkpoint(model: UniMatchFlow, path: str | Path, *, variant: str = "") -> None:
    """Load an official ``.pth`` into ``model`` strictly (every key, every shape); a file that
    cannot be read or does not fit is a ValueError naming it."""
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - unpickling raises many types
        raise ValueError(f"cannot read checkpoint {str(path)!r}: {exc}") from exc
    state = extract_state_dict(obj, source=str(path))
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        detail = " ".join(str(exc).split())
        detail = detail if len(detail) < 300 else detail[:300] + " ..."
        raise ValueError(f"{str(path)!r} is not a UniMatch {variant or 'flow'} checkpoint "
                         f"(pass the matching variant=): {detail}") from exc


def param_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
