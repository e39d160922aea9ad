"""Tiny seeded diffusers pipelines for the editor tests, built from configs (no downloads).

Each builder follows the ``get_dummy_components()`` of diffusers' own tests for that pipeline,
except that the tokenizers are made here from an in-memory vocabulary (byte-level BPE with no
merges, or a character Unigram) instead of being downloaded. ``save(pipe, path)`` writes the
pipeline with ``save_pretrained`` so that the adapters load it through their normal
``from_pretrained`` path.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from click.testing import Result

Invoke = Callable[..., Result]

QWEN_SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|vision_start|>",
                 "<|vision_end|>", "<|image_pad|>", "<|video_pad|>"]


def _byte_alphabet() -> list[str]:
    from tokenizers.pre_tokenizers import ByteLevel

    return sorted(ByteLevel.alphabet())


def qwen_tokenizer() -> Any:
    """A byte-level BPE tokenizer with Qwen's special tokens (one token per byte)."""
    from transformers import Qwen2Tokenizer

    chars = _byte_alphabet()
    vocab = {c: i for i, c in enumerate(chars)}
    for tok in QWEN_SPECIALS:
        vocab[tok] = len(vocab)
    tok = Qwen2Tokenizer(vocab=vocab, merges=[])
    tok.add_special_tokens({"additional_special_tokens": QWEN_SPECIALS[1:]})
    return tok


def clip_tokenizer() -> Any:
    """A CLIP BPE tokenizer whose words split into characters (ids < 1000)."""
    from transformers import CLIPTokenizer

    specials = ["<|startoftext|>", "<|endoftext|>"]
    chars = _byte_alphabet()
    vocab: dict[str, int] = {}
    for c in chars:
        vocab[c] = len(vocab)
    for c in chars:
        vocab[c + "</w>"] = len(vocab)
    for s in specials:
        vocab[s] = len(vocab)
    return CLIPTokenizer(vocab=vocab, merges=[], model_max_length=77)


def clip_text_encoder(tokenizer: Any, **config: Any) -> Any:
    """A seeded 2-layer CLIP text encoder (hidden size 32) for ``tokenizer``; ``config``
    overrides CLIPTextConfig fields."""
    import torch
    from transformers import CLIPTextConfig, CLIPTextModel

    torch.manual_seed(0)
    return CLIPTextModel(CLIPTextConfig(
        bos_token_id=tokenizer.convert_tokens_to_ids("<|startoftext|>"),
        eos_token_id=tokenizer.convert_tokens_to_ids("<|endoftext|>"), hidden_size=32,
        intermediate_size=37, layer_norm_eps=1e-05, num_attention_heads=4, num_hidden_layers=2,
        pad_token_id=1, vocab_size=1000, **config))


def t5_tokenizer() -> Any:
    """A character Unigram T5 tokenizer."""
    from transformers import T5Tokenizer

    pieces = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0), ("\u2581", -1.0)]
    chars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.,'"
    pieces += [(c, -2.0) for c in chars]
    return T5Tokenizer(vocab=pieces, extra_ids=0, model_max_length=512)


def qwen_vl_encoder() -> tuple[Any, Any, Any]:
    """A tiny Qwen2.5-VL text encoder with its tokenizer and processor (hidden size 16)."""
    import torch
    from transformers import (Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration,
                              Qwen2VLImageProcessor, Qwen2VLProcessor, Qwen2VLVideoProcessor)

    tokenizer = qwen_tokenizer()
    ids = {t: tokenizer.convert_tokens_to_ids(t) for t in QWEN_SPECIALS}
    torch.manual_seed(0)
    config = Qwen2_5_VLConfig(
        text_config={"hidden_size": 16, "intermediate_size": 16, "num_hidden_layers": 2,
                     "num_attention_heads": 2, "num_key_value_heads": 2,
                     "rope_scaling": {"mrope_section": [1, 1, 2], "rope_type": "default",
                                      "type": "default"},
                     "rope_theta": 1000000.0, "vocab_size": len(tokenizer),
                     "bos_token_id": None, "eos_token_id": ids["<|im_end|>"]},
        vision_config={"depth": 2, "hidden_size": 16, "intermediate_size": 16, "num_heads": 2,
                       "out_hidden_size": 16},
        hidden_size=16, vocab_size=len(tokenizer),
        image_token_id=ids["<|image_pad|>"], video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"],
        vision_end_token_id=ids["<|vision_end|>"])
    text_encoder = Qwen2_5_VLForConditionalGeneration(config)
    processor = Qwen2VLProcessor(image_processor=Qwen2VLImageProcessor(), tokenizer=tokenizer,
                                 video_processor=Qwen2VLVideoProcessor())
    return text_encoder, tokenizer, processor


def longcat_image_edit_pipeline() -> Any:
    """LongCatImageEditPipeline: a tiny LongCat transformer (16 latent channels, as the pipeline
    hard-codes), a 16-channel 2-block VAE and the tiny Qwen2.5-VL encoder."""
    import torch
    from diffusers import (AutoencoderKL, FlowMatchEulerDiscreteScheduler,
                           LongCatImageEditPipeline, LongCatImageTransformer2DModel)

    torch.manual_seed(0)
    transformer = LongCatImageTransformer2DModel(
        patch_size=1, in_channels=64, num_layers=1, num_single_layers=1, attention_head_dim=16,
        num_attention_heads=2, joint_attention_dim=16, pooled_projection_dim=16,
        axes_dims_rope=[4, 6, 6])
    torch.manual_seed(0)
    vae = AutoencoderKL(block_out_channels=[8, 8], in_channels=3, out_channels=3,
                        down_block_types=["DownEncoderBlock2D"] * 2,
                        up_block_types=["UpDecoderBlock2D"] * 2, latent_channels=16,
                        norm_num_groups=4, shift_factor=0.0, scaling_factor=1.0)
    text_encoder, tokenizer, processor = qwen_vl_encoder()
    return LongCatImageEditPipeline(scheduler=FlowMatchEulerDiscreteScheduler(), vae=vae,
                                    text_encoder=text_encoder, tokenizer=tokenizer,
                                    text_processor=processor, transformer=transformer)


def qwen_edit_pipeline(plus: bool = False) -> Any:
    """QwenImageEditPipeline (or ...Plus, the 2509 edition) from diffusers' dummy components."""
    import torch
    from diffusers import (AutoencoderKLQwenImage, FlowMatchEulerDiscreteScheduler,
                           QwenImageEditPipeline, QwenImageEditPlusPipeline,
                           QwenImageTransformer2DModel)

    torch.manual_seed(0)
    transformer = QwenImageTransformer2DModel(
        patch_size=2, in_channels=16, out_channels=4, num_layers=2, attention_head_dim=16,
        num_attention_heads=3, joint_attention_dim=16, guidance_embeds=False,
        axes_dims_rope=(8, 4, 4))
    torch.manual_seed(0)
    z_dim = 4
    vae = AutoencoderKLQwenImage(base_dim=z_dim * 6, z_dim=z_dim, dim_mult=[1, 2, 4],
                                 num_res_blocks=1, temperal_downsample=[False, True],
                                 latents_mean=[0.0] * z_dim, latents_std=[1.0] * z_dim)
    text_encoder, tokenizer, processor = qwen_vl_encoder()
    cls = QwenImageEditPlusPipeline if plus else QwenImageEditPipeline
    return cls(transformer=transformer, vae=vae, scheduler=FlowMatchEulerDiscreteScheduler(),
               text_encoder=text_encoder, tokenizer=tokenizer, processor=processor)


def flux_kontext_pipeline() -> Any:
    """FluxKontextPipeline from diffusers' dummy components (CLIP + T5 + a 1-channel VAE)."""
    import torch
    from diffusers import (AutoencoderKL, FlowMatchEulerDiscreteScheduler, FluxKontextPipeline,
                           FluxTransformer2DModel)
    from transformers import T5Config, T5EncoderModel

    torch.manual_seed(0)
    transformer = FluxTransformer2DModel(
        patch_size=1, in_channels=4, num_layers=1, num_single_layers=1, attention_head_dim=16,
        num_attention_heads=2, joint_attention_dim=32, pooled_projection_dim=32,
        axes_dims_rope=[4, 4, 8])
    tokenizer = clip_tokenizer()
    text_encoder = clip_text_encoder(tokenizer, hidden_act="gelu", projection_dim=32)
    tokenizer_2 = t5_tokenizer()
    torch.manual_seed(0)
    text_encoder_2 = T5EncoderModel(T5Config(
        vocab_size=len(tokenizer_2), d_model=32, d_ff=37, d_kv=8, num_layers=2, num_heads=4,
        relative_attention_num_buckets=8, decoder_start_token_id=0))
    torch.manual_seed(0)
    vae = AutoencoderKL(sample_size=32, in_channels=3, out_channels=3, block_out_channels=(4,),
                        layers_per_block=1, latent_channels=1, norm_num_groups=1,
                        use_quant_conv=False, use_post_quant_conv=False, shift_factor=0.0609,
                        scaling_factor=1.5035)
    return FluxKontextPipeline(scheduler=FlowMatchEulerDiscreteScheduler(),
                               text_encoder=text_encoder, text_encoder_2=text_encoder_2,
                               tokenizer=tokenizer, tokenizer_2=tokenizer_2,
                               transformer=transformer, vae=vae, image_encoder=None,
                               feature_extractor=None)


def instruct_pix2pix_pipeline() -> Any:
    """StableDiffusionInstructPix2PixPipeline from diffusers' dummy components (8-channel UNet)."""
    import torch
    from diffusers import (AutoencoderKL, EulerAncestralDiscreteScheduler,
                           StableDiffusionInstructPix2PixPipeline, UNet2DConditionModel)

    torch.manual_seed(0)
    unet = UNet2DConditionModel(
        block_out_channels=(8, 16), layers_per_block=1, sample_size=16, in_channels=8,
        out_channels=4, down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"), cross_attention_dim=32,
        norm_num_groups=4, attention_head_dim=4)
    torch.manual_seed(0)
    vae = AutoencoderKL(block_out_channels=[8, 16], in_channels=3, out_channels=3,
                        down_block_types=["DownEncoderBlock2D", "DownEncoderBlock2D"],
                        up_block_types=["UpDecoderBlock2D", "UpDecoderBlock2D"],
                        latent_channels=4, norm_num_groups=4)
    tokenizer = clip_tokenizer()
    text_encoder = clip_text_encoder(tokenizer)
    return StableDiffusionInstructPix2PixPipeline(
        unet=unet, scheduler=EulerAncestralDiscreteScheduler(), vae=vae,
        text_encoder=text_encoder, tokenizer=tokenizer, safety_checker=None,
        feature_extractor=None, image_encoder=None, requires_safety_checker=False)


QWEN_CHAT_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")


def flux2_klein_pipeline() -> Any:
    """Flux2KleinPipeline from diffusers' dummy components; the Qwen3 encoder has 28 layers so
    that the pipeline's default hidden-state layers (9, 18, 27) exist (3 x 16 = the transformer's
    joint_attention_dim 48); a 3-block VAE (scale 4) keeps the token count small at 64 px."""
    import torch
    from diffusers import (AutoencoderKLFlux2, FlowMatchEulerDiscreteScheduler,
                           Flux2KleinPipeline, Flux2Transformer2DModel)
    from transformers import Qwen3Config, Qwen3ForCausalLM

    torch.manual_seed(0)
    transformer = Flux2Transformer2DModel(
        patch_size=1, in_channels=4, num_layers=1, num_single_layers=1, attention_head_dim=16,
        num_attention_heads=2, joint_attention_dim=48, timestep_guidance_channels=256,
        axes_dims_rope=[4, 4, 4, 4], guidance_embeds=False)
    tokenizer = qwen_tokenizer()
    tokenizer.chat_template = QWEN_CHAT_TEMPLATE
    torch.manual_seed(0)
    text_encoder = Qwen3ForCausalLM(Qwen3Config(
        intermediate_size=16, hidden_size=16, num_hidden_layers=28, num_attention_heads=2,
        num_key_value_heads=2, vocab_size=len(tokenizer), max_position_embeddings=512,
        bos_token_id=None, eos_token_id=tokenizer.convert_tokens_to_ids("<|im_end|>")))
    torch.manual_seed(0)
    vae = AutoencoderKLFlux2(
        sample_size=32, in_channels=3, out_channels=3, down_block_types=("DownEncoderBlock2D",) * 3,
        up_block_types=("UpDecoderBlock2D",) * 3, block_out_channels=(4, 4, 4), layers_per_block=1,
        latent_channels=1, norm_num_groups=1, use_quant_conv=False, use_post_quant_conv=False)
    return Flux2KleinPipeline(scheduler=FlowMatchEulerDiscreteScheduler(), vae=vae,
                              text_encoder=text_encoder, tokenizer=tokenizer,
                              transformer=transformer)


def write_square_pairs(path: Path, *, size: int = 32, rows: int = 2, shift: int = 6) -> Path:
    """A parquet file of ``rows`` pairs in the MotionEdit-Train schema (id, prompt, input_image,
    target_image): a textured square on grey, moved right by ``shift`` pixels in the target."""
    import io

    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq
    from PIL import Image

    def png(seed: int, dx: int) -> bytes:
        rng = np.random.default_rng(seed)
        pixels = np.full((size, size, 3), 90, dtype=np.uint8)
        pixels[8:20, 6 + dx:18 + dx] = rng.integers(0, 256, (12, 12, 3), dtype=np.uint8)
        buffer = io.BytesIO()
        Image.fromarray(pixels).save(buffer, format="PNG")
        return buffer.getvalue()

    table = [{"id": f"s{i}", "prompt": f"move the square right {i}",
              "input_image": {"bytes": png(i, 0), "path": None},
              "target_image": {"bytes": png(i, shift), "path": None}} for i in range(rows)]
    pq.write_table(pa.Table.from_pylist(table), path)
    return path


def save(pipe: Any, path: Path) -> Path:
    pipe.save_pretrained(path)
    return path


BUILDERS: dict[str, Callable[[], Any]] = {
    "qwen-edit": lambda: qwen_edit_pipeline(plus=False),
    "qwen-edit-plus": lambda: qwen_edit_pipeline(plus=True),
    "flux-kontext": flux_kontext_pipeline,
    "pix2pix": instruct_pix2pix_pipeline,
    "flux2-klein": flux2_klein_pipeline,
    "longcat-edit": longcat_image_edit_pipeline,
}


class TinyModels:
    """Builds and saves each family's tiny pipeline on first use; returns its folder."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._paths: dict[str, Path] = {}

    def __call__(self, family: str) -> Path:
        if family not in self._paths:
            self._paths[family] = save(BUILDERS[family](), self.root / family)
        return self._paths[family]
