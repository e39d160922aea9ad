"""The one domain error type of mebench.

Every user-facing failure is a :class:`MebenchError` that carries where it happened (a file and
line, a field, a sample id or a plugin) and, where one is known, what would fix it. The CLI turns
it into a one-line message and exit code 2.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class MebenchError(Exception):
    """A user-facing error with its context.

    ``message`` says what is wrong; ``where`` names the place (``tasks/x.yaml:12: dataset.path``,
    ``sample 'abc'``, ``plugin 'foo'``); ``hint`` says what would fix it.
    """

    message: str
    where: str | None = None
    hint: str | None = None
    details: dict[str, object] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__init__(self.message)

    def __str__(self) -> str:
        text = f"{self.where}: {self.message}" if self.where else self.message
        if self.hint:
            text += f" ({self.hint})"
        return text


def did_you_mean(name: str, known: list[str]) -> str:
    """A hint listing the known names, led by the closest match when there is one."""
    import difflib

    close = difflib.get_close_matches(name, known, n=1)
    listing = ", ".join(sorted(known)) or "none"
    if close:
        return f"did you mean {close[0]!r}? known: {listing}"
    return f"known: {listing}"
