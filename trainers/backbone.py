"""What the trainer needs of a model (``Backbone``) and of a reward, and the training prompt.

A backbone wraps the denoiser that carries the two LoRA adapters (:mod:`.lora`) and knows how to
turn prompts into conditioning, noise into latents' shape, and latents into images. The diffusers
backbones (Qwen-Image-Edit, FLUX.1 Kontext) implement this protocol with their pipelines' text and
image encoders and VAE; :mod:`.toy` implements it for a tiny flow-matching model.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    import torch

    from mebench.trainers.lora import AdapterChoice

Cond = dict[str, "torch.Tensor"]  # batch-first tensors; the trainer indexes them per sample


@dataclass(frozen=True)
class TrainPrompt:
    """One training prompt: the condition image and instruction, and the ground-truth target.

    Images are float tensors ``[3, H, W]`` holding RGB 0-255 (the flow estimators' input).
    """

    id: str
    instruction: str
    source: torch.Tensor
    target: torch.Tensor | None


@runtime_checkable
class Backbone(Protocol):
    """``base_model`` names the frozen weights (written to ``mebench_checkpoint.json``);
    ``transformer`` is the module holding the ``default`` and ``old`` LoRA adapters."""

    base_model: str
    transformer: torch.nn.Module

    def encode(self, prompts: Sequence[TrainPrompt]) -> Cond:
        """Conditioning for each prompt (instruction + condition image), batch first, on the
        transformer's device."""
        ...

    def noise(self, cond: Cond, generator: torch.Generator) -> torch.Tensor:
        """Initial latent noise, one per conditioning row, drawn from the CPU ``generator``."""
        ...

    def velocity(self, x_t: torch.Tensor, t: torch.Tensor, cond: Cond, *,
                 adapter: AdapterChoice) -> torch.Tensor:
        """``v(x_t, t, cond)`` with the ``default`` or ``old`` adapter, or none (the base)."""
        ...

    def decode(self, latents: torch.Tensor, cond: Cond) -> torch.Tensor:
        """Images ``[B, 3, H, W]``, float RGB 0-255, on the CPU (rewards move them as needed)."""
        ...

    def enable_gradient_checkpointing(self) -> None: ...


class HasTextEncoders(Protocol):
    """Optional, besides :class:`Backbone`: the frozen text encoders by name (e.g. FLUX.1
    Kontext's ``text_encoder`` and ``text_encoder_2``), which a distributed run shards over the
    ranks with FSDP2 (:mod:`.fsdp`); a backbone without the method (the toy) has none."""

    def text_encoders(self) -> dict[str, torch.nn.Module]: ...


class Reward(Protocol):
    """A raw reward per edited image, Tensor[B] (higher is better)."""

    def __call__(self, prompts: Sequence[TrainPrompt], images: torch.Tensor) -> torch.Tensor: ...


def select(cond: Cond, index: torch.Tensor) -> Cond:
    """The rows ``index`` of every conditioning tensor."""
    return {key: value.index_select(0, index.to(value.device)) for key, value in cond.items()}
