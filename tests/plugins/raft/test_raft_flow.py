"""RAFT through torchvision: inputs, batching, weights, autocast (CPU, random weights)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from mebench.errors import MebenchError
from mebench.plugins.raft.model import RAFTFlow

SIZE = 128  # the smallest side RAFT's correlation pyramid takes without padding


def _pair(h: int, w: int, shift: int = 3, seed: int = 0, batch: int = 1) -> tuple[torch.Tensor,
                                                                                  torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    src = torch.nn.functional.interpolate(torch.rand(batch, 3, h // 4 + 1, w // 4 + 1,
                                                     generator=g) * 255, size=(h, w),
                                          mode="bilinear", align_corners=False)
    return src, torch.roll(src, shifts=shift, dims=-1)


@pytest.fixture(scope="module")
def small() -> RAFTFlow:
    return RAFTFlow(variant="raft-small", random_weights=True, num_flow_updates=4, device="cpu")


def test_output_shape_and_odd_sizes_round_trip(small: RAFTFlow) -> None:
    src, dst = _pair(67, 91)
    out = small.estimate(src, dst)
    assert out.shape == (1, 2, 67, 91) and out.dtype == torch.float32
    # the odd pair is padded (replicating the border) to 128x128; padding it ourselves and cropping
    # the flow gives the same numbers
    pad = (0, SIZE - 91, 0, SIZE - 67)
    padded = [torch.nn.functional.pad(x, pad, mode="replicate") for x in (src, dst)]
    full = small.estimate(*padded)
    assert full.shape == (1, 2, SIZE, SIZE)
    torch.testing.assert_close(out, full[..., :67, :91], atol=1e-4, rtol=1e-4)
    # above the minimum, sides are padded to a multiple of 8
    assert small._prepare(torch.zeros(1, 3, 130, 135)).shape == (1, 3, 136, 136)
    assert small._prepare(torch.zeros(1, 3, 136, 144)).shape == (1, 3, 136, 144)


def test_input_is_mapped_to_minus_one_one(small: RAFTFlow) -> None:
    x = torch.tensor([0.0, 127.5, 255.0]).reshape(1, 3, 1, 1).expand(1, 3, SIZE, SIZE)
    prepared = small._prepare(x)
    assert prepared[0, :, 0, 0].tolist() == [-1.0, 0.0, 1.0]


def test_batch_of_two_equals_two_singles(small: RAFTFlow) -> None:
    src, dst = _pair(SIZE, SIZE, batch=2, seed=1)
    both = small.estimate(src, dst)
    singles = torch.cat([small.estimate(src[i:i + 1], dst[i:i + 1]) for i in range(2)])
    torch.testing.assert_close(both, singles, atol=1e-4, rtol=1e-4)
    assert not torch.allclose(both[0], both[1])  # two different pairs, two different flows


def test_shared_source_is_encoded_once_and_changes_nothing(small: RAFTFlow) -> None:
    src, tgt = _pair(SIZE, SIZE, seed=2)
    edited = torch.roll(src, shifts=-2, dims=-2)
    feature, context = small.model.feature_encoder, small.model.context_encoder
    f0, c0 = feature.images_encoded, context.images_encoded
    both = small.estimate(torch.cat([src, src]), torch.cat([tgt, edited]))
    # the feature encoder sees src, src, tgt, edited: 3 distinct; the context encoder src twice
    assert feature.images_encoded - f0 == 3
    assert context.images_encoded - c0 == 1
    singles = torch.cat([small.estimate(src, tgt), small.estimate(src, edited)])
    torch.testing.assert_close(both, singles, atol=1e-4, rtol=1e-4)


def test_num_flow_updates_is_honoured() -> None:
    calls: list[int] = []
    flows = {}
    for n in (1, 3):
        est = RAFTFlow(variant="raft-small", random_weights=True, num_flow_updates=n,
                       device="cpu")
        hook = est.model.update_block.register_forward_hook(lambda *a: calls.append(1))
        flows[n] = est.estimate(*_pair(SIZE, SIZE))
        hook.remove()
        assert len(calls) == n
        calls.clear()
    assert not torch.allclose(flows[1], flows[3])
    with pytest.raises(ValueError, match="num_flow_updates"):
        RAFTFlow(variant="raft-small", random_weights=True, num_flow_updates=0)


def test_checkpoint_loads_a_saved_torchvision_state_dict(tmp_path: Path) -> None:
    from torchvision.models.optical_flow import raft_small

    torch.manual_seed(123)
    reference = raft_small(weights=None).eval()
    path = tmp_path / "raft_small.pth"
    torch.save(reference.state_dict(), path)
    est = RAFTFlow(variant="raft-small", checkpoint=str(path), num_flow_updates=3, device="cpu")
    assert est.version.startswith("1+torchvision-") and "checkpoint-sha256:" in est.version
    src, dst = _pair(SIZE, SIZE, seed=3)
    with torch.inference_mode():
        expected = reference(src / 127.5 - 1, dst / 127.5 - 1, num_flow_updates=3)[-1]
    torch.testing.assert_close(est.estimate(src, dst), expected, atol=1e-4, rtol=1e-4)
    # strict: a state dict that misses a key is refused, naming the mismatch
    state = reference.state_dict()
    state.pop(next(iter(state)))
    torch.save(state, tmp_path / "partial.pth")
    with pytest.raises(ValueError, match="does not fit raft-small"):
        RAFTFlow(variant="raft-small", checkpoint=str(tmp_path / "partial.pth"))
    with pytest.raises(MebenchError, match="does not exist"):
        RAFTFlow(variant="raft-small", checkpoint=str(tmp_path / "nope.pth"))


def test_safetensors_checkpoint_and_version_follow_the_file(tmp_path: Path) -> None:
    from safetensors.torch import save_file
    from torchvision.models.optical_flow import raft_small

    versions = set()
    for seed in (0, 1):
        torch.manual_seed(seed)
        path = tmp_path / f"w{seed}.safetensors"
        save_file(raft_small(weights=None).state_dict(), str(path))
        versions.add(RAFTFlow(variant="raft-small", checkpoint=str(path)).version)
    assert len(versions) == 2


def test_missing_weights_name_the_hub_cache_file(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from torchvision.models.optical_flow import raft_small

    from mebench.weights import weights_dir

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    hub = tmp_path / "torch" / "hub" / "checkpoints"
    assert Path(torch.hub.get_dir()) == hub.parent
    with pytest.raises(MebenchError) as info:
        RAFTFlow(variant="raft-small")
    text = str(info.value)
    assert "put raft_small_C_T_V2-01064c6d.pth" in text
    assert f"at {hub / 'raft_small_C_T_V2-01064c6d.pth'} (the torch hub cache" in text
    assert "`mebench download raft-small`" in text and "checkpoint=PATH" in text
    with pytest.raises(MebenchError, match="mebench download raft-large-C_T_V1"):
        RAFTFlow(variant="raft-large", weights="C_T_V1")
    # `mebench download` puts the file in $MEBENCH_HOME/weights: found there
    torch.manual_seed(0)
    state = raft_small(weights=None).state_dict()
    weights_dir().mkdir(parents=True)
    torch.save(state, weights_dir() / "raft_small_C_T_V2-01064c6d.pth")
    est = RAFTFlow(variant="raft-small")
    assert est.version.endswith("+Raft_Small_Weights.C_T_V2+updates-12")
    # torch's hub cache comes first
    hub.mkdir(parents=True)
    torch.save({k: v + 1 if v.is_floating_point() else v for k, v in state.items()},
               hub / "raft_small_C_T_V2-01064c6d.pth")
    first = RAFTFlow(variant="raft-small").model.state_dict()
    key = next(k for k, v in state.items()
               if k.startswith("feature_encoder.") and v.is_floating_point())
    assert torch.equal(first[key.replace("feature_encoder.", "feature_encoder.inner.")],
                       state[key] + 1)


def test_registered_weight_files_match_torchvision(pm) -> None:  # type: ignore[no-untyped-def]
    from torchvision.models.optical_flow import raft

    files = {w.name: w for w in pm.weight_files().values()
             if w.name.startswith("raft-")}
    for enum_cls, variant in ((raft.Raft_Large_Weights, "raft-large"),
                              (raft.Raft_Small_Weights, "raft-small")):
        for member in (m for m in enum_cls.__members__ if m != "DEFAULT"):
            # torchvision's DEFAULT is mebench's default and gets the plain name
            name = variant if enum_cls[member] == enum_cls.DEFAULT else f"{variant}-{member}"
            assert files.pop(name).url == enum_cls[member].url
    assert files == {}


def test_bad_weight_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="C_T_SKHT_V2"):
        RAFTFlow(variant="raft-large", weights="C_T_V9")
    with pytest.raises(ValueError, match="cannot be combined"):
        RAFTFlow(variant="raft-small", random_weights=True, checkpoint="x.pth")
    with pytest.raises(ValueError, match="not both"):
        RAFTFlow(variant="raft-small", weights="C_T_V2", checkpoint="x.pth")


def test_bf16_autocast_on_cpu_differs_from_fp32_by_a_small_reported_amount(
        small: RAFTFlow, pm, record_property) -> None:  # type: ignore[no-untyped-def]
    from PIL import Image

    from mebench.flowcache import FlowPair, FlowService

    spec = pm.get("flow", "raft-small")
    src, dst = _pair(SIZE, SIZE, shift=4, seed=4)
    images = [Image.fromarray(x[0].permute(1, 2, 0).round().byte().numpy()) for x in (src, dst)]
    pair = FlowPair(images[0], images[1], "s", "d")
    fp32 = FlowService(small, spec, {}, None)
    bf16 = FlowService(small, spec, {}, None, dtype="bf16")
    assert fp32.key("s", "d") != bf16.key("s", "d")  # the dtype is part of the cache key
    a, b = fp32.flows([pair])[0], bf16.flows([pair])[0]
    diff = np.abs(a - b)
    scale = float(np.abs(a).mean())
    record_property("bf16_vs_fp32_mean_abs_px", float(diff.mean()))
    record_property("bf16_vs_fp32_max_abs_px", float(diff.max()))
    print(f"bf16 vs fp32 (raft-small, random weights, {SIZE}x{SIZE}): mean |diff| "
          f"{diff.mean():.4f} px, max {diff.max():.4f} px, mean |flow| {scale:.3f} px")
    assert diff.max() > 0  # autocast really ran in bf16
    assert diff.mean() < 0.05 * scale
    opencv = pm.get("flow", "opencv-dis")
    with pytest.raises(MebenchError, match="does not run under autocast"):
        FlowService(opencv.build({}), opencv, {}, None, dtype="bf16")
    with pytest.raises(MebenchError, match="unknown flow dtype"):
        FlowService(small, spec, {}, None, dtype="int8")
    with pytest.raises(MebenchError, match="at least 1"):
        FlowService(small, spec, {}, None, batch_size=0)
    assert FlowService(small, spec, {}, None, dtype="fp32").key("s", "d") == fp32.key("s", "d")


def test_listed_and_run_from_the_cli(invoke,  # type: ignore[no-untyped-def]
                                     tmp_path: Path) -> None:
    import json

    listed = invoke("list", "flows", "--json")
    names = {row["name"] for row in json.loads(listed.output)["flows"]}
    assert {"raft-large", "raft-small"} <= names
    result = invoke("run", "--task", "motionedit-synthetic", "--model", "ground-truth",
                    "--limit", "2", "--dataset-args", "size=64", "--flow", "raft-small",
                    "--flow-args", "random_weights=true,num_flow_updates=2",
                    "--flow-dtype", "bf16", "--flow-batch-size", "2",
                    "--output", str(tmp_path), "--no-progress", "--format", "json")
    assert result.exit_code == 0, result.output
    run = json.loads((tmp_path / "ground-truth" / "run.json").read_text())
    assert run["flow"]["name"] == "raft-small"
    # the weights' identity and the autocast dtype are in the flow's cache identity
    assert run["flow"]["estimator_version"].endswith("+random-init-0+updates-2")
    assert run["flow"]["autocast"] == "bf16"
    assert run["flow_counts"]["computed_total"] == 2
    results = json.loads((tmp_path / "ground-truth" / "results.json").read_text())
    assert results["metrics"]["mas"]["mean"] == 100.0  # the same pair twice: the same flow
