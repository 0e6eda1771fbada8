"""Uploaded files: checked (type, size, count), renamed safely, copied into the app's folder.

The client's file name is never trusted: only a sanitized base name is kept, and the file is
written inside ``<data_dir>/uploads/`` whatever the name said. The same (sanitized) name
uploaded again replaces the earlier version, like re-adding a file from the same path.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from qa.ingest.loaders import SUPPORTED

ALLOWED_SUFFIXES = SUPPORTED  # the types adding reads, so an accepted upload can be added
MAX_FILES = 50
"""Files per upload; more are refused with a message (add a folder from the CLI instead)."""
_NAME_CHARS = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class Rejected:
    """An upload refused before indexing, with the reason shown to the user."""

    name: str
    reason: str


def safe_name(client_name: str) -> str:
    """A file name that is safe to create in our folder: ASCII letters, digits, ``._-``,
    no path parts, no leading dot, at most 100 characters, the suffix lower-cased."""
    base = re.split(r"[\\/]", client_name or "")[-1]
    base = unicodedata.normalize("NFKD", base).encode("ascii", "ignore").decode("ascii")
    stem, dot, suffix = base.rpartition(".")
    if not dot:
        stem, suffix = suffix, ""
    stem = _NAME_CHARS.sub("-", stem).strip("-._")[:90] or "upload"
    suffix = _NAME_CHARS.sub("", suffix).lower()[:10]
    return f"{stem}.{suffix}" if suffix else stem


def check(path: Path, client_name: str, max_bytes: int) -> Rejected | None:
    """Why this upload cannot be added, or None when it may be."""
    name = safe_name(client_name)
    suffix = Path(name).suffix
    if suffix not in ALLOWED_SUFFIXES:
        kinds = ", ".join(s.lstrip(".") for s in ALLOWED_SUFFIXES)
        shown = suffix.lstrip(".") or "no extension"
        return Rejected(name, f"file type '{shown}' is not supported (use {kinds})")
    try:
        size = path.stat().st_size
    except OSError as exc:
        return Rejected(name, f"could not read the upload ({exc.strerror})")
    if size > max_bytes:
        return Rejected(
            name, f"{size / 1e6:.1f} MB is over the {max_bytes / 1e6:g} MB limit per file"
        )
    if size == 0:
        return Rejected(name, "the file is empty")
    return None


def store(path: Path, client_name: str, folder: Path) -> Path:
    """Copy an accepted upload into ``folder`` under its safe name (atomically)."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / safe_name(client_name)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".incoming-")
    try:
        with os.fdopen(fd, "wb") as out, open(path, "rb") as src:
            shutil.copyfileobj(src, out)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target
