"""The trainer :class:`~mebench.trainers.backbone.Backbone` of a diffusers Qwen-Image-Edit pipeline.

:class:`QwenImageEditBackbone` loads a ``QwenImageEditPlusPipeline`` (Qwen-Image-Edit-2509 and
later, the paper's MotionNFT base) or a ``QwenImageEditPipeline`` (the first edition), chosen by
the folder's ``model_index.json``, and does what the pipeline's ``__call__`` does, split into the
trainer's steps:

* ``encode``: per prompt (the Plus pipeline reads a list of images as several reference images
  of *one* prompt, so prompts cannot share a call), the instruction and the condition image
  through Qwen2.5-VL (``encode_prompt``: the pipeline's chat template, hidden states of the last
  layer, the template's prefix dropped). The Plus edition shows the encoder the condition image
  resized to a 384x384 area (the pipeline's ``CONDITION_IMAGE_SIZE``; ``condition_area``
  overrides it), the first edition the VAE-sized image. The embeddings are padded to the longest
  prompt with a mask (``encoder_hidden_states_mask``), as the transformer takes them. The condition
  image also goes through the VAE (``_encode_vae_image``: latents normalised by the VAE's
  ``latents_mean``/``latents_std``) and is packed into 2x2 patches (``_pack_latents``);
* ``noise``: Gaussian latents ``[B, 1, C, h, w]`` (the VAE's frame axis) packed as
  ``prepare_latents`` does;
* ``velocity``: the transformer on ``[x_t, condition tokens]`` with ``img_shapes`` listing the
  target's and the condition's latent grids and ``timestep = t`` (the pipeline passes
  ``sigma * 1000 / 1000``); the output's target tokens are the flow velocity ``eps - x0``. No true
  CFG: MotionNFT samples and trains CFG-free (the recipe's ``true_cfg_scale: 1.0``);
* ``decode``: unpack, undo the normalisation, VAE decode (first frame), to RGB 0-255.

The VAE image is the dataset's image at the recipe's resolution (cropped to a multiple of the
VAE factor times 2); at inference the ``qwen-image-edit-2509`` editor's ``resolution`` setting
gives the same area.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor

from mebench.trainers.backbone import Cond, TrainPrompt
from mebench.trainers.diffusers_backbone import PipelineBackbone, load_pipeline
from mebench.trainers.lora import AdapterChoice, adapter_scope

__all__ = ["QwenImageEditBackbone", "build_qwen_image_edit"]

# pipeline class -> (the editor that loads the trained LoRA, the default condition-image area)
EDITIONS: dict[str, tuple[str, int | None]] = {
    "QwenImageEditPlusPipeline": ("qwen-image-edit-2509", 384 * 384),
    "QwenImageEditPipeline": ("qwen-image-edit", None),
}


class QwenImageEditBackbone(PipelineBackbone):
    """Qwen-Image-Edit as a trainable backbone; its LoRA loads in the ``qwen-image-edit-2509``
    editor (``qwen-image-edit`` for the first edition)."""

    frame_axis = True

    def __init__(self, *, model: str, device: str | None = None, true_cfg_scale: float = 1.0,
                 condition_area: int | None = None, max_sequence_length: int = 1024,
                 dtype: str = "float32", local_files_only: bool = False) -> None:
        from diffusers import DiffusionPipeline

        if float(true_cfg_scale) != 1.0:
            raise ValueError(f"true_cfg_scale must be 1.0 (MotionNFT samples and trains "
                             f"without classifier-free guidance), got {true_cfg_scale}")
        if condition_area is not None and condition_area < 28 * 28:
            raise ValueError(f"condition_area must be at least {28 * 28} (one 28x28 vision "
                             f"patch), got {condition_area}")
        if max_sequence_length < 1:
            raise ValueError(f"max_sequence_length must be >= 1, got {max_sequence_length}")
        pipe = load_pipeline(DiffusionPipeline, model, dtype=dtype,
                             local_files_only=local_files_only)
        kind = type(pipe).__name__
        if kind not in EDITIONS:
            raise ValueError(f"{model} holds a {kind}, not a Qwen-Image-Edit pipeline "
                             f"({' or '.join(EDITIONS)})")
        super().__init__(pipe, model=model, device=device)
        self.pipeline_class = kind
        self.base_editor, default_area = EDITIONS[kind]
        self.condition_area = condition_area if condition_area is not None else default_area
        self.max_sequence_length = max_sequence_length

    def text_encoders(self) -> dict[str, torch.nn.Module]:
        """The frozen encoder (sharded with FSDP in a distributed run)."""
        return {"text_encoder": self.pipe.text_encoder}

    # -- the protocol ----------------------------------------------------------------------------

    @torch.no_grad()
    def encode(self, prompts: Sequence[TrainPrompt]) -> Cond:
        device = self.device
        images = [self._fit(p.source) for p in prompts]
        embeds = [self._embed(p.instruction, image) for p, image in zip(prompts, images)]
        longest = max(e.shape[0] for e in embeds)
        mask = torch.zeros((len(embeds), longest), dtype=torch.long, device=device)
        padded = embeds[0].new_zeros((len(embeds), longest, embeds[0].shape[1]))
        for row, e in enumerate(embeds):
            padded[row, : e.shape[0]] = e
            mask[row, : e.shape[0]] = 1
        packed, hw = self._condition_latents(images)
        return {"prompt_embeds": padded, "prompt_mask": mask, "image_latents": packed,
                "latent_hw": hw}

    def velocity(self, x_t: Tensor, t: Tensor, cond: Cond, *, adapter: AdapterChoice) -> Tensor:
        h, w = self._hw(cond)
        dtype = self.transformer.dtype  # type: ignore[attr-defined]
        grid = (1, h // 2, w // 2)
        mask = cond["prompt_mask"]
        # the trimmed rows of a selected batch may all be full: the pipeline then passes None
        mask = mask[:, : int(mask.sum(dim=1).max())]
        embeds = cond["prompt_embeds"][:, : mask.shape[1]]
        hidden = torch.cat([x_t.to(dtype), cond["image_latents"].to(dtype)], dim=1)
        with adapter_scope(self.transformer, adapter):
            out = self.transformer(
                hidden_states=hidden, timestep=t.to(dtype), guidance=None,
                encoder_hidden_states=embeds.to(dtype),
                encoder_hidden_states_mask=None if bool(mask.all()) else mask,
                img_shapes=[[grid, grid]] * x_t.shape[0], return_dict=False)[0]
        return out[:, : x_t.shape[1]].to(x_t.dtype)  # type: ignore[no-any-return]

    def _denormalise(self, latents: Tensor) -> Tensor:
        config = self.pipe.vae.config
        mean = torch.tensor(config.latents_mean).view(1, config.z_dim, 1, 1, 1)
        std = torch.tensor(config.latents_std).view(1, config.z_dim, 1, 1, 1)
        return latents * std.to(latents) + mean.to(latents)

    # -- helpers ---------------------------------------------------------------------------------

    def _embed(self, instruction: str, image: Tensor) -> Tensor:
        """The prompt embedding ``[L, D]`` of one instruction with its condition image."""
        import importlib

        from PIL import Image

        pipe = self.pipe
        pil = Image.fromarray(image.round().clamp(0, 255).to(torch.uint8).permute(1, 2, 0).numpy())
        if self.condition_area is not None:
            module = importlib.import_module(type(pipe).__module__)
            cw, ch = module.calculate_dimensions(self.condition_area, pil.width / pil.height)
            pil = pipe.image_processor.resize(pil, ch, cw)
        shown: Any = [pil] if self.pipeline_class == "QwenImageEditPlusPipeline" else pil
        embeds, _ = pipe.encode_prompt(prompt=[instruction], image=shown, device=self.device,
                                       max_sequence_length=self.max_sequence_length)
        return embeds[0, : self.max_sequence_length]  # type: ignore[no-any-return]


def build_qwen_image_edit(*, model: str | None, device: str | None,
                          args: dict[str, Any]) -> QwenImageEditBackbone:
    return QwenImageEditBackbone(model=model or "Qwen/Qwen-Image-Edit-2509", device=device,
                                 **args)
