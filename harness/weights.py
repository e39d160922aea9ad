"""Downloadable weight files: what plugins register, where they live, how they are fetched.

A plugin registers :class:`WeightFile` records through the ``mebench_register_weights`` hook; the
``mebench download`` command fetches them into :func:`weights_dir` (``$MEBENCH_HOME/weights``), and
a plugin's factory finds them with :func:`resolve`. Nothing here is downloaded implicitly: a run
without the file fails with a message that says which file to put where.

This module is imported when the CLI starts: keep it free of torch and other heavy imports.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from mebench.errors import MebenchError

_CHUNK = 1 << 20


@dataclass(frozen=True)
class WeightFile:
    """One downloadable file.

    ``name`` is what ``mebench download NAME`` takes; ``filename`` is the file's name on disk
    (in :func:`weights_dir`); ``sha256`` the full hex digest when known (checked after every
    download), ``None`` when the publisher gives none.
    """

    name: str
    url: str
    filename: str
    sha256: str | None
    description: str

    def __post_init__(self) -> None:
        if not self.name or "/" in self.filename or self.filename in ("", ".", ".."):
            raise ValueError(f"bad weight record: name={self.name!r} filename={self.filename!r}")
        if self.sha256 is not None and (len(self.sha256) != 64 or
                                        any(ch not in "0123456789abcdef" for ch in self.sha256)):
            raise ValueError(f"weight {self.name!r}: sha256 must be 64 lower-case hex digits")


def weights_dir() -> Path:
    """``$MEBENCH_HOME/weights`` (see :func:`mebench.flowcache.mebench_home`)."""
    from mebench.flowcache import mebench_home

    return mebench_home() / "weights"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(_CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def resolve(weight: WeightFile, checkpoint: str | os.PathLike[str] | None = None, *,
            option: str = "--flow-args checkpoint=PATH", owner: str | None = None) -> Path:
    """The file to load: ``checkpoint`` when given (it must exist), else the cached download.

    Raises a MebenchError that names the missing file, where it is expected and how to get it.
    ``owner`` (e.g. ``"flow 'unimatch'"``) names who needs it in the message.
    """
    who = owner or f"weights {weight.name!r}"
    if checkpoint is not None and str(checkpoint) != "":
        path = Path(checkpoint).expanduser()
        if not path.is_file():
            raise MebenchError(f"checkpoint file {str(path)!r} does not exist", where=who,
                               hint=f"fix the path given with {option}")
        return path
    cached = weights_dir() / weight.filename
    if cached.is_file():
        return cached
    raise MebenchError(
        f"weights {weight.name!r} ({weight.description}) not found", where=who,
        hint=f"run `mebench download {weight.name}` where the internet is reachable, or put "
             f"{weight.filename} at {cached}, or pass {option}")


def download(weight: WeightFile, dest: Path | None = None, *, progress: bool = True) -> Path:
    """Fetch ``weight.url`` to ``dest/weight.filename`` (``dest`` defaults to
    :func:`weights_dir`) and return that path.

    The bytes go to a temporary file in ``dest`` that is renamed into place only when the
    download is complete (as long as the server's Content-Length) and, when ``weight.sha256`` is
    known, matches it; a failed or interrupted download leaves no file at the final path.
    """
    import http.client
    import urllib.error
    import urllib.request

    from tqdm import tqdm

    folder = Path(dest) if dest is not None else weights_dir()
    folder.mkdir(parents=True, exist_ok=True)
    final = folder / weight.filename
    fd, tmp_name = tempfile.mkstemp(dir=folder, prefix=f".{weight.filename}.", suffix=".part")
    tmp = Path(tmp_name)
    try:
        digest = hashlib.sha256()
        received = 0
        try:
            with os.fdopen(fd, "wb") as out, \
                    urllib.request.urlopen(weight.url, timeout=60) as resp:
                length = resp.headers.get("Content-Length")
                total = int(length) if length and length.isdigit() else None
                with tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024,
                          desc=weight.filename, disable=not progress) as bar:
                    while True:
                        block = resp.read(_CHUNK)
                        if not block:
                            break
                        out.write(block)
                        digest.update(block)
                        received += len(block)
                        bar.update(len(block))
        except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as exc:
            raise MebenchError(
                f"download of {weight.url} failed: {exc}", where=f"weights {weight.name!r}",
                hint=f"where the internet is not reachable, fetch the file elsewhere and put it "
                     f"at {final}") from exc
        if total is not None and received != total:
            raise MebenchError(
                f"download of {weight.url} was interrupted: got {received} of {total} bytes",
                where=f"weights {weight.name!r}", hint="run the command again")
        got = digest.hexdigest()
        if weight.sha256 is not None and got != weight.sha256:
            raise MebenchError(
                f"sha256 of the downloaded {weight.filename} is {got}, expected {weight.sha256}",
                where=f"weights {weight.name!r}",
                hint="the file is corrupt or was replaced upstream; nothing was saved")
        os.chmod(tmp, 0o644)  # mkstemp's 0600 would surprise users sharing a cache
        os.replace(tmp, final)
    finally:
        tmp.unlink(missing_ok=True)
    return final
