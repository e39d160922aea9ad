"""The trainer :class:`~mebench.trainers.backbone.Backbone` of a diffusers FLUX.1 Kontext pipeline.

:class:`FluxKontextBackbone` loads a ``FluxKontextPipeline`` (hub id or local folder, through
``from_pretrained``) and does what the pipeline's ``__call__`` does, split into the trainer's
steps:

* ``encode``: the instruction through CLIP (pooled) and T5 (``encode_prompt``), and the
  condition image through the VAE (``_encode_vae_image``: shift and scale), packed into 2x2
  patches (``_pack_latents``); once per prompt, the trainer repeats the rows for its group;
* ``noise``: Gaussian latents of the target's shape, drawn unpacked and packed as
  ``prepare_latents`` does;
* ``velocity``: the transformer on ``[x_t, condition tokens]`` with the pipeline's position ids
  (target ids with first axis 0, condition ids with first axis 1), ``timestep = t`` (the
  pipeline passes ``sigma * 1000 / 1000``), the distilled guidance when the transformer embeds
  it; the output's target tokens are the flow velocity ``eps - x0`` (the trainer's convention,
  :mod:`.nft`). The adapter (``default``, ``old`` or none) is chosen with
  :func:`~mebench.trainers.lora.adapter_scope`;
* ``decode``: unpack, undo scale and shift, VAE decode, to RGB 0-255.

The time grid is the recipe's (``sampling.num_steps``, ``sampling.shift``), not the pipeline's
resolution-dependent shift: the trainer integrates the flow ODE itself (:mod:`.sampling`).
The frozen encoders and VAE never need gradients; only the transformer's LoRA trains. In a
distributed run the two text encoders (``text_encoders``) are sharded with FSDP2 (:mod:`.fsdp`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor

from mebench.trainers.backbone import Cond, TrainPrompt
from mebench.trainers.lora import AdapterChoice, adapter_scope

__all__ = ["FluxKontextBackbone", "PipelineBackbone", "load_pipeline"]

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def load_pipeline(pipeline_class: Any, model: str, *, dtype: str, local_files_only: bool) -> Any:
    """``pipeline_class.from_pretrained(model)`` in the named ``dtype`` (checked first)."""
    if dtype not in DTYPES:
        raise ValueError(f"dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")
    return pipeline_class.from_pretrained(model, dtype=DTYPES[dtype],
                                          local_files_only=local_files_only)


class PipelineBackbone(ABC):
    """What the diffusers backbones share: the pipeline with every model frozen (only the LoRA
    the trainer attaches to ``transformer`` trains), its device and dtype, the condition image
    fitted to the latent grid. Subclasses set ``base_editor`` and ``pipeline_class``, which go
    into each checkpoint's manifest so that the matching editor loads the trained LoRA."""

    base_editor: str
    pipeline_class: str
    component = "transformer"
    frame_axis = False  # the VAE's latents are [B, C, 1, h, w] (Qwen's video VAE)

    def __init__(self, pipe: Any, *, model: str, device: str | None) -> None:
        pipe.set_progress_bar_config(disable=True)
        if device is not None:
            pipe.to(device)
        for part in pipe.components.values():
            if isinstance(part, torch.nn.Module):
                part.requires_grad_(False)
        self.pipe = pipe
        self.base_model = model
        self.transformer: torch.nn.Module = pipe.transformer
        self.multiple = pipe.vae_scale_factor * 2

    @property
    def device(self) -> torch.device:
        return next(self.transformer.parameters()).device

    @property
    def dtype(self) -> torch.dtype:
        return self.pipe.vae.dtype  # type: ignore[no-any-return]

    def enable_gradient_checkpointing(self) -> None:
        self.transformer.enable_gradient_checkpointing()  # type: ignore[operator]

    def noise(self, cond: Cond, generator: torch.Generator) -> Tensor:
        """Gaussian latents of the condition's grid, drawn unpacked and packed as the pipelines'
        ``prepare_latents`` do."""
        h, w = self._hw(cond)
        b = cond["image_latents"].shape[0]
        channels = self.pipe.transformer.config.in_channels // 4
        shape = (b, 1, channels, h, w) if self.frame_axis else (b, channels, h, w)
        unpacked = torch.randn(shape, generator=generator, dtype=torch.float32)
        return self.pipe._pack_latents(unpacked, b, channels, h, w)  # type: ignore[no-any-return]

    @torch.no_grad()
    def decode(self, latents: Tensor, cond: Cond) -> Tensor:
        """Unpack, undo the VAE normalisation (``_denormalise``), VAE decode, RGB 0-255."""
        pipe = self.pipe
        h, w = self._hw(cond)
        scale = pipe.vae_scale_factor
        unpacked = pipe._unpack_latents(latents.to(self.dtype), h * scale, w * scale, scale)
        images = pipe.vae.decode(self._denormalise(unpacked), return_dict=False)[0]
        if self.frame_axis:
            images = images[:, :, 0]
        return ((images.float() / 2 + 0.5).clamp(0, 1) * 255.0).cpu()

    @abstractmethod
    def _denormalise(self, latents: Tensor) -> Tensor:
        """The VAE's input from the transformer's latents (the inverse of its normalisation)."""

    def _condition_latents(self, images: Sequence[Tensor]) -> tuple[Tensor, Tensor]:
        """The fitted condition images through the VAE (``_encode_vae_image``), packed into 2x2
        patches, and the latent grid ``[B, 2]`` (h, w) for the condition dict."""
        pixels = torch.stack(list(images)) / 127.5 - 1.0
        if self.frame_axis:
            pixels = pixels.unsqueeze(2)
        latents = self.pipe._encode_vae_image(
            image=pixels.to(device=self.device, dtype=self.dtype), generator=None)
        b, c, h, w = latents.shape[0], latents.shape[1], latents.shape[-2], latents.shape[-1]
        packed = self.pipe._pack_latents(latents, b, c, h, w)
        return packed, torch.tensor([[h, w]], device=self.device).expand(b, 2)

    def _fit(self, image: Tensor) -> Tensor:
        """The condition image cropped to a multiple of the VAE factor times 2 (as the pipelines'
        ``multiple_of``); the dataset already resized it to the recipe's resolution."""
        h, w = image.shape[-2:]
        hh, ww = h // self.multiple * self.multiple, w // self.multiple * self.multiple
        if hh == 0 or ww == 0:
            raise ValueError(f"image {h}x{w} is smaller than {self.multiple} pixels")
        return image[:, :hh, :ww].float()

    @staticmethod
    def _hw(cond: Cond) -> tuple[int, int]:
        hw = cond["latent_hw"]
        return int(hw[0, 0]), int(hw[0, 1])


class FluxKontextBackbone(PipelineBackbone):
    """FLUX.1 Kontext as a trainable backbone (its LoRA loads in the ``flux-kontext`` editor)."""

    base_editor = "flux-kontext"
    pipeline_class = "FluxKontextPipeline"

    def __init__(self, *, model: str, device: str | None = None, guidance_scale: float = 2.5,
                 max_sequence_length: int = 512, dtype: str = "float32",
                 local_files_only: bool = False) -> None:
        from diffusers import FluxKontextPipeline

        if max_sequence_length < 1:
            raise ValueError(f"max_sequence_length must be >= 1, got {max_sequence_length}")
        pipe = load_pipeline(FluxKontextPipeline, model, dtype=dtype,
                             local_files_only=local_files_only)
        super().__init__(pipe, model=model, device=device)
        self.guidance_scale = float(guidance_scale)
        self.max_sequence_length = max_sequence_length

    # -- the protocol ----------------------------------------------------------------------------

    @torch.no_grad()
    def encode(self, prompts: Sequence[TrainPrompt]) -> Cond:
        embeds, pooled, _ = self.pipe.encode_prompt(
            prompt=[p.instruction for p in prompts], prompt_2=None, device=self.device,
            max_sequence_length=self.max_sequence_length)
        packed, hw = self._condition_latents([self._fit(p.source) for p in prompts])
        return {"prompt_embeds": embeds, "pooled": pooled, "image_latents": packed,
                "latent_hw": hw}

    def velocity(self, x_t: Tensor, t: Tensor, cond: Cond, *, adapter: AdapterChoice) -> Tensor:
        pipe = self.pipe
        h, w = self._hw(cond)
        device, dtype = x_t.device, self.transformer.dtype  # type: ignore[attr-defined]
        target_ids = pipe._prepare_latent_image_ids(1, h // 2, w // 2, device, dtype)
        image_ids = target_ids.clone()
        image_ids[..., 0] = 1
        embeds = cond["prompt_embeds"]
        text_ids = torch.zeros(embeds.shape[1], 3, device=device, dtype=dtype)
        guidance = None
        if pipe.transformer.config.guidance_embeds:
            guidance = torch.full((x_t.shape[0],), self.guidance_scale, device=device,
                                  dtype=torch.float32)
        hidden = torch.cat([x_t.to(dtype), cond["image_latents"].to(dtype)], dim=1)
        with adapter_scope(self.transformer, adapter):
            out = self.transformer(
                hidden_states=hidden, timestep=t.to(dtype), guidance=guidance,
                pooled_projections=cond["pooled"].to(dtype), encoder_hidden_states=embeds.to(dtype),
                txt_ids=text_ids, img_ids=torch.cat([target_ids, image_ids], dim=0),
                return_dict=False)[0]
        return out[:, : x_t.shape[1]].to(x_t.dtype)  # type: ignore[no-any-return]

    def _denormalise(self, latents: Tensor) -> Tensor:
        config = self.pipe.vae.config
        return latents / config.scaling_factor + config.shift_factor  # type: ignore[no-any-return]

    def text_encoders(self) -> dict[str, torch.nn.Module]:
        """The frozen encoders that :mod:`.fsdp` shards in a distributed run: CLIP and T5."""
        return {"text_encoder": self.pipe.text_encoder, "text_encoder_2": self.pipe.text_encoder_2}


def build_flux_kontext(*, model: str | None, device: str | None,
                       args: dict[str, Any]) -> FluxKontextBackbone:
    return FluxKontextBackbone(model=model or "black-forest-labs/FLUX.1-Kontext-dev",
                               device=device, **args)
