"""Files → Article: one function per format; everything that can go wrong becomes a LoadError."""
from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import date as _date
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

from .dates import PageDates, read_html_dates, settle
from .errors import LoadError
from .types import DEFAULT_COLLECTION, Article

if TYPE_CHECKING:
    from trafilatura.settings import Document as _TrafilaturaDocument

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
    try:
        title, text, date, url = reader(data, name)
    except LoadError:
        raise
    except ImportError as exc:  # a loader's package missing from the install: name it
        raise LoadError(f"{name}: cannot read {suffix} files, a package is missing ({exc}); reinstall citebot") from exc
    except Exception as exc:  # any other reader failure skips this file with a reason, never a traceback
        log.debug("reader failed on %s", name, exc_info=True)
        raise LoadError(f"{name}: could not read the file ({type(exc).__name__}: {str(exc)[:120]})") from exc
    text = _clean_text(text)
    if not text.strip():
        raise LoadError(f"{name}: no readable text in the file")
    dates = settle(date, _date_from_name(name))
    return Article(
        source=source or name,
        title=(title or _title_from_name(name)).strip()[:300],
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
    m = re.match(r"(\d\d?)\.(\d\d?)\.((?:19|20)\d\d)", s)  # 10.06.2013: day first, as in Europe
    if m:
        return _valid_date(m.group(3), m.group(2).zfill(2), m.group(1).zfill(2))
    m = re.match(r"((?:19|20)\d\d)(\d\d)(\d\d)(?:T|$)", s)  # 20191118 / 20191118T0930
    if m:
        return _valid_date(*m.groups())
    return None


# --- one reader per format: (bytes, name) -> (title, text, date, url) --------------------------

Reader = Callable[[bytes, str], "tuple[str | None, str, str | PageDates | None, str | None]"]


def read_txt(data: bytes, name: str) -> tuple[str | None, str, str | None, str | None]:
    """Plain text: the first short line is the title when it looks like one."""
    text = _decode(data, name)
    first = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
    title = first if 0 < len(first) <= 200 and not first.endswith((".", "?", "!", ":")) else None
    date = None
    if title:
        m = re.search(r"(\d\d?/\d\d?/(?:19|20)\d\d|(?:19|20)\d\d-\d\d-\d\d)", title)
        date = _normalise_date(m.group(1)) if m else None
    return title, join_paragraphs(text), date, None


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
    return title, join_paragraphs(text, markdown=True), _normalise_date(meta.get("date") or meta.get("published")), url or None


def read_html(data: bytes, name: str) -> tuple[str | None, str, PageDates, str | None]:
    """HTML: the main article text only (menus, scripts, ads and sidebars dropped), plus metadata."""
    return extract_html(_decode_html(data, name), name=name)


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


def _decode_html(data: bytes, name: str) -> str:
    """HTML bytes → text, honouring a declared <meta charset> when the bytes are not UTF-8."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    m = re.search(rb"""<meta[^>]+charset=["']?([\w-]+)""", data[:4096], re.I)
    if m:
        try:
            return data.decode(m.group(1).decode("ascii"))
        except (LookupError, UnicodeDecodeError):
            pass
    return _decode(data, name)


# A precise extract shorter than this share of the default one lost the article (seen: a paywalled
# news page reduced to its teaser, 8% of the body); then the default, fuller extract is used.
_SHORT_EXTRACT = 0.2


def extract_html(html: str, *, name: str = "page.html") -> tuple[str | None, str, PageDates, str | None]:
    """(title, text with structure marks, date, url) of an HTML page; LoadError when there is no text."""
    try:
        import trafilatura  # heavy import, only when HTML is ingested
    except ImportError as exc:  # e.g. lxml_html_clean missing: say which package to install
        raise LoadError(f"{name}: cannot read HTML, a package is missing ({exc}); reinstall citebot") from exc
    try:
        tree = _parse_html(html)
        meta: dict[str, str] = _safely(_page_meta, tree, {}) if tree is not None else {}
        opts: dict[str, Any] = dict(with_metadata=True, include_comments=False, include_tables=True)
        page = _without_teasers(tree) if tree is not None else None
        doc = cast("_TrafilaturaDocument | None",  # a Document, not a dict: as_dict is never passed
                   trafilatura.bare_extraction(page if page is not None else html, favor_precision=True, **opts))
        text = _render_body(doc.body) if doc is not None and doc.body is not None else ""
        full, full_text = None, ""
        if _suspiciously_short(text, tree):  # the second, fuller extraction only when it may matter
            page = _without_teasers(tree) if tree is not None else None  # trafilatura edits the tree
            full = cast("_TrafilaturaDocument | None",
                        trafilatura.bare_extraction(page if page is not None else html, **dict(opts, with_metadata=False)))
            full_text = _render_body(full.body) if full is not None and full.body is not None else ""
    except LoadError:
        raise
    except Exception as exc:  # trafilatura/lxml raise a zoo of errors on broken markup
        raise LoadError(f"{name}: could not parse the HTML ({type(exc).__name__})") from exc
    if len(text) < _SHORT_EXTRACT * len(full_text):
        text = full_text
    if not text.strip():
        raise LoadError(f"{name}: no article text found in the HTML page")
    if tree is not None:
        text = _safely(lambda t: _add_sibling_paragraphs(t, text), tree, text)
        text = _safely(lambda t: _add_loose_runs(t, text), tree, text)
        text = _safely(lambda t: _add_embedded_posts(t, text), tree, text)
        text = _safely(lambda t: _add_lost_headings(t, text), tree, text)
    title = _clean_title(meta.get("title") or (doc.title if doc is not None else None), meta)
    h1 = meta.get("lone_h1")
    if h1 and (not title or _norm_words(title) in {_norm_words(x) for x in meta.get("sites", "").split("\n") if x}):
        title = h1  # the page's title is only the site's name: its one <h1> is the headline
    url = meta.get("url") or (doc.url if doc is not None else None)
    url = url if url and url.startswith(("http://", "https://")) else None
    guess = doc.date if doc is not None else None  # trafilatura's: a stand-in when the page states none
    date = _safely(lambda t: read_html_dates(t, url, guess=guess), tree, PageDates()) if tree is not None else PageDates()
    return title, text, date, url


_T = TypeVar("_T")


def _safely(step: Callable[[Any], _T], tree: Any, fallback: _T) -> _T:
    """Run an optional refinement of the extract; on hostile markup keep what we have instead."""
    try:
        return step(tree)
    except Exception:
        log.debug("HTML refinement %s failed", getattr(step, "__name__", step), exc_info=True)
        return fallback


_SKIP_ANCESTORS = {"script", "style", "noscript", "nav", "footer", "aside", "form", "header", "button", "figcaption", "figure"}


def _add_sibling_paragraphs(tree: Any, text: str) -> str:
    """Paragraphs the extractor missed although they sit in the same kind of container as the
    article's own: a body split into several blocks with ads between them loses all but one.

    The container kind is a paragraph's three nearest ancestors (tag and class). The kind that
    holds most of the extracted text is the article's; its other paragraphs under the same third
    ancestor as an extracted one (not a look-alike teaser elsewhere on the page) are added after
    the nearest extracted paragraph before them, in page order.
    """
    flat = _squash(text)
    paras: list[tuple[str, tuple[tuple[Any, str], ...], bool]] = []  # (text, container kind, already extracted)
    roots: list[object] = []  # each paragraph's third ancestor: the article's blocks share it
    for el in tree.iter("p"):
        ancestors = list(el.iterancestors())
        if any(a.tag in _SKIP_ANCESTORS for a in ancestors):
            continue
        t = " ".join(el.text_content().split())
        if len(t) < 2:
            continue
        kind = tuple((a.tag, a.get("class") or "") for a in ancestors[:3])
        paras.append((t, kind, _squash(t)[:150] in flat))
        roots.append(ancestors[2] if len(ancestors) > 2 else None)
    weight: dict[tuple[tuple[Any, str], ...], int] = {}
    found_roots = set()
    for (t, kind, found), root in zip(paras, roots):
        if found:
            weight[kind] = weight.get(kind, 0) + len(t)
            found_roots.add(root)
    if not weight:
        return text
    best = max(weight, key=lambda k: weight[k])
    if weight[best] < 0.5 * sum(weight.values()) or not any(kind == best and not f for _, kind, f in paras):
        return text
    blocks = text.split("\n\n")
    flat_blocks = [_squash(b) for b in blocks]
    inserts: dict[int, list[str]] = {}
    anchor = -1  # block index of the last extracted paragraph seen, in page order
    for (t, kind, found), root in zip(paras, roots):
        key = _squash(t)[:150]
        if found:
            anchor = next((i for i, fb in enumerate(flat_blocks) if key and key in fb), anchor)
        elif kind == best and root in found_roots and len(t) >= 40 and t[-1:] in _TERMINAL + ("…",) and key not in flat:
            inserts.setdefault(anchor, []).append(t)
            flat += "|" + key
    out = list(inserts.get(-1, []))
    for i, b in enumerate(blocks):
        out.append(b)
        out += inserts.get(i, [])
    return "\n\n".join(out)


_INLINE = {"a", "em", "strong", "b", "i", "u", "span", "font", "small", "sup", "sub", "abbr", "cite", "code",
           "mark", "q", "s", "time", "var", "del", "ins"}


def _loose_runs(el: Any) -> list[str]:
    """The paragraphs an element writes as loose text between <br>s (no <p>): its own text and
    inline children's, broken at each <br> and at block children."""
    runs: list[str] = []
    cur: list[str] = [el.text or ""]

    def close() -> None:
        t = " ".join("".join(cur).split())
        if t:
            runs.append(t)
        cur.clear()

    for child in el:
        tag = child.tag if isinstance(child.tag, str) else ""
        if tag in _INLINE:
            cur.append(child.text_content())
        else:
            close()  # <br>, a block, a comment: the run ends here
        cur.append(child.tail or "")
    close()
    return runs


def _add_loose_runs(tree: Any, text: str) -> str:
    """Paragraphs written as loose text between <br>s that the extractor dropped although other
    paragraphs of the same element are in the extract (seen: a lead paragraph before the first
    <br>). Only sentence-like runs (40+ characters, ending a sentence) of an element with two or
    more extracted runs are added, next to their extracted neighbours in page order."""
    flat = _squash(text)
    blocks = text.split("\n\n")
    flat_blocks = [_squash(b) for b in blocks]
    before: dict[int, list[str]] = {}
    after: dict[int, list[str]] = {}
    for el in tree.iter():
        if not isinstance(el.tag, str) or el.tag in _SKIP_ANCESTORS or el.tag in _INLINE or el.find("br") is None:
            continue
        if any(a.tag in _SKIP_ANCESTORS for a in el.iterancestors()):
            continue
        runs = _loose_runs(el)
        if len(runs) < 3:
            continue
        where = []  # block index of each run in the extract, or None
        for r in runs:
            key = _squash(r)[:150]
            where.append(next((i for i, fb in enumerate(flat_blocks) if key and key in fb), None) if len(key) >= 20 else None)
        if sum(w is not None for w in where) < 2:
            continue
        for k, (r, w) in enumerate(zip(runs, where)):
            if w is not None or len(r) < 40 or r[-1:] not in _TERMINAL + ("…",) or _squash(r)[:150] in flat:
                continue
            prev = next((where[j] for j in range(k - 1, -1, -1) if where[j] is not None), None)
            if prev is not None:
                after.setdefault(prev, []).append(r)
            else:
                before.setdefault(next(w2 for w2 in where[k:] if w2 is not None), []).append(r)
            flat += "|" + _squash(r)[:150]
    if not before and not after:
        return text
    out: list[str] = []
    for i, b in enumerate(blocks):
        out += before.get(i, [])
        out.append(b)
        out += after.get(i, [])
    return "\n\n".join(out)


_EMBED = re.compile(r"\b(twitter-tweet|instagram-media|tiktok-embed|bluesky-embed|mastodon-embed)\b")


def _add_embedded_posts(tree: Any, text: str) -> str:
    """Posts the article embeds (a tweet, an Instagram or TikTok post, written into the page as a
    <blockquote> for the widget) are what it quotes: the extractor drops them as widgets. Each one
    that sits between two paragraphs of the extract is added after the paragraph before it, its
    text and then its attribution line ("— Name (@handle) date")."""
    flat = _squash(text)
    blocks = text.split("\n\n")
    flat_blocks = [_squash(b) for b in blocks]
    after: dict[int, list[str]] = {}
    pending: list[tuple[int, str]] = []  # (anchor block, post) waiting for an extracted paragraph after it
    anchor = None
    for el in tree.iter():
        if el.tag == "blockquote" and _EMBED.search(el.get("class") or ""):
            body = [" ".join(p.text_content().split()) for p in el.iter("p")]
            body = [b for b in body if b]
            rest = " ".join((el.text or "").split())
            tail = []
            for child in el:
                if child.tag != "p":
                    tail.append(child.text_content() if child.tag in _INLINE else "")
                tail.append(child.tail or "")
            by = " ".join("".join(tail).split())
            post = "\n".join(body or ([rest] if rest else []))
            key = _squash(post)[:150]
            if post and anchor is not None and len(key) >= 5 and key not in flat:
                pending.append((anchor, post + ("\n" + by if by and len(by) <= 200 else "")))
                flat += "|" + key
            continue
        if el.tag == "p":
            key = _squash(el.text_content())[:150]
            if len(key) >= 20:
                i = next((i for i, fb in enumerate(flat_blocks) if key in fb), None)
                if i is not None:
                    for a, post in pending:
                        after.setdefault(a, []).append(post)
                    pending = []
                    anchor = i
    if not after:
        return text
    out: list[str] = []
    for i, b in enumerate(blocks):
        out.append(b)
        out += after.get(i, [])
    return "\n\n".join(out)


def _near(a: Any, b: Any) -> bool:
    """Whether two elements are siblings or one wrapper apart."""
    pa, pb = a.getparent(), b.getparent()
    return pa is not None and pb is not None and (pa is pb or pa is pb.getparent() or pa.getparent() is pb)


_SUBHEAD_CLASS = re.compile(r"sub-?head|(^|[-_ ])(heading|subtitle)([-_ ]|$)", re.I)


def _add_lost_headings(tree: Any, text: str) -> str:
    """Section headings between two paragraphs of the extract that the extractor dropped (a
    heading that is all link, one with layout <div>s inside, a <div class="subheadline">) open
    the paragraph after them again, as "## " headings: context for its passage, never a quote.
    Page-furniture headings ("Related stories", "Newsletter") stay out."""
    from .chunk import Kind, line_kind

    flat = _squash(text)
    blocks = text.split("\n\n")
    flat_blocks = [_squash(b) for b in blocks]
    before: dict[int, list[str]] = {}
    pending: list[tuple[str, Any]] = []  # (heading, its element)
    anchor = None  # block index of the last extracted paragraph, in page order
    for el in tree.iter():
        tag = el.tag if isinstance(el.tag, str) else ""
        if tag in ("h2", "h3", "h4", "h5", "h6") or (
                tag in ("div", "p", "span") and _SUBHEAD_CLASS.search(el.get("class") or "")
                and el.find(".//p") is None and el.find(".//div") is None):
            t = " ".join(el.text_content().split())
            key = _squash(t)
            if anchor is not None and 3 <= len(t) <= 150 and key and key not in flat and not t.endswith((".", ",")):
                level = int(tag[1]) if tag.startswith("h") else 2
                head = "#" * level + " " + t
                if line_kind(head) == Kind.HEADING and line_kind(t) != Kind.FURNITURE:
                    pending.append((head, el))
            continue
        if tag == "p":
            key = _squash(el.text_content())[:150]
            if len(key) >= 20:
                i = next((i for i, fb in enumerate(flat_blocks) if key in fb), None)
                if i is not None:
                    # The article's own headings sit beside its paragraphs (same parent, or one
                    # wrapper apart); a run of several is a list of other stories' titles.
                    heads = [h for h, hel in pending if _near(hel, el)]
                    if heads and len(pending) <= 2 and anchor is not None and i > anchor:
                        before.setdefault(i, []).extend(heads)
                        flat += "|" + "|".join(_squash(h) for h in heads)
                    pending = []
                    anchor = i
    if not before:
        return text
    out: list[str] = []
    for i, b in enumerate(blocks):
        out += before.get(i, [])
        out.append(b)
    return "\n\n".join(out)


def _squash(s: str) -> str:
    """Letters and digits only: the extractor and the DOM space and quote text differently."""
    return re.sub(r"\W+", "", s).lower()


def _without_teasers(tree: Any) -> Any:  # -> a pruned copy of the page, or None when nothing is pruned
    """A copy of the page without the other posts listed inside the article: an <article> holding
    its own text and two or more <article>s side by side (related-post teasers) loses those."""
    import copy

    if not any(len(outer.xpath(".//article")) >= 2 for outer in tree.iter("article")):
        return None  # the common case: no copy of the page needed
    page = copy.deepcopy(tree)
    pruned = False
    for outer in page.iter("article"):
        inner = [a for a in outer.iter("article") if a is not outer]
        by_parent: dict[object, list[Any]] = {}
        for a in inner:
            by_parent.setdefault(a.getparent(), []).append(a)
        for group in by_parent.values():
            if len(group) < 2:
                continue
            own = len(" ".join(outer.text_content().split())) - sum(len(" ".join(a.text_content().split())) for a in group)
            if own >= 200:
                for a in group:
                    if a.getparent() is not None:
                        a.getparent().remove(a)
                pruned = True
    return page if pruned else None


def _suspiciously_short(text: str, tree: Any) -> bool:  # tree: lxml element or None
    """Whether a precise extract may have lost the article: short, or a small part of the text
    the page's paragraphs hold (a lost article was 8% of it; kept ones are 13% and more)."""
    if len(text) < 500 or tree is None:
        return True
    in_paragraphs = sum(len(" ".join(p.text_content().split())) for p in tree.iter("p"))
    return len(text) < 0.25 * in_paragraphs


def _parse_html(html: str) -> Any:  # -> lxml.html.HtmlElement | None
    import lxml.html

    try:
        parser = lxml.html.HTMLParser(encoding="utf-8")  # the text is decoded already: say so
        return lxml.html.fromstring(html.encode("utf-8", "replace"), parser=parser)
    except Exception:  # an empty or hopeless document: trafilatura decides about the text
        return None


# --- rendering trafilatura's body: paragraphs, "## " headings, "- " list items ----------------

_TERMINAL = tuple(".!?:;\"”’)»")
_LIST_MARK = re.compile(r"^\s*(?:[-*•+]\s|\d{1,3}[.)]\s|#{1,6}\s|>|\|)")


def _render_body(body: Any) -> str:  # body: lxml element of trafilatura's XML-ish tree
    out: list[str] = []
    for el in body:
        tag = el.tag
        if tag == "head":
            level = int((el.get("rend") or "h2")[1:] or 2) if (el.get("rend") or "h2")[1:].isdigit() else 2
            t = _inline(el, join=True)
            if t:
                out.append("#" * max(1, min(level, 6)) + " " + t)
        elif tag == "list":
            items = [_inline(it, join=True) for it in el.iter("item")]
            items = [i for i in items if i]
            if items:
                out.append("\n".join("- " + i for i in items))
        elif tag == "table":
            rows = []
            for row in el.iter("row"):
                cells = [_inline(c, join=True) for c in row.iter("cell")]
                cells = [c for c in cells if c]
                if cells:
                    rows.append(" | ".join(cells))
            if rows:
                out.append("\n".join(rows))
        else:  # p, quote, div, ...
            t = _inline(el, join=False)
            if t:
                out.append(join_wrapped(t))
        tail = " ".join((el.tail or "").split())
        if tail:  # text loose between blocks is a paragraph of its own
            out.append(tail)
    return "\n\n".join(out)


def _inline(el: Any, *, join: bool) -> str:
    """An element's text with <lb/> as a newline; `join` makes it one line."""
    parts: list[str] = []

    def walk(e: Any) -> None:
        # In HTML only <br> (trafilatura's <lb/>) ends a line; a newline in the source is a space.
        if e.tag == "lb":
            parts.append("\n")
        elif e.text:
            parts.append(e.text.replace("\n", " "))
        for child in e:
            walk(child)
            if child.tail:
                parts.append(child.tail.replace("\n", " "))

    walk(el)
    text = "".join(parts)
    lines = [re.sub(r"[ \t\u00a0]+", " ", ln).strip() for ln in text.split("\n")]
    lines = [ln for ln in lines if ln]
    return " ".join(lines) if join else "\n".join(lines)


_FENCE = re.compile(r"^\s*(```|~~~)")


def join_paragraphs(text: str, *, markdown: bool = False) -> str:
    """`join_wrapped` on every blank-line separated paragraph of a plain-text or Markdown file.

    Markdown code blocks (fenced or indented) and tables keep their lines as written.
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    out: list[str] = []
    in_fence = False
    for block in re.split(r"(\n[ \t]*\n)", text):
        if not block.strip() or block.strip("\n \t") == "":
            out.append(block)
            continue
        lines = block.split("\n")
        fences = sum(1 for ln in lines if _FENCE.match(ln))
        code = markdown and (in_fence or fences or all(ln.startswith(("    ", "\t")) for ln in lines if ln.strip())
                             or any(ln.lstrip().startswith("|") for ln in lines))
        if fences % 2:
            in_fence = not in_fence
        out.append(block if code else join_wrapped(block))
    return "".join(out)


def _line_list(lines: list[str]) -> bool:
    """Whether the lines are a list written line by line (tour dates, an address, a schedule):
    three or more, none starting in lower case and almost none ending on a lower-case word, where
    prose wrapped inside its sentences ends most lines on one ("the", "and", "would")."""
    ls = [ln.strip() for ln in lines if ln.strip()]
    if len(ls) < 3 or any(ln[0].islower() for ln in ls):
        return False
    ends = [ln.split()[-1] for ln in ls[:-1]]
    return sum(1 for w in ends if w[:1].islower()) <= len(ends) // 5


def join_wrapped(block: str) -> str:
    """Join the hard-wrapped lines of one paragraph; keep line ends that are real ones.

    A line end is real before a list item, heading, quote or table line, after a short line that
    ends a sentence (a line of an address, a poem, a one-line paragraph in single-newline text) and
    after a short line without end punctuation followed by a capital (a heading above text).
    Everything else is a wrap inside a sentence, and the lines are joined with a space.
    """
    lines = block.split("\n")
    if len(lines) < 2 or _line_list(lines):
        return block
    longest = max(len(ln.rstrip()) for ln in lines)
    out = [lines[0]]
    for line in lines[1:]:
        prev = out[-1].rstrip()
        nxt = line.strip()
        if not prev or not nxt or _LIST_MARK.match(line) or _LIST_MARK.match(prev.split("\n")[-1]):
            out.append(line)
            continue
        last = prev.split("\n")[-1]
        short = len(last) < 0.7 * longest or longest < 40
        if short and (last.endswith(_TERMINAL) or (nxt[:1].isupper() and len(last.split()) <= 8)):
            out.append(line)
        else:
            out[-1] = prev + " " + nxt
    return "\n".join(out)


# --- the page's own metadata: JSON-LD, Open Graph, <meta>, <link rel=canonical>, <h1>, <time> ---

_ARTICLE_TYPES = ("article", "newsarticle", "blogposting", "reportagenewsarticle", "analysisnewsarticle",
                  "opinionnewsarticle", "webpage", "report", "socialmediaposting", "liveblogposting")
_TITLE_SEPARATORS = re.compile(r"\s+[|\-–—·•»]+\s+")


def _page_meta(tree: Any) -> dict[str, str]:
    """title, url and the site's names as the page itself declares them (dates: index/dates.py)."""
    meta: dict[str, str] = {}
    props: dict[str, str] = {}
    for m in tree.iter("meta"):
        key = (m.get("property") or m.get("name") or m.get("itemprop") or "").strip().lower()
        value = (m.get("content") or "").strip()
        if key and value and key not in props:
            props[key] = value
    ld = _json_ld(tree)
    article = next((o for o in ld if _ld_type(o) in _ARTICLE_TYPES and _ld_type(o) != "webpage"), None) or next(
        (o for o in ld if _ld_type(o) in _ARTICLE_TYPES), None)
    sites = []
    for o in ld:
        if _ld_type(o) in ("website", "organization", "newsmediaorganization"):
            sites.append(str(o.get("name") or ""))
    if article is not None:
        pub = article.get("publisher")
        if isinstance(pub, dict):
            sites.append(str(pub.get("name") or ""))
    sites += [props.get("og:site_name", ""), props.get("application-name", ""), props.get("twitter:site", "").lstrip("@")]
    meta["sites"] = "\n".join(s.strip() for s in sites if s and s.strip())

    h1s = [" ".join(h.text_content().split()) for h in tree.iter("h1")]
    h1s = [h for h in h1s if 3 <= len(h) <= 300]
    headline = str(article.get("headline") or article.get("name") or "").strip() if article is not None else ""
    og_title = props.get("og:title") or props.get("twitter:title") or ""
    title_el = tree.find(".//title")
    page_title = " ".join(title_el.text_content().split()) if title_el is not None else ""
    # The headline as the page declares it; the <title> before a lone <h1>, which on some sites
    # is the site's own name in a banner.
    for cand in (headline, og_title, page_title):
        cand = _unescape(cand)
        if cand:
            meta["title"] = cand
            break
    if len(h1s) == 1:
        meta["lone_h1"] = h1s[0]
    if h1s:
        meta["h1"] = "\n".join(h1s)

    meta_url = _page_address(tree, props, article)
    if meta_url:
        meta["url"] = meta_url
    return meta


_SHARE_PARAMS = {  # share buttons carry the article's address in their query: (host part, parameter)
    "facebook.com/sharer": "u", "facebook.com/share.php": "u", "twitter.com/share": "url",
    "twitter.com/intent/tweet": "url", "x.com/intent/tweet": "url", "linkedin.com/sharearticle": "url",
    "linkedin.com/cws/share": "url", "reddit.com/submit": "url", "pinterest.com/pin/create": "url",
    "vk.com/share.php": "url", "tumblr.com/share": "url", "getpocket.com/save": "url",
}


def _page_address(tree: Any, props: dict[str, str], article: dict[str, Any] | None) -> str | None:
    """The article's own public address, from what the page declares, most explicit first.

    1. `<link rel=canonical>`, `og:url`, the article's JSON-LD `url` / `mainEntityOfPage` / `@id`
       (relative ones resolved against an absolute `<base href>` or the page's other declared
       address). A canonical on another site (syndication) gives way to og:url on this one.
    2. A localised edition (businessinsider.de) that names the same path on another host as its
       `hreflang="x-default"` alternate: that is the address for readers anywhere.
    3. Pages that declare none of those still name themselves to the outside world: `twitter:url`,
       an `itemprop="url"` of the page's schema.org Article, the like/+1/comments widgets'
       `data-href`, the article address in share buttons' query (the most common one, since
       teasers may carry their own), and last the `rel=shortlink`.
    Only absolute http(s) addresses count; None when the page names no address at all.
    """
    from urllib.parse import parse_qs, urljoin, urlsplit

    links = [(((ln.get("rel") or "").lower().split()), ln) for ln in tree.iter("link") if ln.get("href")]
    base = next((b.get("href") for b in tree.iter("base") if _absolute(b.get("href"))), None)
    canonical = next((ln.get("href").strip() for rel, ln in links if "canonical" in rel), None)
    og_url = props.get("og:url")
    ld_urls: list[str] = []
    if article is not None:
        main = article.get("mainEntityOfPage")
        for v in (article.get("url"), main.get("@id") if isinstance(main, dict) else main, article.get("@id")):
            if isinstance(v, str) and v.strip():
                ld_urls.append(v.strip().split("#")[0])
    anchor = base or next((u for u in (canonical, og_url, *ld_urls) if _absolute(u)), None)

    def resolve(u: str | None) -> str | None:
        if not u:
            return None
        u = u.strip()
        if not _absolute(u) and anchor and not u.startswith(("#", "javascript:", "mailto:")):
            u = urljoin(anchor, u)
        return u if _absolute(u) else None

    canonical, og_url = resolve(canonical), resolve(og_url)
    ld_url = next((r for r in map(resolve, ld_urls) if r), None)
    if canonical and og_url and _site(canonical) != _site(og_url):
        chosen: str | None = og_url  # syndicated: the copy we read is on og:url's site
    else:
        chosen = canonical or og_url or ld_url
    if chosen:
        default = next((resolve(ln.get("href")) for rel, ln in links
                        if "alternate" in rel and (ln.get("hreflang") or "").lower() == "x-default"), None)
        if default and _same_path(default, chosen) and urlsplit(default).netloc != urlsplit(chosen).netloc:
            return default
        return chosen

    fallbacks: list[str | None] = [props.get("twitter:url")]
    for el in tree.xpath('//*[@itemprop="url"]'):
        scope = next((a for a in el.iterancestors() if a.get("itemscope") is not None), None)
        if scope is not None and re.search(r"(Article|BlogPosting|Report)$", (scope.get("itemtype") or "").strip()):
            fallbacks.append(el.get("href") or el.get("content"))
    for el in tree.iter():
        tag = str(el.tag).lower() if isinstance(el.tag, str) else ""
        cls = (el.get("class") or "").lower()
        if tag in ("like", "fb:like", "plusone", "g:plusone", "fb:comments") and el.get("href"):
            fallbacks.append(el.get("href"))
        elif el.get("data-href") and re.search(r"\b(fb-like|fb-comments|fb-share-button|g-plusone)\b", cls):
            fallbacks.append(el.get("data-href"))
    shared: dict[str, int] = {}
    for a in tree.iter("a"):
        href = (a.get("href") or "").strip()
        low = href.lower()
        param = next((v for k, v in _SHARE_PARAMS.items() if k in low), None)
        if not param:
            continue
        for value in parse_qs(urlsplit(href).query).get(param, []):
            if _absolute(value):
                shared[value] = shared.get(value, 0) + 1
    if shared:
        fallbacks.append(max(shared, key=lambda u: shared[u]))  # ties: the first seen
    fallbacks += [ln.get("href") for rel, ln in links if "shortlink" in rel]
    return next((r for r in map(resolve, fallbacks) if r), None)


def _absolute(u: str | None) -> bool:
    return u is not None and u.strip().lower().startswith(("http://", "https://"))  # "" starts with neither


def _same_path(a: str, b: str) -> bool:
    from urllib.parse import urlsplit

    pa, pb = urlsplit(a), urlsplit(b)
    return pa.path.rstrip("/") == pb.path.rstrip("/") and pa.query == pb.query and len(pa.path.strip("/")) > 0


def _site(url: str) -> str:
    host = re.sub(r"^https?://", "", url).split("/")[0].split(":")[0].lower()
    parts = host.split(".")
    return ".".join(parts[-2:]) if len(parts) >= 2 else host


def _json_ld(tree: Any) -> list[dict[str, Any]]:
    import json

    out: list[dict[str, Any]] = []

    def walk(o: object) -> None:
        if isinstance(o, dict):
            out.append(o)
            for v in o.values():
                if isinstance(v, (dict, list)):
                    walk(v)
        elif isinstance(o, list):
            for v in o:
                walk(v)

    for s in tree.iter("script"):
        if (s.get("type") or "").strip().lower() != "application/ld+json":
            continue
        try:
            walk(json.loads(s.text_content().strip() or "null", strict=False))
        except ValueError:
            continue
    return out


def _ld_type(o: dict[str, Any]) -> str:
    t = o.get("@type")
    if isinstance(t, list):
        t = next((x for x in t if isinstance(x, str) and x.lower() in _ARTICLE_TYPES), t[0] if t else "")
    return str(t or "").lower()


def _unescape(s: str) -> str:
    import html as _html

    return " ".join(_html.unescape(s).split())


def _clean_title(title: str | None, meta: dict[str, str]) -> str | None:
    """The headline without the site's name or a date tacked on ('… | DW | 10.06.2013')."""
    if not title:
        return None
    title = _unescape(title)
    sites = {_norm_words(s) for s in meta.get("sites", "").split("\n") if s}
    for h1 in meta.get("h1", "").split("\n"):
        # The page's own <h1> inside a longer title ("H1 – Site", "Site: H1"): the rest is the site's.
        if not h1 or _norm_words(h1) in sites:
            continue
        rest = title[len(h1):]
        if (len(h1) >= 12 or len(rest.split()) <= 5) and title != h1 and title.startswith(h1) and _TITLE_SEPARATORS.match(rest + " "):
            return h1
        if len(h1) >= 12 and title != h1 and title.endswith(h1) and re.search(r"(:|\s[|\-–—·•»]+)\s+$", title[: -len(h1)]):
            return h1
    parts = _TITLE_SEPARATORS.split(title)
    if len(parts) < 2:
        return title

    def furniture(part: str) -> bool:
        n = _norm_words(part)
        return (not n or n in sites or any(s and (s in n.replace(" ", "") or n.replace(" ", "") in s.replace(" ", ""))
                                             for s in sites if len(n) >= 2)
                or bool(re.fullmatch(r"[\d .:/-]+", part.strip())))

    cut = next((i for i, part in enumerate(parts) if i > 0 and _norm_words(part) in sites), None)
    if cut is not None:
        parts = parts[:cut]  # "Headline | Site | Section | Section": everything from the site's name on
    while len(parts) > 1 and furniture(parts[-1]):
        parts.pop()
    while len(parts) > 1 and furniture(parts[0]):
        parts.pop(0)
    if len(parts) == 2 and len(parts[-1].split()) <= 3 and len(parts[0].split()) >= 4:
        parts.pop()  # "Long headline here - Short Site": a short tail is most often the site
    elif len(parts) == 2 and len(parts[0].split()) <= 2 and len(parts[1].split()) >= 4:
        parts.pop(0)  # "Opinion | Long headline here": a one- or two-word section label
    # Rejoin with the separators as they were written.
    kept = " ".join(parts)
    m = title.find(parts[0])
    if m >= 0:
        end = title.find(parts[-1], m) + len(parts[-1])
        if end > m:
            kept = title[m:end]
    return kept.strip() or title


def _norm_words(s: str) -> str:
    return re.sub(r"\W+", " ", s.lower()).strip()


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
                ok: int = reader.decrypt("")  # a PasswordType, an IntEnum: 0 is failure
            except Exception:
                ok = 0
            if not ok:
                raise LoadError(f"{name}: the PDF is password-protected")
        pages = [(page.extract_text() or "") for page in reader.pages]
        info: Mapping[str, Any] = reader.metadata or {}
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
