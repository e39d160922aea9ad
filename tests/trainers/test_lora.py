"""Two LoRA adapters through peft: selection, trainable state, old-policy update, PEFT files."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from mebench.trainers import lora


def _model() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.SiLU(), torch.nn.Linear(8, 2))


def _trainable(module: torch.nn.Module) -> list[str]:
    return sorted(n for n, p in module.named_parameters() if p.requires_grad)


@pytest.fixture
def model() -> torch.nn.Module:
    m = lora.attach_adapters(_model(), rank=2, alpha=4, target_modules=["0", "2"])
    with torch.no_grad():  # make the trained adapter differ from the old one and the base
        for p in lora.adapter_params(m, lora.DEFAULT).values():
            p.add_(0.1)
    return m


def test_only_the_default_adapter_trains(model: torch.nn.Module) -> None:
    assert _trainable(model) == ["0.lora_A.default.weight", "0.lora_B.default.weight",
                                 "2.lora_A.default.weight", "2.lora_B.default.weight"]


def test_adapter_selection_and_restored_state(model: torch.nn.Module) -> None:
    x = torch.randn(3, 4)
    base = _model()(x)
    trained = model(x)
    with lora.adapter_scope(model, lora.OLD):
        old = model(x)
    with lora.adapter_scope(model, None):
        disabled = model(x)
    assert torch.allclose(disabled, base)
    assert torch.allclose(old, base)  # old = the initial adapter, whose B is zero
    assert not torch.allclose(trained, base)
    assert torch.allclose(model(x), trained)
    assert _trainable(model)[0] == "0.lora_A.default.weight" and len(_trainable(model)) == 4
    with pytest.raises(ValueError):
        with lora.adapter_scope(model, "other"):  # type: ignore[arg-type]
            pass


def test_old_policy_update(model: torch.nn.Module) -> None:
    x = torch.randn(3, 4)
    old = {k: v.detach().clone() for k, v in lora.adapter_params(model, lora.OLD).items()}
    new = lora.adapter_params(model, lora.DEFAULT)
    lora.copy_adapter(model, source=lora.DEFAULT, target=lora.OLD, decay=0.25)
    for name, value in lora.adapter_params(model, lora.OLD).items():
        assert torch.allclose(value, 0.25 * old[name] + 0.75 * new[name])
    lora.copy_adapter(model, source=lora.DEFAULT, target=lora.OLD, decay=0.0)
    with lora.adapter_scope(model, lora.OLD):
        old_out = model(x)
    assert torch.allclose(old_out, _with(model, x))


def _with(model: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    with lora.adapter_scope(model, lora.DEFAULT):
        out: torch.Tensor = model(x)
        return out


def test_peft_format_round_trip(model: torch.nn.Module, tmp_path: Path) -> None:
    from peft import PeftModel

    lora.save_adapter(model, lora.DEFAULT, tmp_path)
    assert {p.name for p in tmp_path.iterdir()} == {"adapter_config.json",
                                                     "adapter_model.safetensors"}
    x = torch.randn(3, 4)
    loaded = PeftModel.from_pretrained(_model(), str(tmp_path))
    assert torch.allclose(loaded(x), model(x))
    fresh = lora.attach_adapters(_model(), rank=2, alpha=4, target_modules=["0", "2"])
    lora.load_adapter(fresh, lora.OLD, tmp_path)
    with lora.adapter_scope(fresh, lora.OLD):
        assert torch.allclose(fresh(x), model(x))
    other = lora.attach_adapters(_model(), rank=2, alpha=4, target_modules=["0"])
    with pytest.raises(ValueError, match="other LoRA parameters"):
        lora.load_adapter(other, lora.DEFAULT, tmp_path)


def test_target_modules_must_match() -> None:
    with pytest.raises(ValueError):
        lora.attach_adapters(_model(), rank=2, alpha=4, target_modules=["nothing_here"])
