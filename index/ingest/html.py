"""HTML → (title, text with structure marks, date, url): the article's own text, never menus or scripts.

trafilatura finds the main text (a precise pass, and a fuller one when the precise extract looks
cut short); its body is rendered as paragraphs, "## " headings and "- " list items. The repairs in
`html_repair` then put back what the extractor dropped, `meta` reads the page's own title and
canonical link, and `dates` the day it states for its publication (and its update).
"""
from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar, cast

from ..errors import LoadError
from .dates import PageDates, read_html_dates
from .html_repair import add_embedded_posts, add_loose_runs, add_lost_headings, add_sibling_paragraphs, without_teasers
from .meta import clean_title, norm_words, page_meta
from .text import decode_text, join_wrapped

if TYPE_CHECKING:
    from trafilatura.settings import Document as _TrafilaturaDocument

log = logging.getLogger(__name__)


def read_html(data: bytes, name: str) -> tuple[str | None, str, PageDates, str | None]:
    """HTML: the main article text only (menus, scripts, ads and sidebars dropped), plus metadata."""
    return extract_html(_decode_html(data, name), name=name)


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
    return decode_text(data, name)


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
        meta: dict[str, str] = _safely(page_meta, tree, {}) if tree is not None else {}
        opts: dict[str, Any] = dict(with_metadata=True, include_comments=False, include_tables=True)
        page = without_teasers(tree) if tree is not None else None
        doc = cast("_TrafilaturaDocument | None",  # a Document, not a dict: as_dict is never passed
                   trafilatura.bare_extraction(page if page is not None else html, favor_precision=True, **opts))
        text = _render_body(doc.body) if doc is not None and doc.body is not None else ""
        full, full_text = None, ""
        if _suspiciously_short(text, tree):  # the second, fuller extraction only when it may matter
            page = without_teasers(tree) if tree is not None else None  # trafilatura edits the tree
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
        text = _safely(lambda t: add_sibling_paragraphs(t, text), tree, text)
        text = _safely(lambda t: add_loose_runs(t, text), tree, text)
        text = _safely(lambda t: add_embedded_posts(t, text), tree, text)
        text = _safely(lambda t: add_lost_headings(t, text), tree, text)
    title = clean_title(meta.get("title") or (doc.title if doc is not None else None), meta)
    h1 = meta.get("lone_h1")
    if h1 and (not title or norm_words(title) in {norm_words(x) for x in meta.get("sites", "").split("\n") if x}):
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
