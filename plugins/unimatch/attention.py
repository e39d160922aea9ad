"""Attention parts of GMFlow/UniMatch: the feature transformer and flow propagation.

The transformer (GMFlow section 3.2) alternates self- and cross-attention over both images'
features, with single-head attention inside K x K windows ("attn_splits" K), shifted by half a
window on every other layer as in the Swin Transformer (Liu et al., ICCV 2021). Flow propagation
(GMFlow section 3.4) spreads the matched flow by self-attention on the first image's features.

Attribute names follow the official checkpoints' keys (``transformer.layers.N.self_attn.q_proj``,
``feature_flow_attn.k_proj`` ...).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

# -- window helpers -----------------------------------------------------------------------------


def split_windows(x: torch.Tensor, k: int) -> torch.Tensor:
    """``[B, C, H, W]`` -> ``[B*K*K, C, H/K, W/K]``, windows in row-major order per batch item."""
    b, c, h, w = x.shape
    x = x.view(b, c, k, h // k, k, w // k).permute(0, 2, 4, 1, 3, 5)
    return x.reshape(b * k * k, c, h // k, w // k)


def merge_windows(x: torch.Tensor, k: int) -> torch.Tensor:
    """Inverse of :func:`split_windows`."""
    bkk, c, hk, wk = x.shape
    b = bkk // (k * k)
    x = x.view(b, k, k, c, hk, wk).permute(0, 3, 1, 4, 2, 5)
    return x.reshape(b, c, k * hk, k * wk)


def _split_windows_last(x: torch.Tensor, k: int) -> torch.Tensor:
    """``[B, H, W, C]`` -> ``[B*K*K, H/K * W/K, C]`` (channels-last twin of split_windows)."""
    b, h, w, c = x.shape
    x = x.view(b, k, h // k, k, w // k, c).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(b * k * k, (h // k) * (w // k), c)


def _merge_windows_last(x: torch.Tensor, k: int, h: int, w: int) -> torch.Tensor:
    """``[B*K*K, H/K * W/K, C]`` -> ``[B, H, W, C]``."""
    bkk, _, c = x.shape
    b = bkk // (k * k)
    x = x.view(b, k, k, h // k, w // k, c).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(b, h, w, c)


def position_embedding(b: int, c: int, h: int, w: int, *, device: torch.device,
                       temperature: float = 10000.0) -> torch.Tensor:
    """DETR's normalised 2-D sine embedding, ``[B, C, H, W]``: C/2 channels for y, then C/2 for x.

    Coordinates are normalised to (0, 2*pi] over the map (or the window) it is computed for.
    """
    npf = c // 2
    ones = torch.ones((b, h, w), device=device)
    y = ones.cumsum(1, dtype=torch.float32)
    x = ones.cumsum(2, dtype=torch.float32)
    eps = 1e-6
    y = y / (y[:, -1:, :] + eps) * (2 * math.pi)
    x = x / (x[:, :, -1:] + eps) * (2 * math.pi)
    dim_t = torch.arange(npf, dtype=torch.float32, device=device)
    dim_t = temperature ** (2 * torch.div(dim_t, 2, rounding_mode="floor") / npf)
    pos_x = x[..., None] / dim_t
    pos_y = y[..., None] / dim_t
    pos_x = torch.stack((pos_x[..., 0::2].sin(), pos_x[..., 1::2].cos()), dim=4).flatten(3)
    pos_y = torch.stack((pos_y[..., 0::2].sin(), pos_y[..., 1::2].cos()), dim=4).flatten(3)
    return torch.cat((pos_y, pos_x), dim=3).permute(0, 3, 1, 2)


def add_position(f0: torch.Tensor, f1: torch.Tensor,
                 splits: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Add the same sine embedding to both feature maps; with ``splits`` > 1 it is computed per
    window, so every window sees the same positions (GMFlow's implementation)."""
    if splits > 1:
        w0, w1 = split_windows(f0, splits), split_windows(f1, splits)
        pos = position_embedding(*w0.shape, device=f0.device).to(f0.dtype)
        return merge_windows(w0 + pos, splits), merge_windows(w1 + pos, splits)
    pos = position_embedding(*f0.shape, device=f0.device).to(f0.dtype)
    return f0 + pos, f1 + pos


def shifted_window_mask(h: int, w: int, k: int, *, device: torch.device) -> torch.Tensor:
    """Additive attention mask ``[K*K, N, N]`` (N = window area) for shifted windows.

    After rolling the map by half a window, a window can hold pixels from up to four regions that
    were not neighbours; pairs from different regions get -100 (Swin's masked attention).
    """
    wh, ww = h // k, w // k
    sh, sw = wh // 2, ww // 2
    region = torch.zeros((1, h, w, 1), device=device)
    label = 0
    for hs in (slice(0, -wh), slice(-wh, -sh), slice(-sh, None)):
        for ws in (slice(0, -ww), slice(-ww, -sw), slice(-sw, None)):
            region[:, hs, ws, :] = label
            label += 1
    windows = _split_windows_last(region, k).squeeze(-1)  # [K*K, N]
    diff = windows.unsqueeze(1) - windows.unsqueeze(2)
    return diff.masked_fill(diff != 0, -100.0).masked_fill(diff == 0, 0.0)


def window_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, *, h: int, w: int,
                     splits: int, mask: torch.Tensor | None) -> torch.Tensor:
    """Single-head attention inside ``splits`` x ``splits`` windows; ``[B, H*W, C]`` in and out.

    With ``mask`` (the shifted layers) the maps are rolled by half a window first and back after.
    """
    b, _, c = q.shape
    shift = (-(h // splits // 2), -(w // splits // 2))
    q, k, v = (t.view(b, h, w, c) for t in (q, k, v))
    if mask is not None:
        q, k, v = (torch.roll(t, shifts=shift, dims=(1, 2)) for t in (q, k, v))
    q, k, v = (_split_windows_last(t, splits) for t in (q, k, v))
    scores = torch.matmul(q, k.transpose(1, 2)) / math.sqrt(c)  # [B*K*K, N, N]
    if mask is not None:
        scores = scores + mask.to(scores.dtype).repeat(b, 1, 1)
    out = _merge_windows_last(torch.matmul(torch.softmax(scores, dim=-1), v), splits, h, w)
    if mask is not None:
        out = torch.roll(out, shifts=(-shift[0], -shift[1]), dims=(1, 2))
    return out.reshape(b, h * w, c)


def full_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    scores = torch.matmul(q, k.transpose(1, 2)) / math.sqrt(q.shape[-1])
    return torch.matmul(torch.softmax(scores, dim=-1), v)


# -- transformer --------------------------------------------------------------------------------


class TransformerLayer(nn.Module):
    """Single-head attention, a linear merge and layer norm; with ``ffn`` an MLP on the
    concatenation of the input and the message (GMFlow's cross-attention layer)."""

    def __init__(self, *, d_model: int = 128, ffn: bool = True, ffn_dim_expansion: int = 4) -> None:
        super().__init__()
        self.q_proj = nn.Linear(d_model, d_model, bias=False)
        self.k_proj = nn.Linear(d_model, d_model, bias=False)
        self.v_proj = nn.Linear(d_model, d_model, bias=False)
        self.merge = nn.Linear(d_model, d_model, bias=False)
        self.norm1 = nn.LayerNorm(d_model)
        self.ffn = ffn
        if ffn:
            hidden = 2 * d_model * ffn_dim_expansion
            self.mlp = nn.Sequential(nn.Linear(2 * d_model, hidden, bias=False), nn.GELU(),
                                     nn.Linear(hidden, d_model, bias=False))
            self.norm2 = nn.LayerNorm(d_model)

    def forward(self, source: torch.Tensor, target: torch.Tensor, *, h: int, w: int, splits: int,
                mask: torch.Tensor | None) -> torch.Tensor:
        q, k, v = self.q_proj(source), self.k_proj(target), self.v_proj(target)
        if splits > 1:
            message = window_attention(q, k, v, h=h, w=w, splits=splits, mask=mask)
        else:
            message = full_attention(q, k, v)
        message = self.norm1(self.merge(message))
        if self.ffn:
            message = self.norm2(self.mlp(torch.cat([source, message], dim=-1)))
        return source + message


class TransformerBlock(nn.Module):
    """Self-attention (no FFN), then cross-attention with FFN."""

    def __init__(self, *, d_model: int = 128, ffn_dim_expansion: int = 4) -> None:
        super().__init__()
        self.self_attn = TransformerLayer(d_model=d_model, ffn=False,
                                          ffn_dim_expansion=ffn_dim_expansion)
        self.cross_attn_ffn = TransformerLayer(d_model=d_model, ffn_dim_expansion=ffn_dim_expansion)

    def forward(self, source: torch.Tensor, target: torch.Tensor, *, h: int, w: int, splits: int,
                mask: torch.Tensor | None) -> torch.Tensor:
        source = self.self_attn(source, source, h=h, w=w, splits=splits, mask=mask)
        return self.cross_attn_ffn(source, target, h=h, w=w, splits=splits, mask=mask)


class FeatureTransformer(nn.Module):
    """``num_layers`` blocks over both images at once (the pair is stacked on the batch axis, so
    image 0 attends to image 1 and image 1 to image 0 with the same weights)."""

    def __init__(self, *, num_layers: int = 6, d_model: int = 128, num_head: int = 1,
                 ffn_dim_expansion: int = 4) -> None:
        super().__init__()
        if num_head != 1:
            raise ValueError("only single-head attention (num_head=1) is implemented, as in the "
                             "official GMFlow/UniMatch checkpoints")
        self.d_model = d_model
        self.layers = nn.ModuleList(
            TransformerBlock(d_model=d_model, ffn_dim_expansion=ffn_dim_expansion)
            for _ in range(num_layers))
        for p in self.parameters():
            if p.dim() > 1:
                nn.init.xavier_uniform_(p)

    def forward(self, f0: torch.Tensor, f1: torch.Tensor,
                splits: int) -> tuple[torch.Tensor, torch.Tensor]:
        b, c, h, w = f0.shape
        mask = shifted_window_mask(h, w, splits, device=f0.device) if splits > 1 else None
        x0 = torch.cat((f0, f1)).flatten(-2).transpose(1, 2)  # [2B, H*W, C]
        x1 = torch.cat((f1, f0)).flatten(-2).transpose(1, 2)
        for i, layer in enumerate(self.layers):
            # shifted windows on odd layers (Swin); plain windows on even ones
            x0 = layer(x0, x1, h=h, w=w, splits=splits, mask=mask if i % 2 == 1 else None)
            x1 = torch.cat(x0.chunk(2)[::-1])
        out = x0.transpose(1, 2).reshape(2 * b, c, h, w)
        return out[:b], out[b:]


class FlowPropagation(nn.Module):
    """Self-attention on image-0 features whose values are the flow (GMFlow eq. 5).

    Global (``radius`` <= 0) or within a (2R+1)^2 neighbourhood. Note the global branch's key is
    ``k_proj(q_proj(x))``: that is how the official checkpoints were trained (the authors say so
    in their code), while the local branch uses ``k_proj(x)``. Both are kept as trained.
    """

    def __init__(self, *, channels: int = 128) -> None:
        super().__init__()
        self.q_proj = nn.Linear(channels, channels)
        self.k_proj = nn.Linear(channels, channels)
        for p in self.parameters():
            if p.dim() > 1:
                nn.init.xavier_uniform_(p)

    def forward(self, feature: torch.Tensor, flow: torch.Tensor, *, radius: int) -> torch.Tensor:
        if radius > 0:
            return self._local(feature, flow, radius)
        b, c, h, w = feature.shape
        query = self.q_proj(feature.flatten(-2).transpose(1, 2))  # [B, H*W, C]
        key = self.k_proj(query)
        value = flow.flatten(-2).transpose(1, 2)  # [B, H*W, 2]
        out = full_attention(query, key, value)
        return out.transpose(1, 2).reshape(b, flow.shape[1], h, w)

    def _local(self, feature: torch.Tensor, flow: torch.Tensor, radius: int) -> torch.Tensor:
        b, c, h, w = feature.shape
        n = (2 * radius + 1) ** 2
        x = feature.flatten(-2).transpose(1, 2)  # [B, H*W, C]
        query = self.q_proj(x).reshape(b * h * w, 1, c)
        key = self.k_proj(x).transpose(1, 2).reshape(b, c, h, w)
        # zero padding at the border: padded keys score 0 and carry zero flow (as trained)
        key = F.unfold(key, 2 * radius + 1, padding=radius).view(b, c, n, h, w)
        key = key.permute(0, 3, 4, 1, 2).reshape(b * h * w, c, n)
        value = F.unfold(flow, 2 * radius + 1, padding=radius).view(b, flow.shape[1], n, h, w)
        value = value.permute(0, 3, 4, 2, 1).reshape(b * h * w, n, flow.shape[1])
        prob = torch.softmax(torch.matmul(query, key) / math.sqrt(c), dim=-1)  # [BHW, 1, n]
        return torch.matmul(prob, value).view(b, h, w, -1).permute(0, 3, 1, 2).contiguous()
