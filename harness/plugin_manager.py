"""The plugin manager: entry-point discovery, lazy registries and failure isolation.

Built-in plugins are ordinary entry points of the ``mebench`` group, declared in mebench's own
``pyproject.toml``, so they take the same path as a third-party package's. There is no module-global
manager: :func:`get_plugin_manager` builds a fresh one each call (the CLI builds one per
invocation, tests one per test).
"""

from __future__ import annotations

import importlib.metadata as md
import inspect
import os
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pluggy

from mebench import hookspecs
from mebench.errors import MebenchError, did_you_mean
from mebench.weights import WeightFile

ENTRY_POINT_GROUP = "mebench"
OWN_DISTRIBUTION = "mebench"
DISABLE_AUTOLOAD_ENV = "MEBENCH_DISABLE_PLUGIN_AUTOLOAD"
ALLOW_ENV = "MEBENCH_PLUGINS"

Kind = Literal["model", "flow", "judge", "recipe"]
KINDS: tuple[Kind, ...] = ("model", "flow", "judge", "recipe")
_HOOK_OF_KIND: dict[Kind, str] = {
    "model": "mebench_register_models",
    "flow": "mebench_register_flow_estimators",
    "judge": "mebench_register_judges",
    "recipe": "mebench_register_recipes",
}
_ARGS_OPTION: dict[Kind, str] = {
    "model": "--model-args",
    "flow": "--flow-args",
    "judge": "--judge-args",
    "recipe": "--set",
}


@dataclass(frozen=True)
class PluginSpec:
    """One registered name: what it is, who provides it, and how to build it."""

    kind: Kind
    name: str
    description: str
    factory: Callable[..., Any] = field(repr=False, compare=False)
    plugin: str
    distribution: str | None
    version: str | None

    def accepted_args(self) -> list[str] | None:
        """Keyword names the factory accepts: its ``arguments`` attribute where it declares one
        (a factory taking ``**kwargs`` for a known set of names), else its signature's keyword
        parameters; ``None`` for a bare ``**kwargs`` factory (anything goes)."""
        declared = getattr(self.factory, "arguments", None)
        if declared is not None:
            return list(declared)
        params = inspect.signature(self.factory).parameters.values()
        if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
            return None
        return [
            p.name
            for p in params
            if p.kind in (inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
        ]

    def build(self, args: dict[str, Any], **runner_settings: Any) -> Any:
        """Call the factory with the user's ``args`` and those runner settings it declares.

        An argument the factory does not take is a MebenchError listing the ones it does.
        """
        accepted = self.accepted_args()
        if accepted is not None:
            unknown = sorted(set(args) - set(accepted))
            if unknown:
                user_args = [a for a in accepted if a not in runner_settings]
                raise MebenchError(
                    f"{self.kind} {self.name!r} does not accept argument(s) {', '.join(unknown)}",
                    where=_ARGS_OPTION[self.kind],
                    hint=f"accepted: {', '.join(user_args) or 'none'}",
                )
            runner_settings = {k: v for k, v in runner_settings.items() if k in accepted}
        try:
            return self.factory(**runner_settings, **args)
        except (TypeError, ValueError) as exc:
            raise MebenchError(
                f"could not build {self.kind} {self.name!r}: {exc}", where=_ARGS_OPTION[self.kind]
            ) from exc

    @property
    def cache_identity(self) -> dict[str, str | None]:
        return {"kind": self.kind, "name": self.name, "distribution": self.distribution,
                "version": self.version}


@dataclass(frozen=True)
class PluginFailure:
    """A plugin that could not be loaded or whose registration hook raised."""

    plugin: str
    distribution: str | None
    error: str


class MebenchPluginManager(pluggy.PluginManager):
    """pluggy's manager plus mebench's registries, built once from the entry points."""

    def __init__(self) -> None:
        super().__init__(ENTRY_POINT_GROUP)
        self.add_hookspecs(hookspecs)
        self.load_failures: list[PluginFailure] = []
        self._registration_failures: list[PluginFailure] = []
        self._dist_of: dict[str, tuple[str | None, str | None]] = {}
        self._specs: dict[Kind, dict[str, PluginSpec]] | None = None

    @property
    def failures(self) -> list[PluginFailure]:
        """Plugins that failed to load, and registrations that failed (each reported once)."""
        if self._specs is None:
            self._specs = self._collect()
        return [*self.load_failures, *self._registration_failures]

    # -- loading ------------------------------------------------------------------------------

    def load_entry_points(self, allow: Iterable[str] | None = None, autoload: bool = True) -> None:
        """Load every entry point of the group once; a broken one is recorded, not raised.

        mebench's own entry points load first, so no third-party plugin can take a built-in
        name. ``allow`` (entry-point or distribution names) restricts third-party plugins to
        those named; with ``autoload`` false only mebench's own and the allowed ones load.
        """
        allowed = {canonical_name(a) for a in allow} if allow is not None else None
        seen: set[tuple[str, str | None]] = set()

        def order(ep: md.EntryPoint) -> tuple[bool, str]:
            return (ep.dist is None or ep.dist.name != OWN_DISTRIBUTION, ep.name)

        for ep in sorted(md.entry_points(group=ENTRY_POINT_GROUP), key=order):
            dist = ep.dist.name if ep.dist is not None else None
            version = ep.dist.version if ep.dist is not None else None
            if (ep.name, dist) in seen:  # the same distribution found twice on sys.path
                continue
            seen.add((ep.name, dist))
            if dist != OWN_DISTRIBUTION:
                named = allowed is not None and (
                    canonical_name(ep.name) in allowed or canonical_name(dist or "") in allowed)
                if (allowed is not None or not autoload) and not named:
                    continue
            if self.has_plugin(ep.name):
                other = self._dist_of.get(ep.name, (None, None))[0]
                self.load_failures.append(PluginFailure(
                    ep.name, dist, f"entry point name {ep.name!r} is already used by {other}; "
                    "rename the entry point"))
                continue
            try:
                plugin = ep.load()
                self.register(plugin, name=ep.name)
            except Exception as exc:  # noqa: BLE001 - one broken plugin must not take the rest down
                self.load_failures.append(
                    PluginFailure(ep.name, dist, f"{type(exc).__name__}: {exc}"))
                continue
            self._dist_of[ep.name] = (dist, version)

    def add_plugin(self, plugin: object, name: str, distribution: str | None = None,
                   version: str | None = None) -> None:
        """Register an in-process plugin object (tests, notebooks)."""
        self.register(plugin, name=name)
        self._dist_of[name] = (distribution, version)
        self._specs = None

    def drop(self, plugin: object, error: str) -> None:
        """Unregister a plugin that cannot be used, and report why."""
        name = self.get_name(plugin) or repr(plugin)
        dist = self._dist_of.pop(name, (None, None))[0]
        self.load_failures.append(PluginFailure(name, dist, error))
        self.unregister(plugin)
        self._specs = None

    # -- registries ---------------------------------------------------------------------------

    def specs(self, kind: Kind) -> dict[str, PluginSpec]:
        if self._specs is None:
            self._specs = self._collect()
        return self._specs[kind]

    def _collect(self) -> dict[Kind, dict[str, PluginSpec]]:
        """Run every registration hook; a duplicate name or a raising hook is reported, and
        the first registration of a name (a built-in's, since those load first) is kept."""
        specs: dict[Kind, dict[str, PluginSpec]] = {k: {} for k in KINDS}
        failures: list[PluginFailure] = []
        for kind, hook_name in _HOOK_OF_KIND.items():
            caller = getattr(self.hook, hook_name)
            for impl in caller.get_hookimpls():
                dist, version = self._dist_of.get(impl.plugin_name, (None, None))

                def register(name: str, factory: Callable[..., Any], *, description: str,
                             _kind: Kind = kind, _plugin: str = impl.plugin_name,
                             _dist: str | None = dist, _version: str | None = version) -> None:
                    if name in specs[_kind]:
                        other = specs[_kind][name]
                        failures.append(PluginFailure(
                            _plugin, _dist, f"{_kind} name {name!r} is already registered by "
                            f"plugin {other.plugin!r} ({other.distribution}); rename one"))
                        return
                    specs[_kind][name] = PluginSpec(_kind, name, description.strip(), factory,
                                                    _plugin, _dist, _version)

                try:
                    impl.function(register=register)
                except Exception as exc:  # noqa: BLE001
                    failures.append(
                        PluginFailure(impl.plugin_name, dist, f"{type(exc).__name__}: {exc}"))
        self._registration_failures = failures
        return specs

    def get(self, kind: Kind, name: str) -> PluginSpec:
        """The spec registered as ``name``; unknown names list the known ones."""
        known = self.specs(kind)
        if name not in known:
            raise MebenchError(f"unknown {kind} {name!r}", hint=did_you_mean(name, list(known)))
        return known[name]

    def weight_files(self) -> dict[str, WeightFile]:
        """Downloadable weights by name (``mebench_register_weights``); a duplicate name or a
        raising hook is reported under ``failures`` (once) and the first registration kept."""
        found: dict[str, WeightFile] = {}
        for impl in self.hook.mebench_register_weights.get_hookimpls():
            dist = self._dist_of.get(impl.plugin_name, (None, None))[0]
            problems: list[str] = []

            def register(weight: WeightFile, _problems: list[str] = problems) -> None:
                if weight.name in found:
                    _problems.append(f"weights name {weight.name!r} is already registered; "
                                     "rename one")
                else:
                    found[weight.name] = weight

            try:
                impl.function(register=register)
            except Exception as exc:  # noqa: BLE001
                problems.append(f"{type(exc).__name__}: {exc}")
            for problem in problems:
                failure = PluginFailure(impl.plugin_name, dist, problem)
                if failure not in self.load_failures:
                    self.load_failures.append(failure)
        return found

    def task_dirs(self) -> list[Path]:
        """Task folders that plugins ship; a folder that does not exist is reported, skipped."""
        dirs: list[Path] = []
        for impl in self.hook.mebench_register_task_dirs.get_hookimpls():
            dist = self._dist_of.get(impl.plugin_name, (None, None))[0]
            try:
                found = [Path(d) for d in impl.function() or []]
            except Exception as exc:  # noqa: BLE001
                self.load_failures.append(PluginFailure(impl.plugin_name, dist,
                                                        f"{type(exc).__name__}: {exc}"))
                continue
            for d in found:
                if d.is_dir():
                    dirs.append(d)
                else:
                    self.load_failures.append(PluginFailure(
                        impl.plugin_name, dist, f"task folder {str(d)!r} does not exist"))
        return dirs

    def loaded_plugins(self) -> dict[str, tuple[str | None, str | None]]:
        """Each loaded plugin's name -> (distribution, version)."""
        return dict(self._dist_of)

    def distribution_versions(self) -> dict[str, str | None]:
        """Versions of every distribution that provided a loaded plugin (for run.json)."""
        return {d: v for d, v in self._dist_of.values() if d is not None}


def get_plugin_manager(allow: Sequence[str] | None = None,
                       autoload: bool | None = None) -> MebenchPluginManager:
    """A fresh manager with the entry points loaded.

    ``allow`` defaults to ``$MEBENCH_PLUGINS`` (comma-separated) and ``autoload`` to the absence
    of ``$MEBENCH_DISABLE_PLUGIN_AUTOLOAD``.
    """
    if allow is None and os.environ.get(ALLOW_ENV):
        allow = [a.strip() for a in os.environ[ALLOW_ENV].split(",") if a.strip()]
    if autoload is None:
        autoload = os.environ.get(DISABLE_AUTOLOAD_ENV, "") in ("", "0", "false")
    pm = MebenchPluginManager()
    pm.load_entry_points(allow=allow, autoload=autoload)
    _drop_invalid(pm)
    return pm


def _drop_invalid(pm: MebenchPluginManager) -> None:
    """Unregister (and report) plugins that implement hooks mebench does not define."""
    while True:
        try:
            pm.check_pending()
            return
        except pluggy.PluginValidationError as exc:
            pm.drop(exc.plugin, str(exc))


def canonical_name(name: str) -> str:
    """Distribution names compare as PEP 503 normalises them (``a_b`` == ``A-B``)."""
    return re.sub(r"[-_.]+", "-", name).lower()
