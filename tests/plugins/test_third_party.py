"""A real third-party plugin package, installed and driven through the real command line.

``tests/fixtures/mebench-example-plugin`` (the package CONTRIBUTING.md walks through) is built and
installed into a temporary folder with pip, offline, and ``python -m mebench`` runs in a subprocess
with that folder on ``PYTHONPATH``: entry-point discovery, distribution metadata, package data and
the lazy factories all take the path a ``pip install mebench-foo`` takes.
"""

from __future__ import annotations

import importlib.metadata as md
import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "mebench-example-plugin"
DISTRIBUTION = "mebench-example-plugin"
THIRD_PARTY = {"models": "example-shift", "flows": "example-phase", "tasks": "example-synthetic"}
BUILT_INS = {"models": "identity", "flows": "opencv-dis", "tasks": "motionedit-synthetic"}

pytestmark = pytest.mark.timeout(180)


def _offline_build_problem() -> str | None:
    """Why this interpreter cannot build a setuptools wheel without the network, if it cannot."""
    if importlib.util.find_spec("setuptools") is None:
        return "setuptools is not installed"
    major, minor = (int(p) for p in md.version("setuptools").split(".")[:2])
    if (major, minor) < (70, 1) and importlib.util.find_spec("wheel") is None:
        return "setuptools < 70.1 needs the 'wheel' package to build a wheel"
    return None


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example package, installed (offline, no dependencies) into a fresh target folder."""
    problem = _offline_build_problem()
    if problem:  # torch requires setuptools>=77, so a normal `pip install -e ".[dev]"` has it
        pytest.skip(f"cannot build the example plugin offline: {problem}")
    root = tmp_path_factory.mktemp("third_party")
    source = root / "src"
    # The build writes build/ and *.egg-info next to pyproject.toml: keep them out of the repo.
    shutil.copytree(FIXTURE, source, ignore=shutil.ignore_patterns(
        "build", "*.egg-info", "__pycache__"))
    target = root / "site"
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation",
         "--no-index", "--disable-pip-version-check", "--quiet", "--target", str(target),
         str(source)],
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return target


def _python(site: Path, home: Path, cwd: Path, *args: str,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``python ARGS`` with the installed example first on ``PYTHONPATH`` and its own home."""
    environ = {k: v for k, v in os.environ.items()
               if k not in ("MEBENCH_PLUGINS", "MEBENCH_DISABLE_PLUGIN_AUTOLOAD")}
    environ["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(site), os.environ.get("PYTHONPATH", "")) if p)
    environ["MEBENCH_HOME"] = str(home)
    environ.update(env or {})
    return subprocess.run([sys.executable, *args], cwd=cwd, env=environ,
                          capture_output=True, text=True, timeout=150, check=False)


def _mebench(site: Path, home: Path, cwd: Path, *args: str,
             env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return _python(site, home, cwd, "-m", "mebench", *args, env=env)


def _ok(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 0, f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def _names(listing: dict[str, Any], section: str) -> set[str]:
    return {row["name"] for row in listing[section]}


def _list_json(site: Path, tmp_path: Path, *args: str,
               env: dict[str, str] | None = None) -> dict[str, Any]:
    listing: dict[str, Any] = json.loads(
        _ok(_mebench(site, tmp_path / "home", tmp_path, *args, "list", "--json", env=env)))
    return listing


def _row(listing: dict[str, Any], section: str, name: str) -> dict[str, Any]:
    (row,) = [r for r in listing[section] if r["name"] == name]
    return row


def _present(listing: dict[str, Any], names: dict[str, str]) -> dict[str, bool]:
    return {section: name in _names(listing, section) for section, name in names.items()}


# -- discovery ----------------------------------------------------------------------------------


def test_list_shows_the_plugins_names_and_its_distribution(site: Path, tmp_path: Path) -> None:
    listing = _list_json(site, tmp_path)

    model = _row(listing, "models", "example-shift")
    assert (model["kind"], model["distribution"], model["version"], model["plugin"]) == (
        "model", DISTRIBUTION, "0.1.0", "example")
    assert "shifts the whole image" in model["description"]
    flow = _row(listing, "flows", "example-phase")
    assert (flow["kind"], flow["distribution"], flow["version"]) == ("flow", DISTRIBUTION, "0.1.0")
    task = _row(listing, "tasks", "example-synthetic")
    assert Path(task["path"]) == site / "mebench_example" / "tasks" / "example-synthetic.yaml"
    assert _present(listing, BUILT_INS) == dict.fromkeys(BUILT_INS, True)
    assert listing["failed_plugins"] == []


def test_the_table_names_the_providing_distribution(site: Path, tmp_path: Path) -> None:
    out = _ok(_mebench(site, tmp_path / "home", tmp_path, "list", "models"))
    line = next(row for row in out.splitlines() if row.startswith("example-shift "))
    assert line.rstrip().endswith(f"{DISTRIBUTION} 0.1.0")


def test_autoload_off_drops_third_party_and_keeps_built_ins(site: Path, tmp_path: Path) -> None:
    listing = _list_json(site, tmp_path, env={"MEBENCH_DISABLE_PLUGIN_AUTOLOAD": "1"})

    assert _present(listing, THIRD_PARTY) == dict.fromkeys(THIRD_PARTY, False)
    assert _present(listing, BUILT_INS) == dict.fromkeys(BUILT_INS, True)


@pytest.mark.parametrize("allow", [DISTRIBUTION, "example"], ids=["distribution", "entry-point"])
def test_plugins_option_allows_one_package_with_autoload_off(site: Path, tmp_path: Path,
                                                             allow: str) -> None:
    listing = _list_json(site, tmp_path, "--plugins", allow,
                         env={"MEBENCH_DISABLE_PLUGIN_AUTOLOAD": "1"})

    assert _present(listing, THIRD_PARTY) == dict.fromkeys(THIRD_PARTY, True)
    assert _present(listing, BUILT_INS) == dict.fromkeys(BUILT_INS, True)


def test_plugins_option_naming_another_package_leaves_this_one_out(site: Path,
                                                                    tmp_path: Path) -> None:
    listing = _list_json(site, tmp_path, "--plugins", "mebench-other")

    assert _present(listing, THIRD_PARTY) == dict.fromkeys(THIRD_PARTY, False)
    assert _present(listing, BUILT_INS) == dict.fromkeys(BUILT_INS, True)


LAZY_PROBE = """
import sys
from mebench.cli.main import main
try:
    main(["list", "--json"])
except SystemExit:
    pass
heavy = ("torch", "PIL", "cv2", "numpy", "mebench_example.impl")
sys.stderr.write("heavy=" + ",".join(m for m in heavy if m in sys.modules) + "\\n")
"""


def test_listing_the_plugin_imports_nothing_heavy(site: Path, tmp_path: Path) -> None:
    proc = _python(site, tmp_path / "home", tmp_path, "-c", LAZY_PROBE)

    assert '"example-shift"' in _ok(proc)
    assert proc.stderr.splitlines()[-1] == "heavy=", proc.stderr


# -- runs -----------------------------------------------------------------------------------------


def _run(site: Path, tmp_path: Path, *args: str) -> Path:
    out = tmp_path / "out"
    _ok(_mebench(site, tmp_path / "home", tmp_path, "run", *args, "--output", str(out),
                 "--no-progress"))
    return out


def _read(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def test_run_the_plugins_task_with_its_model_and_flow(site: Path, tmp_path: Path) -> None:
    out = _run(site, tmp_path, "--task", "example-synthetic", "--model", "example-shift")

    results = _read(out / "example-shift" / "results.json")
    assert (results["task"], results["n"], results["n_failed"]) == ("example-synthetic", 6, 0)
    assert results["flow"]["name"] == "example-phase"
    assert set(results["metrics"]) >= {"mas", "motion_reward"}
    run = _read(out / "example-shift" / "run.json")
    assert run["versions"][DISTRIBUTION] == "0.1.0"
    assert run["model_plugin"] == {"plugin": "example", "distribution": DISTRIBUTION,
                                   "version": "0.1.0"}
    assert run["flow"]["distribution"] == DISTRIBUTION
    assert len(list((out / "example-shift" / "outputs").glob("*.png"))) == 6


def test_third_party_flow_on_a_built_in_task(site: Path, tmp_path: Path) -> None:
    out = _run(site, tmp_path, "--task", "motionedit-synthetic", "--limit", "6",
               "--model", "example-shift", "--model-args", "pixels=4", "--flow", "example-phase")

    (run_dir,) = list(out.iterdir())
    assert run_dir.name.startswith("example-shift-")  # model arguments give the folder a hash
    results = _read(run_dir / "results.json")
    assert (results["task"], results["n"], results["n_failed"]) == ("motionedit-synthetic", 6, 0)
    assert results["model_args"] == {"pixels": 4}
    assert results["flow"]["name"] == "example-phase"
    run = _read(run_dir / "run.json")
    assert run["flow"]["estimator_version"].startswith("1+opencv-")


def test_a_too_wide_shift_fails_each_sample_not_the_run(site: Path, tmp_path: Path) -> None:
    out = _run(site, tmp_path, "--task", "example-synthetic", "--limit", "2",
               "--model", "example-shift", "--model-args", "pixels=500")

    (run_dir,) = list(out.iterdir())
    results = _read(run_dir / "results.json")
    assert (results["n"], results["n_failed"], results["n_scored"]) == (2, 2, 0)


def test_an_argument_the_model_does_not_take_names_the_ones_it_does(site: Path,
                                                                     tmp_path: Path) -> None:
    proc = _mebench(site, tmp_path / "home", tmp_path, "run", "--task", "example-synthetic",
                    "--model", "example-shift", "--model-args", "pixel=4",
                    "--output", str(tmp_path / "out"), "--no-progress")

    assert proc.returncode == 2
    assert "does not accept argument(s) pixel" in proc.stderr
    assert "accepted: pixels" in proc.stderr
