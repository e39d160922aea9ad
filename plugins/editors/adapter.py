"""The diffusers editor adapter: load a pipeline once, edit batches of requests.

Seeds: each request carries its own seed (derived by the runner from the run seed and the sample
id), and each sample gets its own CPU ``torch.Generator``; the pipelines draw a batch's noise per
generator, so an output does not depend on batch size, order, rank or device.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from mebench.errors import MebenchError
from mebench.plugins.editors import lora as lora_mod
from mebench.plugins.editors.catalog import EditorSpec
from mebench.plugins.editors.families import FAMILIES, Family, group_by_size
from mebench.plugins.editors.settings import EditorSettings
from mebench.types import EditFailure, EditRequest

if TYPE_CHECKING:
    import torch
    from PIL import Image


def _device(requested: str | None) -> str:
    import torch

    if requested:
        return requested
    return "cuda" if torch.cuda.is_available() else "cpu"


def _torch_dtype(name: str, device: str) -> torch.dtype:
    import torch

    if name == "auto":
        name = "bfloat16" if device.startswith("cuda") else "float32"
    return getattr(torch, name)  # type: ignore[no-any-return]


class DiffusersEditor:
    """A diffusers image-editing pipeline behind mebench's model contract.

    ``spec`` says which pipeline and defaults; ``settings`` are the checked effective settings
    (:func:`mebench.plugins.editors.settings.merge_settings`). Loading happens here, once.
    """

    def __init__(self, *, spec: EditorSpec, settings: EditorSettings) -> None:
        self.spec = spec
        self.family: Family = FAMILIES[spec.family]
        self.device = _device(settings.device)
        self.dtype = _torch_dtype(settings.dtype, self.device)
        self._settings = settings
        self.lora_info: dict[str, Any] | None = None
        self.pipe = self._load()

    # -- loading ----------------------------------------------------------------------------

    def _load(self) -> Any:
        import diffusers

        s = self._settings
        if s.attention_backend is not None:
            from diffusers.models.attention_dispatch import AttentionBackendName

            known = [b.value for b in AttentionBackendName]
            if s.attention_backend not in known:
                raise ValueError(f"attention_backend must be one of {', '.join(known)}, "
                                 f"got {s.attention_backend!r}")
        lora_files = None
        if s.lora is not None:  # resolve (and check the manifest) before loading the base
            lora_files = lora_mod.resolve(s.lora, s.lora_weight_name)
            lora_mod.check_manifest(lora_files, self.family.pipeline_class, self.spec.name)
        cls = getattr(diffusers, self.family.pipeline_class)
        try:
            pipe = cls.from_pretrained(s.model_path, dtype=self.dtype)
        except (OSError, ValueError) as exc:
            raise MebenchError(f"could not load {self.family.pipeline_class} from "
                               f"{s.model_path!r}: {exc}", where=f"model {self.spec.name!r}",
                               hint="check model_path= (a hub id or a local diffusers folder) "
                               "and that the weights are downloaded") from exc
        if lora_files is not None:
            self.lora_info = lora_mod.apply_lora(pipe, lora_files, component=self.family.component,
                                                 scale=s.lora_scale)
        if s.attention_backend is not None:
            getattr(pipe, self.family.component).set_attention_backend(s.attention_backend)
        if s.cpu_offload == "model":
            pipe.enable_model_cpu_offload(device=self.device)
        elif s.cpu_offload == "sequential":
            pipe.enable_sequential_cpu_offload(device=self.device)
        else:
            pipe.to(self.device)
        pipe.set_progress_bar_config(disable=True)
        return pipe

    # -- the contract -----------------------------------------------------------------------

    def settings(self) -> dict[str, Any]:
        """The effective settings, for run.json."""
        return {"editor": self.spec.name, "pipeline": self.family.pipeline_class,
                **self._settings.as_dict(), "device": self.device,
                "torch_dtype": str(self.dtype).removeprefix("torch."),
                "lora_loaded": self.lora_info}

    def _generators(self, requests: Sequence[EditRequest]) -> list[torch.Generator]:
        import torch

        return [torch.Generator(device="cpu").manual_seed(r.seed) for r in requests]

    def _call(self, requests: list[EditRequest]) -> list[Image.Image]:
        import torch

        images = [r.source.convert("RGB") for r in requests]
        prompts = [r.instruction for r in requests]
        call = self.family.build(self.pipe, self._settings, images, prompts,
                                 self._generators(requests))
        with torch.inference_mode():
            if call.context is not None:
                with call.context:
                    out = self.pipe(**call.kwargs)
            else:
                out = self.pipe(**call.kwargs)
        return list(out.images)

    def edit(self, requests: Sequence[EditRequest]) -> list[Image.Image | EditFailure]:
        """Edit each request; same-sized sources share one pipeline call where it batches."""
        results: list[Image.Image | EditFailure | None] = [None] * len(requests)
        for group in group_by_size([r.source for r in requests]):
            step = len(group) if self.family.supports_batch else 1
            for start in range(0, len(group), step):
                idx = group[start:start + step]
                for i, image in zip(idx, self._call([requests[i] for i in idx])):
                    results[i] = image
        return [r for r in results if r is not None]
