"""Versioned judge prompts (``prompts/*.txt``): loading, checking, hashing and rendering.

A prompt is named by its id (the file name without ``.txt``) or given as a path to a ``.txt``
file of one's own. Its ``hash`` is the sha256 of its text. Rendering turns it into the parts of
one user message: text and images in the order the prompt places them (see prompts/README.md).

A *prompt set* has one prompt per sample category, ``<category lower-cased>.txt`` in a folder:
a registered set name (:data:`PROMPT_SETS`, e.g. ``imgedit``: ImgEdit-Bench's per-category
rubrics) or a folder path. Its id is the set's name and its hash covers every file.
"""

from __future__ import annotations

import hashlib
import re
import string
from dataclasses import dataclass
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Any

from mebench.errors import MebenchError, did_you_mean
from mebench.judging.types import MODES, JudgeImage, JudgeRequest

#: (mode, reference) -> the default prompt id
DEFAULT_PROMPTS: dict[tuple[str, bool], str] = {
    ("rubric", False): "motion-rubric-v1",
    ("rubric", True): "motion-rubric-ref-v1",
    ("expected-score", False): "mllm-reward-v1",
}
#: set name -> (package, folder) holding ``<category lower-cased>.txt`` files
PROMPT_SETS: dict[str, tuple[str, str]] = {
    "imgedit": ("mebench.analysis", "imgedit_prompts"),
}
_MARKER = re.compile(r"^[ \t]*<image:(source|edited|target)>[ \t]*$", re.MULTILINE)

Part = str | JudgeImage


@dataclass(frozen=True)
class Prompt:
    id: str
    text: str

    @cached_property
    def hash(self) -> str:
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()

    @property
    def uses_target(self) -> bool:
        return "target" in _MARKER.findall(self.text)

    @cached_property
    def _pieces(self) -> list[string.Template | str]:
        """The text split at the image markers, once: text as a template, an image as its name
        (``source``, ``edited``, ``target``); one template when there are no markers."""
        pieces = _MARKER.split(self.text)
        return [piece if i % 2 == 1 else string.Template(piece) for i, piece in enumerate(pieces)]

    def render(self, request: JudgeRequest) -> list[Part]:
        """The message parts for ``request``: text with ``$instruction`` filled in, and images
        (an instruction cannot add image markers: it is filled in after the split)."""
        images = {"source": request.source, "edited": request.edited, "target": request.target}
        pieces = self._pieces
        if len(pieces) == 1:  # no markers: the images first, then the text
            assert isinstance(pieces[0], string.Template)
            text = pieces[0].safe_substitute(instruction=request.instruction)
            shown = ["source", "edited"] + (["target"] if request.target is not None else [])
            return [*(images[k] for k in shown), text.strip()]  # type: ignore[misc]
        parts: list[Part] = []
        for piece in pieces:
            if isinstance(piece, str):  # an image marker
                image = images[piece]
                if image is None:
                    raise MebenchError(f"prompt {self.id!r} shows the target image, but the "
                                       "request has none", where=f"sample {request.sample_id!r}",
                                       hint="set the judge's reference: true on a task with "
                                       "targets, or use a prompt without <image:target>")
                parts.append(image)
            else:
                text = piece.safe_substitute(instruction=request.instruction).strip()
                if text:
                    parts.append(text)
        return parts


@dataclass(frozen=True)
class PromptSet:
    """One prompt per category (a request's ``category`` picks it)."""

    id: str
    prompts: dict[str, Prompt]  # lower-cased category -> prompt

    @property
    def text(self) -> str:
        return "".join(f"{k}\0{p.text}\0" for k, p in sorted(self.prompts.items()))

    @cached_property
    def hash(self) -> str:
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()

    @property
    def uses_target(self) -> bool:
        return any(p.uses_target for p in self.prompts.values())

    def render(self, request: JudgeRequest) -> list[Part]:
        key = (request.category or "").lower()
        if key not in self.prompts:
            raise MebenchError(f"prompt set {self.id!r} has no prompt for category "
                               f"{request.category!r}", where=f"sample {request.sample_id!r}",
                               hint=f"it has: {', '.join(sorted(self.prompts))}")
        return self.prompts[key].render(request)


def _load_set(name: str, folder: Any) -> PromptSet:
    prompts = {f.name[:-4].lower(): Prompt(f"{name}/{f.name[:-4]}", f.read_text(encoding="utf-8"))
               for f in folder.iterdir() if f.name.endswith(".txt")}
    if not prompts:
        raise MebenchError(f"prompt set {name!r} holds no .txt files", where="judge.prompt")
    return PromptSet(name, prompts)


def builtin_prompt_ids() -> list[str]:
    folder = resources.files("mebench.judging").joinpath("prompts")
    return sorted(p.name[:-4] for p in folder.iterdir() if p.name.endswith(".txt"))


def load_prompt(prompt: str | None, *, mode: str,
                reference: bool) -> Prompt | PromptSet:
    """The prompt a judge uses: ``prompt`` (an id or a ``.txt`` path) or the mode's default.

    Checks that it fits: it fills in the instruction, and a prompt that places its images shows
    the target exactly when the task gives the judge the target (``reference``).
    """
    if mode not in MODES:
        raise MebenchError(f"unknown judge mode {mode!r}", where="judge.mode",
                           hint=did_you_mean(mode, list(MODES)))
    if prompt is None:
        if (mode, reference) not in DEFAULT_PROMPTS:
            raise MebenchError(f"no built-in {mode} prompt shows the reference target",
                               where="judge.prompt", hint="give prompt=FILE.txt of your own")
        prompt = DEFAULT_PROMPTS[(mode, reference)]
    if prompt in PROMPT_SETS or Path(prompt).expanduser().is_dir():
        if prompt in PROMPT_SETS:
            package, folder = PROMPT_SETS[prompt]
            loaded_set = _load_set(prompt, resources.files(package).joinpath(folder))
        else:
            path = Path(prompt).expanduser()
            loaded_set = _load_set(path.name, path)
        if mode != "rubric":
            raise MebenchError(f"prompt set {prompt!r} is for the rubric mode, not {mode}",
                               where="judge.prompt")
        for member in loaded_set.prompts.values():
            _check(member, reference)
        return loaded_set
    if prompt.endswith(".txt"):
        path = Path(prompt).expanduser()
        if not path.is_file():
            raise MebenchError(f"prompt file {prompt!r} not found", where="judge.prompt")
        loaded = Prompt(path.stem, path.read_text(encoding="utf-8"))
    else:
        known = builtin_prompt_ids()
        if prompt not in known:
            raise MebenchError(f"unknown judge prompt {prompt!r}", where="judge.prompt",
                               hint=did_you_mean(prompt, known + sorted(PROMPT_SETS))
                               + " (or a path to a .txt file or a folder of them)")
        text = resources.files("mebench.judging").joinpath("prompts", f"{prompt}.txt")
        loaded = Prompt(prompt, text.read_text(encoding="utf-8"))
    _check(loaded, reference)
    return loaded


def _check(loaded: Prompt, reference: bool) -> None:
    if "$instruction" not in loaded.text:
        raise MebenchError(f"prompt {loaded.id!r} never places the instruction",
                           where="judge.prompt", hint="write $instruction where it goes")
    if _MARKER.search(loaded.text) and loaded.uses_target != reference:
        shows = "shows" if loaded.uses_target else "does not show"
        raise MebenchError(f"prompt {loaded.id!r} {shows} the target image, but the judge's "
                           f"reference is {str(reference).lower()}", where="judge.prompt",
                           hint="use a prompt that matches judge.reference")
