"""The built-in recipes, registered as plugins (entry point ``builtin_recipes``).

Each ``recipes/*.yaml`` file (not the ``_`` bases) is a recipe named by its file stem, which must
equal its ``recipe:`` field. Registration reads only each file's ``description`` (``yaml`` and
the standard library); the recipe is validated when it is built. A third-party package can
register its own YAML files the same way with :func:`file_recipe`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mebench.hookspecs import Register, hookimpl

if TYPE_CHECKING:
    from mebench.plugin_manager import MebenchPluginManager
    from mebench.trainers.recipe import RecipeConfig


class FileRecipe:
    """A recipe backed by a YAML file: ``load`` validates it, ``train`` runs it."""

    def __init__(self, *, name: str, path: Path) -> None:
        self.name, self.path = name, path

    def load(self, overrides: Sequence[str] = ()) -> RecipeConfig:
        from mebench.errors import MebenchError
        from mebench.trainers.recipe import load_recipe_file

        config = load_recipe_file(self.path, overrides=overrides)
        if config.recipe != self.name:
            raise MebenchError(f"recipe {config.recipe!r} is registered as {self.name!r}",
                               where=f"{self.path}: recipe",
                               hint="a recipe file's 'recipe:' must equal its file name")
        return config

    def train(self, config: RecipeConfig, *, output: Path, pm: MebenchPluginManager,
              resume: bool = False, progress: bool = True) -> Path:
        """Train; returns the final checkpoint folder."""
        from mebench.trainers.build import run_recipe

        return run_recipe(config, output=output, pm=pm, resume=resume, progress=progress)


def file_recipe(path: Path) -> tuple[str, Any, str]:
    """``(name, factory, description)`` for ``register`` from one recipe YAML file."""
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        description = str(data.get("description", "")) if isinstance(data, dict) else ""
    except (OSError, yaml.YAMLError) as exc:
        description = f"(unreadable: {type(exc).__name__})"
    name = path.stem

    def factory() -> FileRecipe:
        return FileRecipe(name=name, path=path)

    return name, factory, description or f"recipe file {path.name}"


@hookimpl
def mebench_register_recipes(register: Register) -> None:
    folder = Path(__file__).resolve().parent / "recipes"
    for path in sorted(folder.glob("*.yaml")):
        if not path.name.startswith("_"):
            name, factory, description = file_recipe(path)
            register(name, factory, description=description)
