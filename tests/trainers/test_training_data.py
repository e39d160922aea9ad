"""Training prompts from parquet files, prepared as the official training code does."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from mebench.errors import MebenchError
from mebench.trainers.build import load_prompts
from mebench.trainers.data import black_bar_box, prepare_pair
from mebench.trainers.recipe import builtin_recipe_dir, load_recipe_file


def _framed(seed: int, bars: int = 10) -> Image.Image:
    """An 80x60 picture of noise between black bars ``bars`` rows high, top and bottom."""
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, (60, 80, 3), dtype=np.uint8)
    pixels[:bars] = 0
    pixels[60 - bars:] = 0
    return Image.fromarray(pixels)


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def test_black_bars_and_square_crop() -> None:
    target = _framed(0)
    assert black_bar_box(np.asarray(target)) == (0, 10, 80, 50)
    assert black_bar_box(np.zeros((8, 8, 3), dtype=np.uint8)) == (0, 0, 8, 8)  # flat: no crop
    source = _framed(1, bars=0)
    src, tgt = prepare_pair(source, target, 32)
    assert src.size == tgt.size == (32, 32)
    # by hand: rows 10..50 of the target (40 high), then the centred 40x40 square, x 20..60
    expected = np.asarray(target.crop((20, 10, 60, 50)).resize((32, 32),
                                                                Image.Resampling.LANCZOS))
    assert np.array_equal(np.asarray(tgt), expected)
    expected_src = np.asarray(source.crop((20, 10, 60, 50)).resize((32, 32),
                                                                   Image.Resampling.LANCZOS))
    assert np.array_equal(np.asarray(src), expected_src)  # the target's crop, applied to the input


def test_prompts_from_a_parquet_file(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = [{"id": f"s{i}", "prompt": f"make it move {i}",
             "input_image": {"bytes": _png(_framed(10 + i, bars=0)), "path": None},
             "target_image": {"bytes": _png(_framed(20 + i)), "path": None}} for i in range(3)]
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "train.parquet")
    config = load_recipe_file(builtin_recipe_dir() / "toy-blob.yaml", overrides=[
        "dataset.source=parquet", f"dataset.path={tmp_path / 'train.parquet'}",
        "dataset.options={}", "dataset.limit=2", "dataset.resolution=16"])
    prompts = load_prompts(config)
    assert len(prompts) == 2
    first = prompts[1]
    assert (first.id, first.instruction) == ("s1", "make it move 1")
    assert first.source.shape == first.target.shape == (3, 16, 16)  # type: ignore[union-attr]
    assert first.source.dtype == torch.float32 and float(first.source.max()) <= 255
    _, tgt = prepare_pair(_framed(11, bars=0), _framed(21), 16)
    assert torch.equal(first.target, torch.from_numpy(  # type: ignore[arg-type]
        np.asarray(tgt, dtype=np.float32)).permute(2, 0, 1))
    with pytest.raises(MebenchError, match="'options' applies only to source 'builtin'"):
        load_recipe_file(builtin_recipe_dir() / "toy-blob.yaml",
                         overrides=["dataset.source=parquet"])
