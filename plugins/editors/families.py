"""How each pipeline family is called: its argument names, batching and output size.

A family turns a group of same-sized source images, their instructions and one generator per
sample into the keyword arguments of one pipeline call. The adapter dispatches on the catalog's
``family`` name through :data:`FAMILIES`, never through an ``if name == ...`` chain.

Output sizes (``resolution`` R is the side of a square of the target area; aspect ratio kept):

- ``qwen-edit`` / ``qwen-edit-plus`` / ``longcat-edit``: the pipelines size their output (and,
  for the 2509 edition, the VAE condition image) to a hard-coded 1024x1024 area; R != 1024
  rescales that area, and the vision-language condition image of the 2509 edition keeps its own
  384x384 area.
- ``flux-kontext``: by default the input's nearest of Kontext's preferred resolutions (what the
  pipeline's auto-resize picks for the condition image); with R, an area of R^2.
- ``pix2pix``: the source is resized to an area of R^2 (default 512^2), multiples of 8.
- ``flux2-klein``: by default the source's own size (the pipeline shrinks it to 1024x1024 area
  at most); with R, an area of R^2 (each side at least 64, the pipeline's minimum).
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import contextlib
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch
    from PIL import Image

    from mebench.plugins.editors.settings import EditorSettings

QWEN_NATIVE_AREA = 1024 * 1024
KLEIN_MIN_SIDE = 64  # Flux2ImageProcessor.check_image_input's minimum


def area_size(width: int, height: int, area: int, multiple: int) -> tuple[int, int]:
    """``(w, h)`` with ``w * h ~= area``, the aspect ratio of ``width / height``, multiples of
    ``multiple`` (at least one multiple each)."""
    ratio = width / height
    w = max(multiple, int(round(math.sqrt(area * ratio))) // multiple * multiple)
    h = max(multiple, int(round(math.sqrt(area / ratio))) // multiple * multiple)
    return w, h


@dataclass(frozen=True)
class Call:
    """One pipeline call: its keyword arguments and, optionally, a context to run it in."""

    kwargs: dict[str, Any]
    context: Any = None


class Family(ABC):
    """Base of the call builders; subclasses set the class attributes and ``build``."""

    pipeline_class: str = ""
    supports_batch: bool = True
    component: str = "transformer"  # what a LoRA attaches to

    @abstractmethod
    def build(self, pipe: Any, settings: EditorSettings, images: list[Image.Image],
              prompts: list[str], generators: list[torch.Generator]) -> Call:
        ...

    @staticmethod
    def _batch(value: Any, n: int) -> Any:
        return None if value is None else [value] * n

    @staticmethod
    def _common(settings: EditorSettings, images: list[Image.Image], prompts: list[str],
                generators: list[torch.Generator]) -> dict[str, Any]:
        return {"image": images, "prompt": prompts, "generator": generators,
                "num_inference_steps": settings.steps, "output_type": "pil"}


@contextlib.contextmanager
def _scaled_native_area(module: Any, area: int) -> Iterator[None]:
    """Run a Qwen (or LongCat) edit pipeline with ``area`` in place of its hard-coded 1024x1024.

    The pipelines call their module's ``calculate_dimensions(1024 * 1024, ratio)`` and offer no
    argument for it; this swaps the function for the duration of one call (the runner calls the
    pipeline from one thread) and always restores it.
    """
    original = module.calculate_dimensions

    def scaled(target_area: int, ratio: float) -> Any:
        return original(area if target_area == QWEN_NATIVE_AREA else target_area, ratio)

    module.calculate_dimensions = scaled
    try:
        yield
    finally:
        module.calculate_dimensions = original


class QwenEdit(Family):
    pipeline_class = "QwenImageEditPipeline"
    module = "diffusers.pipelines.qwenimage.pipeline_qwenimage_edit"

    def build(self, pipe: Any, settings: EditorSettings, images: list[Image.Image],
              prompts: list[str], generators: list[torch.Generator]) -> Call:
        import importlib

        kwargs = self._common(settings, images, prompts, generators)
        kwargs["true_cfg_scale"] = settings.true_cfg_scale or 1.0
        kwargs["negative_prompt"] = self._batch(settings.negative_prompt, len(prompts))
        if pipe.transformer.config.guidance_embeds:  # only guidance-distilled checkpoints
            kwargs["guidance_scale"] = settings.guidance_scale
        if len(images) == 1:
            kwargs["image"], kwargs["prompt"] = images[0], prompts[0]
            if kwargs["negative_prompt"] is not None:
                kwargs["negative_prompt"] = kwargs["negative_prompt"][0]
        context = None
        if settings.resolution is not None and settings.resolution ** 2 != QWEN_NATIVE_AREA:
            context = _scaled_native_area(importlib.import_module(self.module),
                                          settings.resolution ** 2)
        return Call(kwargs, context)


class QwenEditPlus(QwenEdit):
    """The 2509 edition: one prompt per call (its pipeline refuses batches)."""

    pipeline_class = "QwenImageEditPlusPipeline"
    module = "diffusers.pipelines.qwenimage.pipeline_qwenimage_edit_plus"
    supports_batch = False


class FluxKontext(Family):
    pipeline_class = "FluxKontextPipeline"

    def build(self, pipe: Any, settings: EditorSettings, images: list[Image.Image],
              prompts: list[str], generators: list[torch.Generator]) -> Call:
        from diffusers.pipelines.flux.pipeline_flux_kontext import PREFERRED_KONTEXT_RESOLUTIONS
        from PIL import Image as PILImage

        multiple = pipe.vae_scale_factor * 2
        src_w, src_h = images[0].size
        if settings.resolution is None:
            # the pipeline's auto-resize: the preferred resolution closest in aspect ratio
            _, w, h = min((abs(src_w / src_h - pw / ph), pw, ph)
                          for pw, ph in PREFERRED_KONTEXT_RESOLUTIONS)
            auto = True
        else:
            w, h = area_size(src_w, src_h, settings.resolution ** 2, multiple)
            images = [im.resize((w, h), PILImage.Resampling.LANCZOS) for im in images]
            auto = False
        kwargs = self._common(settings, images, prompts, generators)
        kwargs.update(height=h, width=w, max_area=w * h, _auto_resize=auto,
                      guidance_scale=settings.guidance_scale)
        if settings.negative_prompt is not None and (settings.true_cfg_scale or 1.0) > 1.0:
            kwargs["negative_prompt"] = self._batch(settings.negative_prompt, len(prompts))
            kwargs["true_cfg_scale"] = settings.true_cfg_scale
        return Call(kwargs)


class Pix2Pix(Family):
    pipeline_class = "StableDiffusionInstructPix2PixPipeline"
    component = "unet"

    def build(self, pipe: Any, settings: EditorSettings, images: list[Image.Image],
              prompts: list[str], generators: list[torch.Generator]) -> Call:
        from PIL import Image as PILImage

        src_w, src_h = images[0].size
        w, h = area_size(src_w, src_h, (settings.resolution or 512) ** 2, pipe.vae_scale_factor)
        images = [im.resize((w, h), PILImage.Resampling.LANCZOS) for im in images]
        kwargs = self._common(settings, images, prompts, generators)
        kwargs.update(guidance_scale=settings.guidance_scale,
                      image_guidance_scale=settings.image_guidance_scale,
                      negative_prompt=self._batch(settings.negative_prompt, len(prompts)))
        return Call(kwargs)


class Flux2Klein(Family):
    """FLUX.2 [klein]: the source is a reference image; the pipeline takes one prompt per call
    (a list of images means several references for one prompt)."""

    pipeline_class = "Flux2KleinPipeline"
    supports_batch = False

    def build(self, pipe: Any, settings: EditorSettings, images: list[Image.Image],
              prompts: list[str], generators: list[torch.Generator]) -> Call:
        from PIL import Image as PILImage

        from mebench.errors import MebenchError

        (image,) = images
        if settings.resolution is not None:
            multiple = pipe.vae_scale_factor * 2
            size = area_size(*image.size, settings.resolution ** 2, multiple)
            image = image.resize(size, PILImage.Resampling.LANCZOS)
        if min(image.size) < KLEIN_MIN_SIDE:
            raise MebenchError(f"FLUX.2 [klein] needs images at least {KLEIN_MIN_SIDE} px a side, "
                               f"got {image.size[0]}x{image.size[1]}", where="--model-args",
                               hint="raise resolution=")
        kwargs = self._common(settings, [image], prompts, generators)
        kwargs.update(image=image, prompt=prompts[0], guidance_scale=settings.guidance_scale)
        return Call(kwargs)


class LongCatEdit(Family):
    """LongCat-Image-Edit: real CFG (guidance_scale with a negative prompt); one prompt per call
    (its prompt encoder reads the first prompt only); a hard-coded 1024x1024 area, as Qwen's."""

    pipeline_class = "LongCatImageEditPipeline"
    module = "diffusers.pipelines.longcat_image.pipeline_longcat_image_edit"
    supports_batch = False

    def build(self, pipe: Any, settings: EditorSettings, images: list[Image.Image],
              prompts: list[str], generators: list[torch.Generator]) -> Call:
        import importlib

        kwargs = self._common(settings, images, prompts, generators)
        kwargs.update(image=images[0], prompt=prompts[0], guidance_scale=settings.guidance_scale,
                      negative_prompt=settings.negative_prompt)
        context = None
        if settings.resolution is not None and settings.resolution ** 2 != QWEN_NATIVE_AREA:
            context = _scaled_native_area(importlib.import_module(self.module),
                                          settings.resolution ** 2)
        return Call(kwargs, context)


FAMILIES: dict[str, Family] = {
    "longcat-edit": LongCatEdit(),
    "flux2-klein": Flux2Klein(),
    "qwen-edit": QwenEdit(),
    "qwen-edit-plus": QwenEditPlus(),
    "flux-kontext": FluxKontext(),
    "pix2pix": Pix2Pix(),
}


def group_by_size(images: Sequence[Image.Image]) -> list[list[int]]:
    """Indices of the images that share a size, grouped, in first-seen order (one call each)."""
    groups: dict[tuple[int, int], list[int]] = {}
    for i, im in enumerate(images):
        groups.setdefault(im.size, []).append(i)
    return list(groups.values())
