"""The ``unimatch`` flow estimator: input handling, batching, weights, and its registration."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from mebench.errors import MebenchError
from mebench.plugin_manager import MebenchPluginManager
from mebench.plugins.unimatch import weight_file
from mebench.plugins.unimatch.estimator import UniMatchEstimator
from mebench.plugins.unimatch.model import VARIANTS
from mebench.weights import weights_dir

OFFICIAL = json.loads((Path(__file__).parent / "data" / "unimatch_state_dicts.json").read_text())


@pytest.fixture(scope="module")
def scale1() -> UniMatchEstimator:
    return UniMatchEstimator(variant="gmflow-scale1", random_weights=True, device="cpu")


@pytest.fixture(scope="module")
def refine() -> UniMatchEstimator:
    return UniMatchEstimator(random_weights=True, device="cpu")


def _pair(b: int, h: int, w: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    src = torch.rand(b, 3, h, w, generator=gen) * 255
    return src, torch.roll(src, shifts=(1, 2), dims=(2, 3))


def test_odd_sizes_come_back_at_their_size(refine: UniMatchEstimator) -> None:
    src, dst = _pair(1, 37, 45)
    flow = refine.estimate(src, dst)
    assert flow.shape == (1, 2, 37, 45)
    assert flow.dtype == torch.float32
    assert torch.isfinite(flow).all()


def test_pad32_pads_bottom_right_with_zeros_and_crops(scale1: UniMatchEstimator) -> None:
    src, dst = _pair(1, 37, 45)
    got = scale1.estimate(src, dst)
    padded = [torch.zeros(1, 3, 64, 64) for _ in range(2)]
    padded[0][..., :37, :45] = src
    padded[1][..., :37, :45] = dst
    with torch.inference_mode():
        full = scale1.model(padded[0], padded[1], scale1.inference)
    assert torch.allclose(got, full[..., :37, :45], atol=1e-4)
    # centred padding would give another answer: the side matters
    centred = [F.pad(t, (9, 10, 13, 14)) for t in (src, dst)]
    with torch.inference_mode():
        other = scale1.model(centred[0], centred[1], scale1.inference)[..., 13:50, 9:54]
    assert not torch.allclose(got, other, atol=1e-3)


def test_resize_mode(scale1: UniMatchEstimator) -> None:
    resize = UniMatchEstimator(variant="gmflow-scale1", random_weights=True, device="cpu",
                               padding="resize")
    src, dst = _pair(1, 32, 64)  # already a multiple: both modes run the network as it is
    assert torch.allclose(resize.estimate(src, dst), scale1.estimate(src, dst), atol=1e-5)
    src, dst = _pair(1, 40, 50)
    got = resize.estimate(src, dst)
    assert got.shape == (1, 2, 40, 50)
    up = [F.interpolate(t, size=(64, 64), mode="bilinear", align_corners=True) for t in (src, dst)]
    with torch.inference_mode():
        flow = resize.model(up[0], up[1], resize.inference)
    want = F.interpolate(flow, size=(40, 50), mode="bilinear", align_corners=True)
    want = want * torch.tensor([50 / 64, 40 / 64]).view(1, 2, 1, 1)
    assert torch.allclose(got, want, atol=1e-4)


def test_batch_of_four_equals_four_singles(refine: UniMatchEstimator) -> None:
    src, dst = _pair(4, 32, 40, seed=3)
    batched = refine.estimate(src, dst)
    singles = torch.cat([refine.estimate(src[i:i + 1], dst[i:i + 1]) for i in range(4)])
    assert torch.allclose(batched, singles, atol=1e-4)
    assert not torch.allclose(batched[0], batched[1])  # different inputs, different flows


def test_bf16_autocast_runs_on_cpu() -> None:
    est = UniMatchEstimator(variant="gmflow-scale1", random_weights=True, device="cpu",
                            dtype="bf16")
    flow = est.estimate(*_pair(1, 32, 32))
    assert flow.dtype == torch.float32 and flow.shape == (1, 2, 32, 32)


def test_bad_input_shapes(scale1: UniMatchEstimator) -> None:
    with pytest.raises(ValueError, match=r"\[B, 3, H, W\]"):
        scale1.estimate(torch.zeros(1, 1, 32, 32), torch.zeros(1, 1, 32, 32))
    with pytest.raises(ValueError, match="shapes differ"):
        scale1.estimate(torch.zeros(1, 3, 32, 32), torch.zeros(1, 3, 32, 64))


def test_argument_checks() -> None:
    with pytest.raises(ValueError, match="exactly one of checkpoint=PATH and random_weights"):
        UniMatchEstimator(variant="gmflow-scale1")
    with pytest.raises(ValueError, match="padding must be one of"):
        UniMatchEstimator(variant="gmflow-scale1", random_weights=True, padding="centre")
    with pytest.raises(ValueError, match="dtype must be one of"):
        UniMatchEstimator(variant="gmflow-scale1", random_weights=True, dtype="int8")


def _official_layout_checkpoint(path: Path, variant: str, seed: int) -> Path:
    gen = torch.Generator().manual_seed(seed)
    state = {k: torch.randn(shape, generator=gen) * 0.05
             for k, shape in OFFICIAL[variant]["state_dict"].items()}
    torch.save({"model": state, "optimizer": {}, "step": 1}, path)
    return path


def test_checkpoint_loads_and_names_the_version(tmp_path: Path) -> None:
    a = _official_layout_checkpoint(tmp_path / "a.pth", "gmflow-scale1", 1)
    b = _official_layout_checkpoint(tmp_path / "b.pth", "gmflow-scale1", 2)
    est_a = UniMatchEstimator(variant="gmflow-scale1", checkpoint=a, device="cpu")
    est_b = UniMatchEstimator(variant="gmflow-scale1", checkpoint=b, device="cpu")
    assert est_a.version.startswith("gmflow-scale1+") and len(est_a.version.split("+")[1]) == 12
    assert est_a.version != est_b.version
    with pytest.raises(ValueError, match="not a UniMatch gmflow-scale2 checkpoint"):
        UniMatchEstimator(variant="gmflow-scale2", checkpoint=a, device="cpu")
    (tmp_path / "junk.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="cannot read checkpoint"):
        UniMatchEstimator(variant="gmflow-scale1", checkpoint=tmp_path / "junk.pth")


# -- through the plugin manager ------------------------------------------------------------------


def test_registered_with_its_weights(pm: MebenchPluginManager) -> None:
    spec = pm.get("flow", "unimatch")
    assert spec.distribution == "mebench"
    weights = pm.weight_files()
    assert weights["unimatch"].filename == \
        "gmflow-scale2-regrefine6-mixdata-train320x576-4e7b215d.pth"
    assert weights["unimatch"].url == ("https://s3.eu-central-1.amazonaws.com/avg-projects/"
                                       "unimatch/pretrained/gmflow-scale2-regrefine6-mixdata-"
                                       "train320x576-4e7b215d.pth")
    assert {"unimatch-scale1", "unimatch-scale2"} <= set(weights)


def test_missing_weights_say_what_to_do(pm: MebenchPluginManager) -> None:
    spec = pm.get("flow", "unimatch")
    with pytest.raises(MebenchError) as err:
        spec.build({}, device="cpu")
    text = str(err.value)
    target = weights_dir() / "gmflow-scale2-regrefine6-mixdata-train320x576-4e7b215d.pth"
    assert "flow 'unimatch' (gmflow-scale2-regrefine6)" in text
    assert "run `mebench download unimatch`" in text
    assert f"at {target}" in text
    assert "--flow-args checkpoint=PATH" in text
    with pytest.raises(MebenchError, match="checkpoint file '/nowhere/x.pth' does not exist"):
        spec.build({"checkpoint": "/nowhere/x.pth"}, device="cpu")


def test_cached_download_is_found(pm: MebenchPluginManager) -> None:
    target = weights_dir() / weight_file("unimatch-scale1").filename
    target.parent.mkdir(parents=True)
    _official_layout_checkpoint(target, "gmflow-scale1", 4)
    est = pm.get("flow", "unimatch").build({"weights": "unimatch-scale1"}, device="cpu")
    assert est.variant == "gmflow-scale1"
    assert est.estimate(*_pair(1, 32, 32)).shape == (1, 2, 32, 32)


def test_factory_argument_errors(pm: MebenchPluginManager) -> None:
    spec = pm.get("flow", "unimatch")
    with pytest.raises(MebenchError, match="are for variant 'gmflow-scale1', not 'gmflow-scale2'"):
        spec.build({"weights": "unimatch-scale1", "variant": "gmflow-scale2"})
    with pytest.raises(MebenchError, match="unknown UniMatch weights 'unimatch-huge'"):
        spec.build({"weights": "unimatch-huge"})
    with pytest.raises(MebenchError, match="unknown UniMatch variant 'gmflow-scale3'"):
        spec.build({"variant": "gmflow-scale3"})
    with pytest.raises(MebenchError, match="cannot be combined"):
        spec.build({"random_weights": True, "checkpoint": "x.pth"})
    with pytest.raises(MebenchError, match="attn_splits_list needs 1 entries"):
        spec.build({"variant": "gmflow-scale1", "random_weights": True,
                    "attn_splits_list": [2, 8]})
    with pytest.raises(MebenchError, match="does not accept argument"):
        spec.build({"iters": 12})


def test_overrides_reach_the_network(pm: MebenchPluginManager) -> None:
    est = pm.get("flow", "unimatch").build(
        {"random_weights": True, "num_reg_refine": 2, "attn_splits_list": [2, 4],
         "corr_radius_list": [-1, 2], "prop_radius_list": [-1, 2]}, device="cpu")
    assert est.inference.num_reg_refine == 2
    assert est.inference.attn_splits_list == (2, 4)
    assert VARIANTS["gmflow-scale2-regrefine6"].inference.num_reg_refine == 6
    assert est.estimate(*_pair(1, 32, 32)).shape == (1, 2, 32, 32)


def test_registration_does_not_import_torch() -> None:
    import subprocess
    import sys

    code = ("import sys, mebench.plugins.unimatch, mebench.cli.download_cmd, mebench.weights\n"
            "heavy = [m for m in ('torch', 'numpy', 'tqdm') if m in sys.modules]\n"
            "assert not heavy, heavy\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_list_overrides_from_the_command_line_and_yaml() -> None:
    from mebench.plugins.unimatch.estimator import inference_config

    cfg = inference_config("gmflow-scale2", attn_splits_list="2;4", corr_radius_list=[-1, 2],
                           prop_radius_list="[-1; 2]")
    assert cfg.attn_splits_list == (2, 4)
    assert cfg.corr_radius_list == (-1, 2)
    assert cfg.prop_radius_list == (-1, 2)
    assert inference_config("gmflow-scale1", attn_splits_list=4).attn_splits_list == (4,)
    for bad in ("2;x", [2.5, 8], True, ""):
        with pytest.raises(ValueError, match="attn_splits_list must be a list of integers"):
            inference_config("gmflow-scale2", attn_splits_list=bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="num_reg_refine must be an integer"):
        inference_config("gmflow-scale2-regrefine6", num_reg_refine="six")  # type: ignore[arg-type]
