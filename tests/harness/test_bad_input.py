"""Bad input: a one-line error naming what and where, exit code 2, nothing presented as done."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image

from mebench.synthetic import generate_sample


def _png(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()


def write_bench_parquet(path: Path, n: int = 4, *, drop: str | None = None,
                        corrupt: int | None = None, resize_target: int | None = None,
                        size: int = 128) -> Path:
    """A parquet file in MotionEdit-Bench's schema (HF image structs), from synthetic samples."""
    rows: dict[str, list] = {"id": [], "prompt": [], "input_image": [], "target_image": []}
    for i in range(n):
        s = generate_sample(i, size=size)
        target = s.target if resize_target != i else s.target.resize((size + 32, size))
        src_bytes = b"\x89PNG broken" if corrupt == i else _png(s.source)
        rows["id"].append(f"me-{i:03d}")
        rows["prompt"].append(s.instruction)
        rows["input_image"].append({"bytes": src_bytes, "path": f"{i}_in.png"})
        rows["target_image"].append({"bytes": _png(target), "path": f"{i}_tg.png"})
    if drop:
        rows.pop(drop)
    image_type = pa.struct([("bytes", pa.binary()), ("path", pa.string())])
    schema = pa.schema([(k, image_type if k.endswith("_image") else pa.string()) for k in rows])
    pq.write_table(pa.table(rows, schema=schema), path)
    return path


def _run(invoke, *args: str):  # type: ignore[no-untyped-def]
    # motionedit's own flow (UniMatch) needs weights, which tests do not have; a later --flow wins
    return invoke("run", "--no-progress", "--flow", "opencv-dis", *args)


def _one_line_error(result) -> str:  # type: ignore[no-untyped-def]
    assert result.exit_code == 2, result.output
    lines = [x for x in result.stderr.splitlines() if x.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    return lines[0]


def test_motionedit_task_on_a_local_parquet_copy(invoke, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    data = write_bench_parquet(tmp_path / "bench.parquet", n=4)
    result = _run(invoke, "--task", "motionedit", "--dataset-path", str(data),
                  "--model", "ground-truth", "--output", str(tmp_path / "out"))
    assert result.exit_code == 0, result.output
    res = json.loads((tmp_path / "out" / "ground-truth" / "results.json").read_text())
    assert res["n"] == 4 and res["n_failed"] == 0 and res["metrics"]["mas"]["mean"] >= 90
    assert res["by_category"] == {}  # the real dataset has no category column


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--model", "identiy"], "did you mean 'identity'"),
        (["--model", "identity", "--flow", "opencv-diss"], "did you mean 'opencv-dis'"),
        (["--model", "identity", "--task", "motionedit-synthetc"],
         "did you mean 'motionedit-synthetic'"),
        (["--model", "identity", "--limit", "0"], "--limit must be a positive"),
        (["--model", "synthetic-motion", "--model-args", "fracton=0.5"], "accepted: fraction"),
        (["--model", "identity", "--dataset-args", "colour=red"], "known: num_samples, seed, size"),
    ],
)
def test_unknown_names_and_bad_options(invoke, tmp_path: Path, args: list[str],  # type: ignore[no-untyped-def]
                                       expected: str) -> None:
    if "--task" not in args:
        args = ["--task", "motionedit-synthetic", *args]
    line = _one_line_error(_run(invoke, *args, "--output", str(tmp_path)))
    assert expected in line
    assert not list(tmp_path.glob("*/results.json"))


def test_malformed_and_unknown_key_task_files(invoke, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    bad = tmp_path / "bad.yaml"
    bad.write_text("task: x\nversion: 1\ndataset: [unclosed\n")
    line = _one_line_error(_run(invoke, "--task", str(bad), "--model", "identity"))
    assert "bad.yaml:" in line
    unknown = tmp_path / "unknown.yaml"
    unknown.write_text("task: x\nversion: 1\ndataset:\n  source: builtin\n"
                       "  path: motionedit-synthetic\n  shuffle: true\n")
    line = _one_line_error(_run(invoke, "--task", str(unknown), "--model", "identity"))
    assert "unknown.yaml:6" in line and "shuffle" in line


def test_missing_column_corrupt_image_empty_dataset(invoke, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    no_prompt = write_bench_parquet(tmp_path / "a.parquet", drop="prompt")
    line = _one_line_error(_run(invoke, "--task", "motionedit", "--dataset-path", str(no_prompt),
                                "--model", "identity", "--output", str(tmp_path / "o1")))
    assert "'prompt'" in line and "a.parquet" in line and "dataset.columns.instruction" in line

    corrupt = write_bench_parquet(tmp_path / "b.parquet", corrupt=2)
    line = _one_line_error(_run(invoke, "--task", "motionedit", "--dataset-path", str(corrupt),
                                "--model", "identity", "--output", str(tmp_path / "o2")))
    assert "me-002" in line and "corrupt" in line
    assert not (tmp_path / "o2" / "identity" / "results.json").exists()

    empty = tmp_path / "c.parquet"
    image_type = pa.struct([("bytes", pa.binary()), ("path", pa.string())])
    pq.write_table(pa.table({"id": pa.array([], pa.string()), "prompt": pa.array([], pa.string()),
                             "input_image": pa.array([], image_type),
                             "target_image": pa.array([], image_type)}), empty)
    line = _one_line_error(_run(invoke, "--task", "motionedit", "--dataset-path", str(empty),
                                "--model", "identity", "--output", str(tmp_path / "o3")))
    assert "no samples" in line


def test_source_and_target_of_different_sizes_are_resized_and_recorded(invoke, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    data = write_bench_parquet(tmp_path / "d.parquet", resize_target=1)
    result = _run(invoke, "--task", "motionedit", "--dataset-path", str(data),
                  "--model", "identity", "--output", str(tmp_path / "o"))
    assert result.exit_code == 0, result.output
    records = [json.loads(x) for x in
               (tmp_path / "o" / "identity" / "samples.jsonl").read_text().splitlines()]
    assert records[1]["resized"] == {"target": [160, 128]}
    assert records[0]["resized"] is None


def test_run_directory_of_another_task_or_model_is_refused(invoke, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    data = write_bench_parquet(tmp_path / "e.parquet", n=2)
    ok = _run(invoke, "--task", "motionedit", "--dataset-path", str(data), "--model", "identity",
              "--output", str(tmp_path / "o"))
    assert ok.exit_code == 0
    line = _one_line_error(_run(invoke, "--task", "motionedit-synthetic", "--limit", "2",
                                "--model", "identity", "--output", str(tmp_path / "o")))
    assert "made by task 'motionedit'" in line
    line = _one_line_error(_run(invoke, "--task", "motionedit", "--dataset-path", str(data),
                                "--model", "identity", "--seed", "7",
                                "--output", str(tmp_path / "o")))
    assert "another model, model arguments or seed" in line


def test_a_second_concurrent_run_is_refused(invoke, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from mebench.rundir import RunDir

    with RunDir(tmp_path / "identity").locked():
        line = _one_line_error(_run(invoke, "--task", "motionedit-synthetic", "--limit", "2",
                                    "--model", "identity", "--output", str(tmp_path)))
    assert "another mebench run is using this run directory" in line


def test_synthetic_motion_outside_the_synthetic_task(invoke, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    data = write_bench_parquet(tmp_path / "f.parquet", n=2)
    line = _one_line_error(_run(invoke, "--task", "motionedit", "--dataset-path", str(data),
                                "--model", "synthetic-motion", "--output", str(tmp_path / "o")))
    assert "only works on the motionedit-synthetic task" in line and "me-000" in line
    assert not (tmp_path / "o" / "synthetic-motion" / "results.json").exists()


def test_a_task_naming_an_unknown_judge_is_refused(invoke, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    task = tmp_path / "judged.yaml"
    task.write_text("task: judged\nversion: 1\ninclude: _motionedit_base\n"
                    "dataset: {source: builtin, path: motionedit-synthetic}\n"
                    "judge: {name: gemeni}\n")
    line = _one_line_error(_run(invoke, "--task", str(task), "--model", "identity",
                                "--limit", "2", "--output", str(tmp_path / "o")))
    assert "unknown judge 'gemeni'" in line and "did you mean 'gemini'" in line
    assert not (tmp_path / "o" / "identity" / "results.json").exists()


def test_motionedit_uses_unimatch_and_says_where_its_weights_go(invoke, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    data = write_bench_parquet(tmp_path / "g.parquet", n=2)
    result = invoke("run", "--no-progress", "--task", "motionedit", "--dataset-path", str(data),
                    "--model", "identity", "--output", str(tmp_path / "o"))
    line = _one_line_error(result)
    assert "unimatch" in line and "mebench download unimatch" in line
    assert "checkpoint=PATH" in line
