"""Files and pages → Article: where articles come in. Picks the reader by the file's suffix.

One reader per format (`text` for .txt and Markdown, `html`, `pdf`), each (bytes, name) →
(title, text, date, url); the shared metadata helpers are in `meta`. Everything that can go wrong
becomes a LoadError with a reason, never a traceback.
"""
from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from ..errors import LoadError
from ..types import DEFAULT_COLLECTION, Article
from .dates import PageDates, settle
from .html import read_html
from .meta import date_from_name, title_from_name
from .pdf import read_pdf
from .text import clean_text, read_markdown, read_txt

log = logging.getLogger(__name__)


SUPPORTED_SUFFIXES = (".txt", ".md", ".markdown", ".html", ".htm", ".pdf")
DEFAULT_MAX_BYTES = 20 * 1024 * 1024


def file_digest(data: bytes) -> str:
    """The content hash that decides whether a re-ingest has work to do."""
    return hashlib.sha256(data).hexdigest()


def is_supported(path: Path) -> bool:
    """Whether a file found inside a folder is one citebot ingests (others are ignored)."""
    return path.suffix.lower() in SUPPORTED_SUFFIXES and not path.name.startswith(".")


def load_bytes(
    data: bytes,
    name: str,
    *,
    source: str | None = None,
    collection: str = DEFAULT_COLLECTION,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> Article:
    """Turn a file's bytes into an Article, choosing the reader by the name's suffix."""
    suffix = Path(name).suffix.lower()
    reader = _READERS.get(suffix)
    if reader is None:
        raise LoadError(
            f"{name}: unsupported file type '{suffix or '(none)'}' "
            f"(citebot reads {', '.join(s for s in SUPPORTED_SUFFIXES if s != '.markdown')})"
        )
    if len(data) > max_bytes:
        raise LoadError(
            f"{name}: file is {len(data) / 1048576:.1f} MB, over the {max_bytes / 1048576:.0f} MB limit"
        )
    if not data.strip():
        raise LoadError(f"{name}: file is empty")
    try:
        title, text, date, url = reader(data, name)
    except LoadError:
        raise
    except ImportError as exc:  # a loader's package missing from the install: name it
        raise LoadError(f"{name}: cannot read {suffix} files, a package is missing ({exc}); reinstall citebot") from exc
    except Exception as exc:  # any other reader failure skips this file with a reason, never a traceback
        log.debug("reader failed on %s", name, exc_info=True)
        raise LoadError(f"{name}: could not read the file ({type(exc).__name__}: {str(exc)[:120]})") from exc
    text = clean_text(text)
    if not text.strip():
        raise LoadError(f"{name}: no readable text in the file")
    dates = settle(date, date_from_name(name))
    return Article(
        source=source or name,
        title=(title or title_from_name(name)).strip()[:300],
        text=text,
        url=url,
        collection=collection,
        **dates.fields(),
    )


def load_file(path: Path, *, collection: str = DEFAULT_COLLECTION, max_bytes: int = DEFAULT_MAX_BYTES) -> Article:
    """Read a file from disk into an Article (source = its resolved path)."""
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise LoadError(f"{path.name}: file is {size / 1048576:.1f} MB, over the {max_bytes / 1048576:.0f} MB limit")
        data = path.read_bytes()
    except OSError as exc:
        raise LoadError(f"{path}: cannot read the file ({exc.strerror or exc})") from exc
    return load_bytes(data, path.name, source=str(path.resolve()), collection=collection, max_bytes=max_bytes)


# --- one reader per format: (bytes, name) -> (title, text, date, url) --------------------------

Reader = Callable[[bytes, str], "tuple[str | None, str, str | PageDates | None, str | None]"]


def html_to_article(
    html: str | bytes,
    url: str | None = None,
    *,
    source: str | None = None,
    collection: str = DEFAULT_COLLECTION,
) -> Article:
    """A web page (text or bytes) → Article with the page's own title, date, link and body text.

    `url` is where the page was fetched from: the link when the page names no canonical URL, and
    the source when none is given. Raises LoadError when the page has no article text.
    """
    from urllib.parse import urlsplit

    where = url or source or ""
    parts = urlsplit(where) if "://" in where else None
    name = (Path(parts.path).name or parts.netloc) if parts is not None else Path(where).name
    name = name or "page"
    if not name.lower().endswith((".html", ".htm")):
        name += ".html"  # the reader is chosen by the name: a page is HTML whatever its address says
    data = html if isinstance(html, bytes) else html.encode("utf-8")
    article = load_bytes(data, name, source=source or url or name, collection=collection)
    if url and not article.url and url.startswith(("http://", "https://")):
        article = replace(article, url=url)
    return article

_READERS: dict[str, Reader] = {
    ".txt": read_txt,
    ".md": read_markdown,
    ".markdown": read_markdown,
    ".html": read_html,
    ".htm": read_html,
    ".pdf": read_pdf,
}
