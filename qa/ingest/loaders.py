"""Turn what users give us (files, folders, pasted text) into cleaned ``Article`` values.

Every failure is an ``InputError`` with a one-line reason, raised before anything touches the
store, so a bad file can never leave the index half-changed.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterator
from pathlib import Path

from qa.errors import InputError
from qa.ingest.clean import clean, normalize
from qa.text.dates import iso_date
from qa.types import Article

SUPPORTED = (".txt", ".md", ".markdown", ".html", ".htm", ".pdf", ".jsonl")
"""The file types newsqa reads (``qa add``, ``kb.add``, the web app's uploads)."""
_TITLE_MAX = 200
_MIN_HTML_WORDS = 15
_META_LINE = re.compile(
    r"^(?P<key>date|published|updated|source|url|link|by|author)\s*:\s*(?P<value>.+)$",
    re.IGNORECASE,
)


def _kind(value: object) -> str:
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    if value is None:
        return "null"
    return type(value).__name__


def date_warning(value: object) -> str | None:
    """Why a date found in a document cannot be used (None when it can, or when there is
    none): the document is still added, without a date, and the add reports the warning."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if iso_date(value) is not None:
        return None
    if isinstance(value, str):
        shown = value.strip()
        shown = shown if len(shown) <= 40 else shown[:40] + "…"
        return f"cannot read the date {shown!r}; added without a date (use YYYY-MM-DD)"
    return f"the date is {_kind(value)}, not a date; added without a date (use YYYY-MM-DD)"


def checked_date(value: str | None, origin: str) -> str | None:
    """Parse a user-given date, refusing one that is not a date rather than dropping it."""
    if value is None or not str(value).strip():
        return None
    parsed = iso_date(value)
    if parsed is None:
        raise InputError(origin, f"cannot read {value!r} as a date (use YYYY-MM-DD)")
    return parsed


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def split_title(text: str) -> tuple[str | None, dict[str, str], str]:
    """Split a plain-text article into (title, metadata lines, body).

    The first line is the headline when it is short, is not a sentence, and is followed by a
    blank line (the shape of a saved article); ``Key: value`` lines right after it (Date,
    Source, URL, By) are read as metadata.
    """
    lines = text.split("\n")
    meta: dict[str, str] = {}
    if text.startswith("---\n"):  # YAML-style front matter from Markdown tools
        end = text.find("\n---", 4)
        if end > 0:
            for line in text[4:end].split("\n"):
                key, _, value = line.partition(":")
                if value.strip():
                    meta[key.strip().lower()] = value.strip().strip("'\"")
            lines = text[end + 4 :].lstrip("\n").split("\n")
    title = meta.pop("title", None)
    first = lines[0].strip() if lines else ""
    if title is None and first:
        heading = first.lstrip("#").strip() if first.startswith("#") else first
        looks_like_title = (
            len(heading) <= _TITLE_MAX
            and (first.startswith("#") or not heading.endswith((".", "?", "!", ":", ",", ";")))
            and (len(lines) < 2 or not lines[1].strip() or _META_LINE.match(lines[1].strip()))
            and len(lines) > 1
        )
        if looks_like_title:
            title = heading
            lines = lines[1:]
    elif title is not None and first.startswith("#") and first.lstrip("#").strip() == title:
        lines = lines[1:]
    # metadata lines directly under the headline
    while lines and not lines[0].strip():
        lines = lines[1:]
    while lines and (m := _META_LINE.match(lines[0].strip())):
        meta[m["key"].lower()] = m["value"].strip()
        lines = lines[1:]
    return title, meta, "\n".join(lines)


def article_from_text(
    text: str,
    *,
    origin: str,
    title: str | None = None,
    source: str | None = None,
    published: str | None = None,
    default_title: str | None = None,
    default_source: str | None = None,
    warnings: tuple[str, ...] = (),
) -> Article:
    """Build an Article from raw text, reading a headline and metadata lines where present."""
    text = normalize(text)
    found_title, meta, body = split_title(text)
    body = clean(body)
    if not body:
        raise InputError(origin, "no article text (the document is empty or only boilerplate)")
    title = title or found_title or default_title or body.split("\n", 1)[0][:80]
    found_source = meta.get("url") or meta.get("link") or meta.get("source")
    raw_date = meta.get("date") or meta.get("published") or meta.get("updated")
    found_date = iso_date(raw_date)
    if not published and (bad := date_warning(raw_date)):
        warnings = (*warnings, bad)
    return Article(
        text=body,
        title=title.strip(),
        source=source or found_source or default_source or f"pasted:{_digest(body)}",
        published=published or found_date,
        origin=origin,
        warnings=warnings if not published else (),
    )


def pasted(
    text: str, *, title: str | None = None, source: str | None = None, date: str | None = None
) -> Article:
    """Pasted text. Without a source, a title makes re-pasting an edited version replace it."""
    origin = f"pasted text{f' {title!r}' if title else ''}"
    for name, value in (("text", text), ("title", title), ("source", source), ("date", date)):
        if value is not None and not isinstance(value, str):
            raise InputError(origin, f"the {name} is {_kind(value)}; it must be a string")
    if not text or not text.strip():
        raise InputError(origin, "empty text")
    published = checked_date(date, origin)
    default_source = f"pasted:{title.strip()}" if title and title.strip() else None
    return article_from_text(
        text,
        origin=origin,
        title=title,
        source=source,
        published=published,
        default_source=default_source,
    )


def _link_target(path: Path) -> tuple[Path | None, str]:
    """Where a symbolic link finally points (None and why when it cannot be resolved)."""
    try:
        return path.resolve(strict=True), ""
    except RuntimeError:  # Python 3.11 raises this for a loop
        return None, "a symbolic link that loops"
    except OSError as exc:
        if exc.errno == 40:  # ELOOP
            return None, "a symbolic link that loops"
        return None, "a broken symbolic link"


def _inside(target: Path, folder: Path) -> bool:
    return target == folder or target.is_relative_to(folder)


def expand_paths(
    paths: list[str | Path],
) -> tuple[list[Path], list[InputError], list[tuple[str, str]]]:
    """Files to add from paths that may be folders, inputs that cannot be added, and warnings.

    Symbolic links are followed only while they stay inside the folder being added (for a
    file named directly, the folder it is in): a link to ``/etc/passwd`` dropped into a
    folder of articles is reported, naming its target, and never read.
    """
    files: list[Path] = []
    errors: list[InputError] = []
    warnings: list[tuple[str, str]] = []
    for raw in paths:
        if not isinstance(raw, str | os.PathLike) or not str(raw):
            errors.append(InputError(repr(raw), "not a file or folder path"))
            continue
        path = Path(raw).expanduser()
        if not path.exists() and not path.is_symlink():
            errors.append(InputError(str(raw), "no such file or folder"))
        elif path.is_symlink() and not path.is_dir():
            target, why = _link_target(path)
            folder = path.absolute().parent.resolve()
            if target is None:
                errors.append(InputError(str(raw), f"{why}; not followed"))
            elif not _inside(target, folder):
                errors.append(InputError(
                    str(raw), f"a symbolic link to {target}, outside {folder}; not followed "
                    f"(add {target} itself if you mean it)"))
            else:
                files.append(path)
        elif path.is_dir():
            root = path.resolve()
            found = []
            for p in sorted(path.rglob("*")):
                if any(part.startswith(".") for part in p.relative_to(path).parts):
                    continue
                if p.is_symlink():
                    target, why = _link_target(p)
                    if target is None:
                        if p.suffix.lower() in SUPPORTED:
                            warnings.append((str(p), f"{why}; not followed"))
                        continue
                    if not _inside(target, root):
                        if target.is_dir() or p.suffix.lower() in SUPPORTED:
                            warnings.append((str(p), f"not followed: a symbolic link to "
                                                     f"{target}, outside {path}"))
                        continue
                    if target.is_dir():
                        continue  # a link to a folder inside: its files are found anyway
                if p.is_file() and p.suffix.lower() in SUPPORTED:
                    found.append(p)
            if not found:
                errors.append(
                    InputError(str(raw), f"folder has no supported files ({', '.join(SUPPORTED)})")
                )
            files.extend(found)
        else:
            files.append(path)
    return files, errors, warnings


def expand(paths: list[str | Path]) -> tuple[list[Path], list[InputError]]:
    """Files to add from paths that may be folders; missing or unsupported paths become errors."""
    files, errors, _ = expand_paths(paths)
    return files, errors


def _read_bytes(path: Path, max_bytes: int) -> bytes:
    origin = str(path)
    if path.suffix.lower() not in SUPPORTED:
        raise InputError(
            origin,
            f"unsupported file type {path.suffix or '(none)'!r}; supported: {', '.join(SUPPORTED)}",
        )
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise InputError(origin, f"cannot read file ({exc.strerror})") from exc
    if size == 0:
        raise InputError(origin, "empty file")
    if size > max_bytes:
        raise InputError(
            origin,
            f"file is {size / 1e6:.1f} MB, over the {max_bytes / 1e6:.0f} MB limit "
            "(raise QA_MAX_FILE_MB to allow it)",
        )
    try:
        return path.read_bytes()
    except OSError as exc:
        raise InputError(origin, f"cannot read file ({exc.strerror})") from exc


def _decode(data: bytes, origin: str, encoding: str | None) -> str:
    if b"\x00" in data[:8192]:
        raise InputError(origin, "binary file, not text")
    try:
        text = data.decode(encoding or "utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(
            origin,
            f"not valid {encoding or 'UTF-8'} text (byte 0x{data[exc.start]:02x} at offset "
            f"{exc.start}); save it as UTF-8 or give its encoding, e.g. --encoding latin-1",
        ) from exc
    except LookupError as exc:
        raise InputError(origin, f"unknown encoding {encoding!r}") from exc
    controls = sum(1 for ch in text[:8192] if ord(ch) < 32 and ch not in "\n\r\t\f")
    if controls > 0.01 * min(len(text), 8192) + 2:
        raise InputError(origin, "binary file, not text")
    return text


def _html_article(html: str, origin: str, default_title: str) -> Article:
    import trafilatura

    doc = trafilatura.bare_extraction(
        html, with_metadata=True, include_comments=False, include_tables=False
    )
    words = len((doc.text or "").split()) if doc is not None else 0
    if words < _MIN_HTML_WORDS:
        # trafilatura falls back to any text it finds (a menu, a cookie banner)
        raise InputError(origin, f"no article text found in the HTML page ({words} words)")
    # trafilatura separates blocks with single newlines; each block is a paragraph.
    body = "\n\n".join(line for line in doc.text.split("\n") if line.strip())
    title = (doc.title or "").strip() or None
    if title and body.startswith(title):
        body = body[len(title) :]
    return article_from_text(
        body,
        origin=origin,
        title=title,
        source=doc.url or None,
        published=iso_date(doc.date),
        default_title=default_title,
        default_source=str(Path(origin).resolve()),
        warnings=tuple(w for w in [date_warning(doc.date)] if w),
    )


def _pdf_article(data: bytes, origin: str, default_title: str) -> Article:
    import io

    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
        pages = [page.extract_text() or "" for page in reader.pages]
        info = reader.metadata
    except (PdfReadError, ValueError, KeyError, OSError) as exc:
        raise InputError(origin, f"not a readable PDF ({exc})") from exc
    text = "\n\n".join(p for p in pages if p.strip())
    if not text.strip():
        raise InputError(origin, "PDF has no text layer (scanned image?); run OCR on it first")
    # PDF text breaks lines mid-sentence: join lines inside a paragraph.
    text = re.sub(r"(?<![.!?:\n])\n(?!\n)", " ", normalize(text))
    meta_title = (info.title if info else None) or None
    meta_date = None
    if info and info.get("/CreationDate"):
        raw = str(info.get("/CreationDate"))
        m = re.match(r"D:(\d{4})(\d{2})(\d{2})", raw)
        meta_date = f"{m[1]}-{m[2]}-{m[3]}" if m else None
    return article_from_text(
        text,
        origin=origin,
        title=meta_title,
        published=iso_date(meta_date),
        default_title=default_title,
        default_source=str(Path(origin).resolve()),
    )


_JSONL_STRINGS = ("title", "url", "source", "id")


def _jsonl_articles(text: str, origin: str) -> Iterator[Article | InputError]:
    """One article per line (fields text, title, url, date, id); a bad line is its own error."""
    for n, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        where = f"{origin}:{n}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            yield InputError(where, f"not valid JSON ({exc.msg})")
            continue
        if not isinstance(row, dict) or not isinstance(row.get("text"), str):
            yield InputError(where, "line has no 'text' string field")
            continue
        wrong = [
            f"'{key}' is {_kind(row[key])}" for key in _JSONL_STRINGS
            if row.get(key) is not None and not isinstance(row[key], str)
            and not (key == "id" and isinstance(row[key], int) and not isinstance(row[key], bool))
        ]
        if wrong:
            yield InputError(where, f"field {', '.join(wrong)}; it must be a string")
            continue
        raw_date = row.get("date") if row.get("date") not in (None, "") else row.get("published")
        try:
            yield article_from_text(
                row["text"],
                origin=where,
                title=(row.get("title") or "").strip() or None,
                source=row.get("url") or row.get("source") or None,
                published=iso_date(raw_date),
                default_source=f"{Path(origin).resolve()}#{row.get('id') or n}",
                warnings=tuple(w for w in [date_warning(raw_date)] if w),
            )
        except InputError as exc:
            yield exc


def load_file(
    path: Path,
    *,
    max_bytes: int,
    encoding: str | None = None,
    title: str | None = None,
    source: str | None = None,
    date: str | None = None,
) -> list[Article | InputError]:
    """Articles from one file (a JSONL file gives several). Explicit fields override found ones."""
    origin = str(path)
    try:
        published = checked_date(date, origin)
        data = _read_bytes(path, max_bytes)
        suffix = path.suffix.lower()
        default_title = path.stem.replace("-", " ").replace("_", " ").strip() or path.name
        if suffix == ".pdf":
            if not data.startswith(b"%PDF"):
                raise InputError(origin, "not a PDF file (no %PDF header)")
            articles: list[Article | InputError] = [_pdf_article(data, origin, default_title)]
        else:
            text = _decode(data, origin, encoding)
            if not text.strip():
                raise InputError(origin, "empty file (only whitespace)")
            if suffix in (".html", ".htm"):
                articles = [_html_article(text, origin, default_title)]
            elif suffix == ".jsonl":
                articles = list(_jsonl_articles(text, origin))
                if not articles:
                    raise InputError(origin, "no articles in the JSONL file")
            else:
                articles = [
                    article_from_text(
                        text,
                        origin=origin,
                        default_title=default_title,
                        default_source=str(path.resolve()),
                    )
                ]
    except InputError as exc:
        return [exc]
    overrides = {"title": title, "source": source, "published": published}
    overrides: dict[str, object] = {k: v for k, v in overrides.items() if v}
    if not overrides:
        return articles
    if published:
        overrides["warnings"] = ()  # the date given replaces any unreadable one
    from dataclasses import replace

    return [replace(a, **overrides) if isinstance(a, Article) else a for a in articles]
