"""The toy experiment: a tiny flow-matching "editor" of blob images, trained with MotionNFT.

Each prompt shows a Gaussian blob and asks to move it by a displacement ``(dx, dy)`` in pixels;
its target is the blob moved by exactly that much. The toy model's latent is a 2-vector, the
displacement in units of ``scale`` pixels; decoding renders the source blob moved by it. The
conditioning is a frozen random projection of the requested displacement (the "text encoder").
The base model is a seeded, untrained MLP velocity field whose output layer is scaled down, so
its samples are close to the N(0, I) noise: edits that move the blob at random. The reward's
optimum is known (the blob on its target), so training must raise the mean reward, and with the
reward's sign flipped must lower it.

The trainer, the loss, the advantages and the two-adapter old policy are the real ones
(:mod:`.motionnft`); only the model, the prompts and (optionally) the reward are toys.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import Tensor, nn

from mebench.trainers.backbone import Cond, TrainPrompt
from mebench.trainers.lora import AdapterChoice, adapter_scope

__all__ = ["BlobTargetReward", "ToyBackbone", "ToyVelocityNet", "blob_centroid", "render_blob",
           "toy_prompts"]

TOY_TARGET_MODULES = ("fc_in", "fc_mid", "fc_out")


def render_blob(center: Tensor, *, size: int, sigma: float) -> Tensor:
    """Images ``[B, 3, size, size]`` (0-255) of a bright Gaussian blob at ``center`` [B, 2]."""
    coords = torch.arange(size, dtype=torch.float32)
    dx = coords.view(1, 1, -1) - center[:, 0].view(-1, 1, 1).float()
    dy = coords.view(1, -1, 1) - center[:, 1].view(-1, 1, 1).float()
    blob = torch.exp(-(dx**2 + dy**2) / (2.0 * sigma**2))
    return (20.0 + 220.0 * blob).unsqueeze(1).expand(-1, 3, -1, -1).contiguous()


def blob_centroid(images: Tensor) -> Tensor:
    """The intensity-weighted centroid ``[B, 2]`` (x, y) of the above-background pixels."""
    grey = (images.mean(1) - 20.0).clamp_min(0.0)
    h, w = grey.shape[-2:]
    mass = grey.sum((-2, -1)).clamp_min(1e-6)
    xs = torch.arange(w, dtype=grey.dtype).view(1, 1, -1)
    ys = torch.arange(h, dtype=grey.dtype).view(1, -1, 1)
    return torch.stack([(grey * xs).sum((-2, -1)) / mass, (grey * ys).sum((-2, -1)) / mass], 1)


def toy_prompts(*, num_prompts: int = 8, size: int = 32, sigma: float = 2.5,
                max_shift: float = 6.0, seed: int = 0) -> list[TrainPrompt]:
    """Seeded blob-moving prompts; the displacement is stored in the instruction text only."""
    g = torch.Generator().manual_seed(seed)
    prompts = []
    for i in range(num_prompts):
        start = size / 2 + (torch.rand(2, generator=g) * 2 - 1) * (size / 8)
        shift = (torch.rand(2, generator=g) * 2 - 1) * max_shift
        src = render_blob(start.view(1, 2), size=size, sigma=sigma)[0]
        tgt = render_blob((start + shift).view(1, 2), size=size, sigma=sigma)[0]
        text = f"move the blob by ({float(shift[0]):+.3f}, {float(shift[1]):+.3f}) pixels"
        prompts.append(TrainPrompt(id=f"blob-{i:03d}", instruction=text, source=src, target=tgt))
    return prompts


def _requested_shift(instruction: str) -> tuple[float, float]:
    inner = instruction[instruction.index("(") + 1: instruction.index(")")]
    x, y = (float(part) for part in inner.split(","))
    return x, y


class ToyVelocityNet(nn.Module):
    """``v(x_t, t, c)``: an MLP over the latent, a sinusoidal time embedding and the condition."""

    def __init__(self, *, latent_dim: int = 2, cond_dim: int = 16, hidden: int = 64,
                 out_scale: float = 0.1, seed: int = 0) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.fc_in = nn.Linear(latent_dim + cond_dim + 16, hidden)
        self.fc_mid = nn.Linear(hidden, hidden)
        self.fc_out = nn.Linear(hidden, latent_dim)
        with torch.no_grad():
            for layer in (self.fc_in, self.fc_mid, self.fc_out):
                bound = 1.0 / math.sqrt(layer.in_features)
                layer.weight.copy_((torch.rand(layer.weight.shape, generator=g) * 2 - 1) * bound)
                layer.bias.copy_((torch.rand(layer.bias.shape, generator=g) * 2 - 1) * bound)
            self.fc_out.weight.mul_(out_scale)
            self.fc_out.bias.mul_(out_scale)
        self.gradient_checkpointing = False

    def _mid(self, h: Tensor) -> Tensor:
        return torch.nn.functional.silu(self.fc_mid(h))

    def forward(self, x: Tensor, t: Tensor, cond: Tensor) -> Tensor:
        freqs = torch.exp(torch.arange(8, dtype=x.dtype) * (math.log(1000.0) / 7))
        angles = t.to(x.dtype).view(-1, 1) * freqs.view(1, -1)
        emb = torch.cat([torch.sin(angles), torch.cos(angles)], dim=1)
        h = torch.nn.functional.silu(self.fc_in(torch.cat([x, emb, cond], dim=1)))
        if self.gradient_checkpointing and torch.is_grad_enabled():
            from torch.utils.checkpoint import checkpoint

            h = checkpoint(self._mid, h, use_reentrant=False)
        else:
            h = self._mid(h)
        out: Tensor = self.fc_out(h)
        return out


class ToyBackbone:
    """The :class:`~mebench.trainers.backbone.Backbone` of the toy model (CPU, float32)."""

    base_model = "mebench-toy-blob"

    def __init__(self, *, size: int = 32, sigma: float = 2.5, scale: float = 4.0,
                 cond_dim: int = 16, hidden: int = 64, seed: int = 0,
                 net: ToyVelocityNet | None = None) -> None:
        if size < 8 or sigma <= 0 or scale <= 0:
            raise ValueError("size must be >= 8, sigma and scale > 0")
        self.size, self.sigma, self.scale = size, sigma, scale
        self.transformer: nn.Module = net or ToyVelocityNet(cond_dim=cond_dim, hidden=hidden,
                                                            seed=seed)
        g = torch.Generator().manual_seed(seed + 1)
        self._text_proj = torch.randn(2, cond_dim, generator=g)  # the frozen "text encoder"

    def encode(self, prompts: Sequence[TrainPrompt]) -> Cond:
        shifts = torch.tensor([_requested_shift(p.instruction) for p in prompts])
        centres = blob_centroid(torch.stack([p.source for p in prompts]))
        device = next(self.transformer.parameters()).device
        return {"text": ((shifts / self.scale) @ self._text_proj).to(device),
                "centre": centres.to(device)}

    def noise(self, cond: Cond, generator: torch.Generator) -> Tensor:
        return torch.randn(cond["text"].shape[0], 2, generator=generator)

    def velocity(self, x_t: Tensor, t: Tensor, cond: Cond, *, adapter: AdapterChoice) -> Tensor:
        with adapter_scope(self.transformer, adapter):
            out: Tensor = self.transformer(x_t, t, cond["text"])
            return out

    def decode(self, latents: Tensor, cond: Cond) -> Tensor:
        centre = cond["centre"].cpu() + self.scale * latents.detach().float().cpu()
        return render_blob(centre, size=self.size, sigma=self.sigma)

    def enable_gradient_checkpointing(self) -> None:
        self.transformer.gradient_checkpointing = True  # type: ignore[assignment]


class BlobTargetReward:
    """Closed-form reward: ``exp(-|c(edited) - c(target)|^2 / (2 width^2))``, c the centroid."""

    def __init__(self, *, width: float = 3.0) -> None:
        if not width > 0:
            raise ValueError(f"width must be > 0, got {width!r}")
        self.width = width

    def __call__(self, prompts: Sequence[TrainPrompt], images: Tensor) -> Tensor:
        if any(p.target is None for p in prompts):
            raise ValueError("blob-target needs each prompt's target image")
        targets = torch.stack([p.target for p in prompts])  # type: ignore[misc]
        dist2 = (blob_centroid(images) - blob_centroid(targets)).pow(2).sum(1)
        return torch.exp(-dist2 / (2.0 * self.width**2))


def build_toy_backbone(args: Mapping[str, Any], *, seed: int) -> ToyBackbone:
    return ToyBackbone(seed=seed, **dict(args))
