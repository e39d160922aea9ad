"""Matching and sampling: global/local softmax correlation, warping and convex upsampling.

GMFlow section 3.3: the flow is the expected displacement under a softmax over feature
correlations (``C = F0 F1^T / sqrt(D)``, ``M = softmax(C)``, ``V = M G - G`` with G the pixel
grid), over the whole image (global) or a (2R+1)^2 window (local, at the finer scale).
Coordinates are pixels, x first; sampling uses ``align_corners=True`` as the checkpoints expect.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def coords_grid(b: int, h: int, w: int, *, device: torch.device,
                dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """``[B, 2, H, W]`` pixel coordinates, x first."""
    y, x = torch.meshgrid(torch.arange(h, device=device, dtype=dtype),
                          torch.arange(w, device=device, dtype=dtype), indexing="ij")
    return torch.stack((x, y))[None].expand(b, 2, h, w)


def _window_offsets(radius: int, *, device: torch.device) -> torch.Tensor:
    """``[(2R+1)^2, 2]`` offsets (dx, dy), dy-major: the channel order of the local correlation,
    which the refinement's first convolution depends on."""
    r = torch.arange(-radius, radius + 1, device=device, dtype=torch.float32)
    dy, dx = torch.meshgrid(r, r, indexing="ij")
    return torch.stack((dx, dy), dim=-1).reshape(-1, 2)


def _normalise(coords: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """Pixel coordinates (x, y) -> grid_sample's [-1, 1] (align_corners=True)."""
    scale = torch.tensor([(w - 1) / 2.0, (h - 1) / 2.0], device=coords.device, dtype=coords.dtype)
    return (coords - scale) / scale


def flow_warp(feature: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
    """Sample ``feature`` at ``p + flow(p)`` (bilinear, zeros outside)."""
    b, _, h, w = feature.shape
    coords = (coords_grid(b, h, w, device=flow.device, dtype=flow.dtype) + flow).permute(0, 2, 3, 1)
    return F.grid_sample(feature, _normalise(coords, h, w), mode="bilinear", padding_mode="zeros",
                         align_corners=True)


def global_correlation_softmax(f0: torch.Tensor, f1: torch.Tensor) -> torch.Tensor:
    """Flow from a softmax over all H*W positions of image 1 (GMFlow eq. 2-4)."""
    b, c, h, w = f0.shape
    corr = torch.matmul(f0.flatten(-2).transpose(1, 2), f1.flatten(-2)) / math.sqrt(c)
    prob = torch.softmax(corr, dim=-1)  # [B, H*W, H*W]
    grid = coords_grid(b, h, w, device=f0.device, dtype=prob.dtype)
    match = torch.matmul(prob, grid.flatten(-2).transpose(1, 2))  # [B, H*W, 2]
    return match.transpose(1, 2).reshape(b, 2, h, w) - grid


def _window_samples(f1: torch.Tensor, coords: torch.Tensor, h: int,
                    w: int) -> torch.Tensor:
    """Sample ``f1`` at ``coords`` ``[B, H*W, N, 2]`` -> ``[B, H*W, C, N]`` (zeros outside)."""
    sampled = F.grid_sample(f1, _normalise(coords, h, w).to(f1.dtype), mode="bilinear",
                            padding_mode="zeros", align_corners=True)  # [B, C, H*W, N]
    return sampled.permute(0, 2, 1, 3)


def local_correlation_softmax(f0: torch.Tensor, f1: torch.Tensor, radius: int) -> torch.Tensor:
    """Residual flow from a softmax over a (2R+1)^2 window; out-of-image candidates are masked."""
    b, c, h, w = f0.shape
    grid = coords_grid(b, h, w, device=f0.device)
    coords = grid.flatten(-2).transpose(1, 2).unsqueeze(-2) + _window_offsets(
        radius, device=f0.device)  # [B, H*W, N, 2]
    valid = ((coords[..., 0] >= 0) & (coords[..., 0] < w)
             & (coords[..., 1] >= 0) & (coords[..., 1] < h))  # [B, H*W, N]
    window = _window_samples(f1, coords, h, w)
    query = f0.flatten(-2).transpose(1, 2).unsqueeze(-2)  # [B, H*W, 1, C]
    corr = torch.matmul(query, window).squeeze(-2) / math.sqrt(c)  # [B, H*W, N]
    corr = corr.masked_fill(~valid, -1e9 if corr.dtype == torch.float32 else -1e4)
    prob = torch.softmax(corr, dim=-1)
    match = torch.matmul(prob.unsqueeze(-2), coords.to(prob.dtype)).squeeze(-2)  # [B, H*W, 2]
    return match.transpose(1, 2).reshape(b, 2, h, w) - grid.to(match.dtype)


def local_correlation_with_flow(f0: torch.Tensor, f1: torch.Tensor, flow: torch.Tensor,
                                radius: int) -> torch.Tensor:
    """``[B, (2R+1)^2, H, W]`` correlations of f0 with f1 around ``p + flow(p)`` (the
    refinement's cost volume, UniMatch section 3.4); no masking, zeros outside the image."""
    b, c, h, w = f0.shape
    grid = coords_grid(b, h, w, device=f0.device)
    centre = (grid + flow.float()).flatten(-2).transpose(1, 2).unsqueeze(-2)  # [B, H*W, 1, 2]
    coords = centre + _window_offsets(radius, device=f0.device)
    window = _window_samples(f1, coords, h, w)
    query = f0.flatten(-2).transpose(1, 2).unsqueeze(-2)
    corr = torch.matmul(query, window).squeeze(-2) / math.sqrt(c)  # [B, H*W, N]
    return corr.transpose(1, 2).reshape(b, -1, h, w)


def convex_upsample(flow: torch.Tensor, mask: torch.Tensor, factor: int) -> torch.Tensor:
    """RAFT's convex upsampling: each fine pixel is a softmax-weighted mix of the 3x3 coarse
    neighbours, flow scaled by ``factor``. ``mask`` is ``[B, 9*factor^2, H, W]``."""
    b, ch, h, w = flow.shape
    weights = torch.softmax(mask.view(b, 1, 9, factor, factor, h, w), dim=2)
    patches = F.unfold(factor * flow, [3, 3], padding=1).view(b, ch, 9, 1, 1, h, w)
    up = torch.sum(weights * patches, dim=2)  # [B, 2, K, K, H, W]
    return up.permute(0, 1, 4, 2, 5, 3).reshape(b, ch, factor * h, factor * w)
