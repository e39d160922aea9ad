"""The diffusers editors mebench knows: hub id, pipeline class, family and default settings.

Pure data, no heavy imports: ``mebench list`` reads the descriptions from here.

Defaults follow the paper's inference settings (MotionEdit, section 8.1.3; see REFERENCE.md):
28 steps for every model; Qwen-Image-Edit true CFG 4.0 (with the model card's negative prompt
``" "``, without which the pipeline switches CFG off) and no distilled guidance; FLUX.1 Kontext
[dev] 28 steps with the model card's guidance 2.5 (the paper gives no Kontext guidance; 2.5 is
also the MotionNFT training configuration's); "others guidance 3.5, 28 steps", which covers
InstructPix2Pix and MagicBrush (image guidance 1.5, the pipeline's and the model cards' value).

Newer editors, beyond the paper, use their model cards' settings: Qwen-Image-Edit-2511 40 steps,
true CFG 4.0 with the negative prompt " " (the 2509 pipeline); FLUX.2 [klein] 4B is
step-distilled (4 steps, guidance 1.0, which its pipeline ignores for distilled checkpoints);
LongCat-Image-Edit 50 steps, guidance 4.5 with an empty negative prompt.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

MOTIONNFT_LORA = "elaine1wan/motionedit"
MOTIONNFT_LORA_FILE = "adapter_model_converted.safetensors"


@dataclass(frozen=True)
class EditorSpec:
    """One registered editor.

    ``family`` names the call builder in :mod:`.families` (how this pipeline is called: its
    argument names and how it sizes its output). ``defaults`` are the settings a user's
    ``--model-args`` override; ``lora`` is a LoRA applied by default (the MotionNFT alias).
    """

    name: str
    family: str
    model_id: str
    description: str
    defaults: dict[str, Any] = field(default_factory=dict)
    lora: str | None = None
    lora_weight_name: str | None = None


# guidance_scale 1.0 as in the paper; the pipeline uses it only for guidance-distilled checkpoints
_QWEN_EDIT = {"steps": 28, "true_cfg_scale": 4.0, "guidance_scale": 1.0, "negative_prompt": " ",
              "resolution": 1024}

EDITORS: dict[str, EditorSpec] = {spec.name: spec for spec in (
    EditorSpec(
        "qwen-image-edit", "qwen-edit", "Qwen/Qwen-Image-Edit",
        "Qwen-Image-Edit (diffusers; paper settings: 28 steps, true CFG 4.0).",
        dict(_QWEN_EDIT)),
    EditorSpec(
        "qwen-image-edit-2509", "qwen-edit-plus", "Qwen/Qwen-Image-Edit-2509",
        "Qwen-Image-Edit-2509, the MotionNFT LoRA's base (diffusers; 28 steps, true CFG 4.0).",
        dict(_QWEN_EDIT)),
    EditorSpec(
        "motionnft-qwen-image-edit", "qwen-edit-plus", "Qwen/Qwen-Image-Edit-2509",
        "Qwen-Image-Edit-2509 + the official MotionNFT LoRA (elaine1wan/motionedit).",
        dict(_QWEN_EDIT), lora=MOTIONNFT_LORA, lora_weight_name=MOTIONNFT_LORA_FILE),
    EditorSpec(
        "flux-kontext", "flux-kontext", "black-forest-labs/FLUX.1-Kontext-dev",
        "FLUX.1 Kontext [dev] (diffusers; 28 steps, guidance 2.5).",
        {"steps": 28, "guidance_scale": 2.5, "true_cfg_scale": 1.0, "negative_prompt": None,
         "resolution": None}),
    EditorSpec(
        "instruct-pix2pix", "pix2pix", "timbrooks/instruct-pix2pix",
        "InstructPix2Pix (diffusers; 28 steps, guidance 3.5, image guidance 1.5, 512 px).",
        {"steps": 28, "guidance_scale": 3.5, "image_guidance_scale": 1.5,
         "negative_prompt": None, "resolution": 512}),
    EditorSpec(
        "magicbrush", "pix2pix", "vinesmsuic/magicbrush-jul7",
        "MagicBrush, an InstructPix2Pix fine-tune (diffusers; 28 steps, guidance 3.5, 512 px).",
        {"steps": 28, "guidance_scale": 3.5, "image_guidance_scale": 1.5,
         "negative_prompt": None, "resolution": 512}),
    EditorSpec(
        "qwen-image-edit-2511", "qwen-edit-plus", "Qwen/Qwen-Image-Edit-2511",
        "Qwen-Image-Edit-2511 (diffusers; model card: 40 steps, true CFG 4.0).",
        {**_QWEN_EDIT, "steps": 40}),
    EditorSpec(
        "flux2-klein", "flux2-klein", "black-forest-labs/FLUX.2-klein-4B",
        "FLUX.2 [klein] 4B, step-distilled (diffusers; model card: 4 steps, guidance 1.0).",
        {"steps": 4, "guidance_scale": 1.0, "resolution": None}),
    EditorSpec(
        "longcat-image-edit", "longcat-edit", "meituan-longcat/LongCat-Image-Edit",
        "LongCat-Image-Edit (diffusers; model card: 50 steps, guidance 4.5).",
        {"steps": 50, "guidance_scale": 4.5, "negative_prompt": "", "resolution": 1024}),
)}
