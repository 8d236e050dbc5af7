"""Files → Article: one function per format; everything that can go wrong becomes a LoadError."""
from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Callable
from datetime import date as _date
from pathlib import Path

from .errors import LoadError
from .types import DEFAULT_COLLECTION, Article

log = logging.getLogger(__name__)

SUPPORTED_SUFFIXES = (".txt", ".md", ".markdown", ".html", ".htm", ".pdf")
DEFAULT_MAX_BYTES = 20 * 1024 * 1024

_DATE_IN_NAME = re.compile(r"(?<!\d)((?:19|20)\d\d)[-_.]?([01]\d)[-_.]?([0-3]\d)(?!\d)")
_FRONT_MATTER = re.compile(r"\A---\s*\n(.*?)\n---\s*\n", re.S)
_MD_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.+?)\s*#*\s*$", re.M)


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
    title, text, date, url = reader(data, name)
    text = _clean_text(text)
    if not text.strip():
        raise LoadError(f"{name}: no readable text in the file")
    if date is None:
        date = _date_from_name(name)
    return Article(
        source=source or name,
        title=(title or _title_from_name(name)).strip()[:300],
        text=text,
        date=date,
        url=url,
        collection=collection,
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


# --- text helpers ---------------------------------------------------------------------------

def _decode(data: bytes, name: str) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise LoadError(f"{name}: cannot decode the UTF-16 text") from exc
    if b"\x00" in data[:8192]:
        raise LoadError(f"{name}: looks like a binary file, not text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    # Mixed encodings happen (a Latin-1 quote pasted into UTF-8): tolerate a few bad bytes,
    # refuse text that is mostly undecodable rather than index mojibake.
    text = data.decode("utf-8", errors="replace")
    bad = text.count("\ufffd")
    if bad > max(3, len(text) // 100):
        try:
            text = data.decode("cp1252")
        except UnicodeDecodeError as exc:
            raise LoadError(f"{name}: the text is not UTF-8 and could not be decoded") from exc
        if sum(1 for ch in text if ord(ch) < 32 and ch not in "\n\r\t\f") > len(text) // 100:
            raise LoadError(f"{name}: the text is not UTF-8 and could not be decoded")
    return text


def _clean_text(text: str) -> str:
    """Normalise newlines and drop NULs/control characters; offsets are taken on the result."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = re.sub(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", "", text)
    return text.strip("\n")


def _title_from_name(name: str) -> str:
    stem = Path(name).stem
    stem = _DATE_IN_NAME.sub("", stem)
    stem = re.sub(r"[-_]+", " ", stem).strip()
    return stem[:1].upper() + stem[1:] if stem else Path(name).name


def _date_from_name(name: str) -> str | None:
    m = _DATE_IN_NAME.search(Path(name).stem)
    return _valid_date(*m.groups()) if m else None


def _valid_date(y: str, m: str, d: str) -> str | None:
    try:
        return _date(int(y), int(m), int(d)).isoformat()
    except ValueError:
        return None


def _normalise_date(value: object) -> str | None:
    if value is None:
        return None
    s = str(value).strip().strip("'\"")
    m = re.match(r"((?:19|20)\d\d)-(\d\d)-(\d\d)", s)
    if m:
        return _valid_date(*m.groups())
    m = re.match(r"(\d\d?)/(\d\d?)/((?:19|20)\d\d)", s)  # US style, as news sites print it
    if m:
        return _valid_date(m.group(3), m.group(1).zfill(2), m.group(2).zfill(2))
    return None


# --- one reader per format: (bytes, name) -> (title, text, date, url) --------------------------

Reader = Callable[[bytes, str], "tuple[str | None, str, str | None, str | None]"]


def read_txt(data: bytes, name: str) -> tuple[str | None, str, str | None, str | None]:
    """Plain text: the first short line is the title when it looks like one."""
    text = _decode(data, name)
    first = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
    title = first if 0 < len(first) <= 200 and not first.endswith((".", "?", "!", ":")) else None
    date = None
    if title:
        m = re.search(r"(\d\d?/\d\d?/(?:19|20)\d\d|(?:19|20)\d\d-\d\d-\d\d)", title)
        date = _normalise_date(m.group(1)) if m else None
    return title, text, date, None


def read_markdown(data: bytes, name: str) -> tuple[str | None, str, str | None, str | None]:
    """Markdown: YAML-ish front matter (title, date, url) and the first heading give the metadata."""
    text = _decode(data, name)
    meta: dict[str, str] = {}
    m = _FRONT_MATTER.match(text)
    if m:
        for line in m.group(1).splitlines():
            key, sep, value = line.partition(":")
            if sep:
                meta[key.strip().lower()] = value.strip().strip("'\"")
        # Blank out the front matter instead of cutting it, so the body keeps its own offsets
        # relative to a text that still reads naturally.
        text = text[m.end():]
    title = meta.get("title")
    h = _MD_HEADING.search(text)
    if h and not text[: h.start()].strip():
        # A leading heading is the title, not a sentence worth citing: keep it out of the text.
        title = title or h.group(1).strip()
        text = text[h.end():]
    elif not title:
        title = h.group(1).strip() if h else None
    url = meta.get("url") or meta.get("link") or meta.get("canonical_url")
    return title, text, _normalise_date(meta.get("date") or meta.get("published")), url or None


def read_html(data: bytes, name: str) -> tuple[str | None, str, str | None, str | None]:
    """HTML: the main article text only (trafilatura drops menus, scripts and ads), plus metadata."""
    import trafilatura  # heavy import, only when HTML is ingested

    html = _decode(data, name)
    try:
        doc = trafilatura.bare_extraction(
            html, with_metadata=True, include_comments=False, include_tables=True, favor_precision=True
        )
    except Exception as exc:  # trafilatura raises a zoo of lxml errors on broken markup
        raise LoadError(f"{name}: could not parse the HTML ({type(exc).__name__})") from exc
    if doc is None or not (doc.text or "").strip():
        raise LoadError(f"{name}: no article text found in the HTML page")
    # trafilatura separates paragraphs with one newline; a blank line makes them paragraphs here too.
    text = re.sub(r"\n+", "\n\n", doc.text)
    url = doc.url if doc.url and doc.url.startswith(("http://", "https://")) else None
    return doc.title, text, _normalise_date(doc.date), url


def read_pdf(data: bytes, name: str) -> tuple[str | None, str, str | None, str | None]:
    """PDF: text of every page (pypdf); encrypted or broken files are refused with a reason."""
    import io

    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    if not data.lstrip().startswith(b"%PDF"):
        raise LoadError(f"{name}: not a PDF file")
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            try:
                ok = reader.decrypt("")
            except Exception:
                ok = 0
            if not ok:
                raise LoadError(f"{name}: the PDF is password-protected")
        pages = [(page.extract_text() or "") for page in reader.pages]
        info = reader.metadata or {}
    except LoadError:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, OSError, AttributeError, IndexError) as exc:
        raise LoadError(f"{name}: the PDF is damaged or truncated ({type(exc).__name__})") from exc
    except Exception as exc:  # pypdf can raise nearly anything on hostile input
        raise LoadError(f"{name}: the PDF could not be read ({type(exc).__name__})") from exc
    text = "\n\n".join(_reflow(p) for p in pages if p.strip())
    title = str(info.get("/Title") or "").strip() or None
    raw_date = str(info.get("/CreationDate") or "")
    m = re.match(r"D:((?:19|20)\d\d)(\d\d)(\d\d)", raw_date)
    return title, text, (_valid_date(*m.groups()) if m else None), None


def _reflow(page: str) -> str:
    """Join a PDF page's wrapped lines into paragraphs so sentences are not cut at line ends."""
    page = page.replace("\r", "")
    paras = re.split(r"\n\s*\n", page)
    out = []
    for p in paras:
        p = re.sub(r"-\n(?=[a-z])", "", p)  # hyphenated line breaks
        p = re.sub(r"[ \t]*\n[ \t]*", " ", p)
        out.append(p.strip())
    return "\n\n".join(x for x in out if x)


_READERS: dict[str, Reader] = {
    ".txt": read_txt,
    ".md": read_markdown,
    ".markdown": read_markdown,
    ".html": read_html,
    ".htm": read_html,
    ".pdf": read_pdf,
}
