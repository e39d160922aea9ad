"""The plugin manager: discovery, failure isolation, registries, argument checks, ``mebench list``.

Plugins here are inline ``@hookimpl`` classes added with ``pm.add_plugin`` to a fresh
:class:`MebenchPluginManager`, or modules written to ``tmp_path`` and announced through fake
entry points (real :class:`importlib.metadata.EntryPoint` objects, read from a ``.dist-info``
folder so they carry a distribution name and version, as an installed package's do).
"""

from __future__ import annotations

import importlib.metadata as md
import json
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import mebench
from mebench import plugin_manager
from mebench.cli.main import build_cli
from mebench.errors import MebenchError
from mebench.hookspecs import Register, hookimpl
from mebench.plugin_manager import MebenchPluginManager, PluginSpec, get_plugin_manager

def _own_names(kind: str) -> set[str]:
    """What mebench's own entry points register (third-party autoload off)."""
    return set(get_plugin_manager(autoload=False).specs(kind))  # type: ignore[arg-type]


BUILT_IN_MODELS = _own_names("model")
BUILT_IN_FLOWS = _own_names("flow")
REFERENCE_MODELS = {"folder", "ground-truth", "identity", "synthetic-motion"}


def _models(*names: str, fail: Exception | None = None) -> object:
    """An inline plugin that registers models ``names`` (no-argument factories), then raises
    ``fail`` if given."""

    class Plugin:
        @hookimpl
        def mebench_register_models(self, register: Register) -> None:
            for name in names:
                register(name, lambda: object(), description=f"  the {name} model\n")
            if fail is not None:
                raise fail

    return Plugin()


# -- fake entry points ------------------------------------------------------------------------


@pytest.fixture
def fake_entry_points(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                      ) -> Iterator[Callable[[str, str, str], None]]:
    """``add(distribution, entry_point_name, module_source)``: a plugin module on ``sys.path``
    announced by a fake ``mebench`` entry point, beside mebench's real ones."""
    site, meta = tmp_path / "site", tmp_path / "meta"  # metadata off sys.path: only we announce it
    site.mkdir()
    meta.mkdir()
    monkeypatch.syspath_prepend(str(site))
    extra: list[md.EntryPoint] = []
    real = md.entry_points

    def entry_points(**selection: Any) -> list[md.EntryPoint]:
        return [*real(**selection), *(ep for ep in extra if ep.matches(**selection))]

    monkeypatch.setattr(plugin_manager.md, "entry_points", entry_points)
    modules: list[str] = []

    def add(distribution: str, name: str, source: str) -> None:
        module = f"mebench_test_{distribution.replace('-', '_')}_{name}"
        (site / f"{module}.py").write_text(textwrap.dedent(source), encoding="utf-8")
        info = meta / f"{distribution.replace('-', '_')}-1.2.3.dist-info"
        info.mkdir(exist_ok=True)
        (info / "METADATA").write_text(
            f"Metadata-Version: 2.1\nName: {distribution}\nVersion: 1.2.3\n", encoding="utf-8")
        (info / "entry_points.txt").write_text(f"[mebench]\n{name} = {module}\n", encoding="utf-8")
        extra.extend(md.Distribution.at(info).entry_points)
        modules.append(module)

    yield add
    for module in modules:
        sys.modules.pop(module, None)


GOOD_PLUGIN = """
    from mebench.hookspecs import hookimpl

    @hookimpl
    def mebench_register_models(register):
        register("third-party", lambda: None, description="A third-party model.")
"""


def test_a_plugin_that_fails_to_import_is_reported_and_the_rest_load(
        fake_entry_points: Callable[[str, str, str], None]) -> None:
    fake_entry_points("mebench-broken", "broken", "raise RuntimeError('no GPU driver here')\n")
    fake_entry_points("mebench-good", "good", GOOD_PLUGIN)

    pm = get_plugin_manager()

    assert [(f.plugin, f.distribution, f.error) for f in pm.failures] == [
        ("broken", "mebench-broken", "RuntimeError: no GPU driver here")]
    assert set(pm.specs("model")) == BUILT_IN_MODELS | {"third-party"}
    assert set(pm.specs("flow")) == BUILT_IN_FLOWS
    assert pm.get("model", "third-party").distribution == "mebench-good"
    assert pm.distribution_versions() == {"mebench": mebench.__version__, "mebench-good": "1.2.3"}


def test_a_failed_import_is_listed_on_stderr(
        fake_entry_points: Callable[[str, str, str], None]) -> None:
    fake_entry_points("mebench-broken", "broken", "import not_a_module_anywhere\n")
    pm = get_plugin_manager()

    result = CliRunner().invoke(build_cli(pm), ["list", "models"], obj=pm)

    assert result.exit_code == 0
    assert result.stderr == ("failed plugin 'broken' (mebench-broken): ModuleNotFoundError: "
                             "No module named 'not_a_module_anywhere'\n")
    assert "identity" in result.stdout


def test_an_unknown_hook_is_reported_and_its_plugin_dropped(
        fake_entry_points: Callable[[str, str, str], None]) -> None:
    fake_entry_points("mebench-typo", "typo", """
        from mebench.hookspecs import hookimpl

        @hookimpl
        def mebench_register_modelz(register):
            register("never", lambda: None, description="misspelled hook")

        @hookimpl
        def mebench_register_flow_estimators(register):
            register("typo-flow", lambda: None, description="from the plugin with a typo")
    """)

    pm = get_plugin_manager()

    (failure,) = pm.failures
    assert (failure.plugin, failure.distribution) == ("typo", "mebench-typo")
    assert "unknown hook 'mebench_register_modelz'" in failure.error
    assert not pm.has_plugin("typo")
    assert set(pm.specs("model")) == BUILT_IN_MODELS
    assert set(pm.specs("flow")) == BUILT_IN_FLOWS


def test_autoload_off_loads_only_mebench_and_the_allowed(
        fake_entry_points: Callable[[str, str, str], None]) -> None:
    fake_entry_points("mebench-good", "good", GOOD_PLUGIN)

    def has_it(**options: Any) -> bool:
        return "third-party" in get_plugin_manager(**options).specs("model")

    assert not has_it(autoload=False)
    assert has_it(allow=["mebench-good"], autoload=False)  # a distribution name
    assert has_it(allow=["good"], autoload=False)  # an entry-point name
    assert not has_it(allow=["other"])


def test_the_environment_switches(fake_entry_points: Callable[[str, str, str], None],
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    fake_entry_points("mebench-good", "good", GOOD_PLUGIN)

    monkeypatch.setenv("MEBENCH_DISABLE_PLUGIN_AUTOLOAD", "1")
    assert set(get_plugin_manager().specs("model")) == BUILT_IN_MODELS
    monkeypatch.setenv("MEBENCH_PLUGINS", "mebench-good")
    assert "third-party" in get_plugin_manager().specs("model")


SHADOW_FOLDER = """
    from mebench.hookspecs import hookimpl

    @hookimpl
    def mebench_register_models(register):
        register("folder", lambda: None, description="a third-party 'folder'")
"""


def test_a_third_party_plugin_cannot_take_a_built_in_name(
        fake_entry_points: Callable[[str, str, str], None]) -> None:
    fake_entry_points("mebench-aaa", "aaa", SHADOW_FOLDER)

    pm = get_plugin_manager()

    assert pm.get("model", "folder").distribution == "mebench"
    assert set(pm.specs("model")) == BUILT_IN_MODELS
    assert [f.plugin for f in pm.failures] == ["aaa"]


def test_an_entry_point_named_like_a_built_in_one_does_not_hide_it(
        fake_entry_points: Callable[[str, str, str], None],
        monkeypatch: pytest.MonkeyPatch) -> None:
    fake_entry_points("mebench-clash", "builtin_models", SHADOW_FOLDER)
    real = plugin_manager.md.entry_points  # the fake: real ones, then ours; put ours first
    monkeypatch.setattr(plugin_manager.md, "entry_points",
                        lambda **selection: list(reversed(real(**selection))))

    pm = get_plugin_manager()

    assert set(pm.specs("model")) == BUILT_IN_MODELS
    assert [(f.plugin, f.distribution) for f in pm.failures] == [
        ("builtin_models", "mebench-clash")]


# -- registries -------------------------------------------------------------------------------


def test_a_registration_hook_that_raises_is_reported_and_others_register() -> None:
    pm = MebenchPluginManager()
    pm.add_plugin(_models("half", fail=RuntimeError("lost the config")), name="flaky",
                  distribution="mebench-flaky", version="0.1")
    pm.add_plugin(_models("steady"), name="steady")

    specs = pm.specs("model")

    assert "steady" in specs
    assert [(f.plugin, f.distribution, f.error) for f in pm.failures] == [
        ("flaky", "mebench-flaky", "RuntimeError: lost the config")]


def test_a_name_registered_twice_is_reported_and_the_first_kept() -> None:
    pm = MebenchPluginManager()
    pm.add_plugin(_models("twin"), name="first", distribution="mebench-a", version="1")
    pm.add_plugin(_models("twin"), name="second", distribution="mebench-b", version="2")

    assert pm.get("model", "twin").plugin == "first"
    (failure,) = pm.failures
    assert (failure.plugin, failure.distribution) == ("second", "mebench-b")
    assert "model name 'twin' is already registered by plugin 'first'" in failure.error
    assert "already registered by plugin 'first' (mebench-a)" in failure.error


def test_a_spec_records_its_provider_and_a_stripped_description() -> None:
    pm = MebenchPluginManager()
    pm.add_plugin(_models("solo"), name="inline", distribution="mebench-solo", version="0.3")

    spec = pm.get("model", "solo")

    assert (spec.kind, spec.name, spec.description, spec.plugin) == (
        "model", "solo", "the solo model", "inline")
    assert spec.cache_identity == {"kind": "model", "name": "solo",
                                   "distribution": "mebench-solo", "version": "0.3"}
    assert pm.specs("flow") == {} and pm.specs("judge") == {} and pm.specs("recipe") == {}


def test_an_unknown_name_suggests_the_closest_and_lists_the_known(
        pm: MebenchPluginManager) -> None:
    with pytest.raises(MebenchError) as info:
        pm.get("model", "identiy")

    assert info.value.message == "unknown model 'identiy'"
    assert info.value.hint is not None
    assert info.value.hint.startswith("did you mean 'identity'? known: ")
    assert all(name in info.value.hint for name in REFERENCE_MODELS)


def test_an_unknown_name_without_a_close_one_only_lists(pm: MebenchPluginManager) -> None:
    with pytest.raises(MebenchError) as info:
        pm.get("flow", "qqq")

    assert info.value.hint == "known: " + ", ".join(sorted(BUILT_IN_FLOWS))


def test_the_built_ins_come_from_the_mebench_distribution(pm: MebenchPluginManager) -> None:
    assert pm.failures == []
    for kind, names in (("model", BUILT_IN_MODELS), ("flow", BUILT_IN_FLOWS)):
        for name in names:
            spec = pm.get(kind, name)
            assert (spec.distribution, spec.version) == ("mebench", mebench.__version__), name
    assert pm.distribution_versions() == {"mebench": mebench.__version__}


def test_the_task_folders_of_plugins_are_collected(tmp_path: Path) -> None:
    class Tasks:
        @hookimpl
        def mebench_register_task_dirs(self) -> list[Path]:
            return [tmp_path]

    pm = MebenchPluginManager()
    pm.add_plugin(Tasks(), name="tasks")

    assert pm.task_dirs() == [tmp_path]


# -- PluginSpec.build -------------------------------------------------------------------------


def _spec(factory: Callable[..., Any]) -> PluginSpec:
    return PluginSpec("model", "demo", "a demo", factory, "inline", None, None)


def test_build_rejects_an_unknown_argument_naming_the_accepted_ones() -> None:
    def factory(*, scale: float = 1.0, steps: int = 4, device: str | None = None) -> object:
        return object()

    with pytest.raises(MebenchError) as info:
        _spec(factory).build({"scael": 2.0}, device="cpu")

    assert info.value.message == "model 'demo' does not accept argument(s) scael"
    assert info.value.where == "--model-args"
    assert info.value.hint == "accepted: scale, steps"  # device is the runner's, not the user's


def test_build_says_none_when_a_factory_takes_no_user_arguments() -> None:
    with pytest.raises(MebenchError) as info:
        _spec(lambda: object()).build({"x": 1})

    assert info.value.hint == "accepted: none"


def test_build_passes_only_the_runner_settings_a_factory_declares() -> None:
    seen: dict[str, Any] = {}

    def wants_device(*, scale: float = 1.0, device: str | None = None) -> object:
        seen.update(scale=scale, device=device)
        return object()

    def wants_nothing(*, scale: float = 1.0) -> object:
        seen.update(scale=scale)
        return object()

    _spec(wants_device).build({"scale": 2.0}, device="cuda:1", batch_size=4)
    assert seen == {"scale": 2.0, "device": "cuda:1"}
    seen.clear()
    _spec(wants_nothing).build({"scale": 3.0}, device="cuda:1", batch_size=4)
    assert seen == {"scale": 3.0}


def test_build_passes_everything_to_a_factory_taking_kwargs() -> None:
    seen: dict[str, Any] = {}

    def anything(**kwargs: Any) -> object:
        seen.update(kwargs)
        return object()

    _spec(anything).build({"scale": 2.0}, device="cpu")
    assert seen == {"scale": 2.0, "device": "cpu"}


def test_build_turns_a_factorys_value_error_into_a_mebench_error() -> None:
    def strict(*, scale: float = 1.0) -> object:
        raise ValueError("scale must be positive")

    with pytest.raises(MebenchError) as info:
        _spec(strict).build({"scale": -1.0})

    assert str(info.value) == "--model-args: could not build model 'demo': scale must be positive"


@pytest.mark.parametrize(("kind", "name"), [("model", "ground-truth"), ("model", "identity"),
                                            ("model", "synthetic-motion"), ("flow", "opencv-dis"),
                                            ("flow", "opencv-farneback")])
def test_built_ins_build_with_the_runners_settings(pm: MebenchPluginManager, kind: Any,
                                                   name: str) -> None:
    built = pm.get(kind, name).build({}, device=None, batch_size=1, resolution=256)
    assert hasattr(built, "edit" if kind == "model" else "estimate")


# -- mebench list -----------------------------------------------------------------------------


def test_list_models_prints_a_table_of_name_description_and_provider() -> None:
    pm = MebenchPluginManager()
    pm.add_plugin(_models("alpha", "beta-long"), name="inline", distribution="mebench-x",
                  version="2.0")

    result = CliRunner().invoke(build_cli(pm), ["list", "models"], obj=pm)

    assert result.exit_code == 0, result.output
    assert result.output == textwrap.dedent("""\
        models:
        name       description          provided by
        ---------  -------------------  -------------
        alpha      the alpha model      mebench-x 2.0
        beta-long  the beta-long model  mebench-x 2.0

    """)


def test_list_names_an_in_process_plugin_without_a_distribution_by_its_plugin_name() -> None:
    pm = MebenchPluginManager()
    pm.add_plugin(_models("solo"), name="notebook")

    result = CliRunner().invoke(build_cli(pm), ["list", "models"], obj=pm)

    assert result.output.splitlines()[3].split() == ["solo", "the", "solo", "model", "notebook"]


def test_list_shows_every_section_with_the_built_ins(pm: MebenchPluginManager) -> None:
    result = CliRunner().invoke(build_cli(pm), ["list"], obj=pm)

    assert result.exit_code == 0, result.output
    sections = [line for line in result.output.splitlines() if line.endswith(":")]
    assert sections == ["models:", "flows:", "judges:", "recipes:", "tasks:"]
    rows = {line.split()[0]: line for line in result.output.splitlines() if line.strip()}
    assert rows["identity"].rstrip().endswith(f"mebench {mebench.__version__}")
    assert "motionedit-synthetic" in rows
    assert "judges:\n" in result.output


def test_list_json_parses_and_has_every_section(pm: MebenchPluginManager) -> None:
    result = CliRunner().invoke(build_cli(pm), ["list", "--json"], obj=pm)

    assert result.exit_code == 0, result.output
    listing = json.loads(result.output)
    assert set(listing) == {"models", "flows", "judges", "recipes", "tasks", "failed_plugins"}
    assert {r["name"] for r in listing["models"]} == BUILT_IN_MODELS
    assert {r["name"] for r in listing["flows"]} == BUILT_IN_FLOWS
    identity = next(r for r in listing["models"] if r["name"] == "identity")
    assert identity == {"kind": "model", "name": "identity", "plugin": "builtin_models",
                        "description": pm.get("model", "identity").description,
                        "distribution": "mebench", "version": mebench.__version__}
    assert {"motionedit", "motionedit-synthetic"} <= {r["name"] for r in listing["tasks"]}
    assert listing["failed_plugins"] == []


def test_list_json_of_one_kind_has_that_section_only(pm: MebenchPluginManager) -> None:
    result = CliRunner().invoke(build_cli(pm), ["list", "flows", "--json"], obj=pm)

    assert set(json.loads(result.output)) == {"flows", "failed_plugins"}


# -- lazy imports -----------------------------------------------------------------------------

HEAVY = ("torch", "PIL", "cv2", "numpy", "datasets")
PROBE = """
import sys
from mebench.cli.main import main
try:
    main({argv!r})
except SystemExit:
    pass
sys.stderr.write("heavy=" + ",".join(m for m in {heavy!r} if m in sys.modules) + "\\n")
"""


@pytest.mark.parametrize("argv", [["list"], ["list", "--json"], ["--help"], ["run", "--help"]],
                         ids=" ".join)
def test_the_cli_lists_and_helps_without_heavy_imports(argv: list[str], tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-c", PROBE.format(argv=argv, heavy=HEAVY)],
                          cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False)

    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.splitlines()[-1] == "heavy=", proc.stderr


def test_list_plugins_shows_each_loaded_plugin_and_its_distribution(pm) -> None:  # type: ignore[no-untyped-def]
    from click.testing import CliRunner

    from mebench.cli.main import build_cli

    result = CliRunner().invoke(build_cli(pm), ["list", "plugins", "--json"], obj=pm)
    assert result.exit_code == 0
    rows = json.loads(result.output)["plugins"]
    assert {(r["name"], r["distribution"]) for r in rows} >= {
        ("builtin_models", "mebench"), ("builtin_flows", "mebench")}


def test_a_factory_can_declare_its_arguments() -> None:
    def factory(**given: object) -> dict[str, object]:
        return given

    factory.arguments = ("strength", "device")  # type: ignore[attr-defined]
    spec = PluginSpec("model", "declared", "", factory, "p", None, None)
    assert spec.build({"strength": 2}, device="cpu", batch_size=4) == {"strength": 2,
                                                                      "device": "cpu"}
    with pytest.raises(MebenchError) as info:
        spec.build({"strenght": 2}, device="cpu")
    assert info.value.hint == "accepted: strength"
