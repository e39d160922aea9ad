"""`mebench grid`: PNG and HTML grids of finished runs."""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from click.testing import Result
from PIL import Image

from mebench.grid import CAPTION_LINES, HEADER, LINE, PAD, png_size

Invoke = Callable[..., Result]
CELL = 64


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """ground-truth and identity on 4 synthetic 64px samples, and a folder run missing one."""
    from click.testing import CliRunner

    from mebench.cli.main import build_cli
    from mebench.plugin_manager import get_plugin_manager

    out = tmp_path_factory.mktemp("runs")
    pm = get_plugin_manager()
    common = ["--task", "motionedit-synthetic", "--limit", "4", "--dataset-args", "size=64",
              "--output", str(out), "--no-progress", "--no-cache"]
    result = CliRunner().invoke(build_cli(pm), ["run", "--model", "ground-truth,identity",
                                                *common], obj=pm, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    partial = out.parent / f"{out.name}-partial"
    partial.mkdir()
    for p in sorted((out / "ground-truth" / "outputs").glob("*.png"))[:3]:
        (partial / p.name).write_bytes(p.read_bytes())
    result = CliRunner().invoke(build_cli(pm), ["run", "--model", "folder", "--model-args",
                                                f"path={partial}", *common], obj=pm,
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return out


def _cell(grid: Image.Image, row: int, col: int) -> np.ndarray:
    x = PAD + col * (CELL + PAD)
    y = HEADER + row * (CELL + CAPTION_LINES * LINE + PAD)
    return np.asarray(grid.crop((x, y, x + CELL, y + CELL)))


def test_png_has_a_row_per_sample_and_a_column_per_run(invoke: Invoke, runs: Path,
                                                       tmp_path: Path) -> None:
    out = tmp_path / "grid.png"
    result = invoke("grid", str(runs / "ground-truth"), str(runs / "identity"), "--limit", "3",
                    "--cell", str(CELL), "--out", str(out))
    assert result.exit_code == 0, result.output
    assert result.output == f"3 rows x 4 columns ({png_size(3, 4, CELL)[0]}x" \
                            f"{png_size(3, 4, CELL)[1]}) -> {out}\n"
    with Image.open(out) as im:
        grid = im.convert("RGB")
    assert grid.size == png_size(3, 4, CELL) == (PAD + 4 * (CELL + PAD),
                                                 HEADER + 3 * (CELL + 4 * LINE + PAD) + PAD)
    for row in range(3):
        source, target, gt, ident = (_cell(grid, row, c) for c in range(4))
        assert np.array_equal(gt, target)        # ground-truth's output is the target
        assert np.array_equal(ident, source)     # identity's output is the source
        assert not np.array_equal(source, target)
    first = np.asarray(Image.open(runs / "identity" / "outputs" / "syn-0000.png").convert("RGB"))
    assert np.array_equal(_cell(grid, 0, 0), first)


def test_samples_pick_rows_in_the_order_given(invoke: Invoke, runs: Path, tmp_path: Path) -> None:
    out = tmp_path / "two.png"
    result = invoke("grid", str(runs / "identity"), "--samples", "syn-0003,syn-0001",
                    "--cell", str(CELL), "--out", str(out))
    assert result.exit_code == 0, result.output
    with Image.open(out) as im:
        grid = im.convert("RGB")
    assert grid.size == png_size(2, 3, CELL)
    expect = np.asarray(Image.open(runs / "identity" / "outputs" / "syn-0003.png").convert("RGB"))
    assert np.array_equal(_cell(grid, 0, 0), expect)


def test_html_links_every_image_relatively(invoke: Invoke, runs: Path, tmp_path: Path) -> None:
    out = tmp_path / "pages" / "all.html"
    result = invoke("grid", str(runs), "--out", str(out))  # a folder of runs: all three
    assert result.exit_code == 0, result.output
    assert result.output == f"4 rows x 5 columns -> {out}\n"
    page = out.read_text()
    assert page.count("<tr>") == 1 + 4 and page.count("<th>") == 5
    sources = re.findall(r'<img src="([^"]+)"', page)
    assert len(sources) == 4 * 5 - 1  # the folder run has no image for syn-0003
    assert page.count('class="none"') == 1
    for src in sources:
        assert not src.startswith("/")
        assert (out.parent / urllib.parse.unquote(src)).is_file(), src
    assert len(list((out.parent / "all_files" / "source").glob("*.png"))) == 4
    assert len(list((out.parent / "all_files" / "target").glob("*.png"))) == 4
    assert "syn-0000: Have the green figure lower its right arm." in page
    assert "MAS 100.00" in page and "MAS 0.00" in page
    assert "failed (generate): no output image" in page


def test_unknown_sample_id_is_an_error(invoke: Invoke, runs: Path, tmp_path: Path) -> None:
    result = invoke("grid", str(runs / "identity"), "--samples", "syn-0001,syn-001",
                    "--out", str(tmp_path / "g.png"))
    assert result.exit_code == 2
    assert "--samples: unknown sample id 'syn-001'" in result.output
    assert "did you mean 'syn-0001'" in result.output
    assert not (tmp_path / "g.png").exists()


@pytest.mark.parametrize("args, message", [
    (["--out", "g.jpg"], "--out must end in .png or .html"),
    (["--out", "g.png", "--limit", "2", "--samples", "syn-0000"], "not both"),
])
def test_bad_options(invoke: Invoke, runs: Path, tmp_path: Path, args: list[str],
                     message: str) -> None:
    args = [str(tmp_path / a) if a.startswith("g.") else a for a in args]
    result = invoke("grid", str(runs / "identity"), *args)
    assert result.exit_code == 2 and message in result.output


def test_a_folder_that_is_not_a_run(invoke: Invoke, tmp_path: Path) -> None:
    result = invoke("grid", str(tmp_path), "--out", str(tmp_path / "g.png"))
    assert result.exit_code == 2
    assert "not a run directory (no run.json)" in result.output
