"""The date a page shows its readers: the day it states for its publication, in its own time zone.

Pure functions over what a page, a feed, a sitemap or a server says (issue 24). Every candidate
date is read as the calendar day written in it — `2024-12-06T20:15:00-05:00` is 2024-12-06, never
converted to UTC (which would make it the 7th) — and a date without a time stays as written.

Order of trust (`DateSource`, most trusted first). A publication date always wins over an update
date; an update is kept as `updated`, never given as the date.

  Stated by the article itself:
   1. json-ld          the article's JSON-LD `datePublished` (else `dateCreated`)
   2. meta             `article:published_time`, `og:published_time`, `pubdate`, `dc.date.issued`…
   3. microdata        an element with `itemprop="datePublished"`
   4. byline-time      a `<time>` in the article's byline (not in comments, rails, footers)
   5. url              /2024/12/06/ in the article's own address
   6. dateline         a visible "Published December 6, 2024" line near the headline
   7. document         a date a file states for itself: front matter, PDF creation date, file name
   8. feed-published   the publisher's feed entry `pubDate` / `published`, outside the page
  Estimated — used only when nothing above gives a date, and marked `date_estimated`:
   9. page-text        a date found elsewhere in the page's text (trafilatura's guess)
  10. feed-updated     the feed entry's `updated`
  11. sitemap-lastmod  the sitemap's `<lastmod>`
  12. http-last-modified  the server's `Last-Modified`
  13. copyright-year   only a "© 2023" line: the year alone

One refinement of 1–3: metadata written in another zone than the page shows (a time in UTC, or a
mislabelled offset) may fall on the next or previous day of the site's own; when the byline or
dateline shows that neighbouring day (or the URL does, for a time in UTC), readers saw that one, so
it is taken — the page's own words, still no conversion. The same holds for the update day.
The fetch time is never a date.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date as _date
from enum import Enum
from typing import Any

from . import jsonld

# Part of every content fingerprint (index.ingest.load.file_digest): raise it whenever the way dates are
# read changes, so the next sync or re-ingest re-reads pages whose bytes did not change.
READER_VERSION = "dates-2"


class DateSource(str, Enum):
    """Where a date came from, in order of trust (the declaration order is the rank)."""

    JSON_LD = "json-ld"
    META = "meta"
    MICRODATA = "microdata"
    BYLINE_TIME = "byline-time"
    URL = "url"
    DATELINE = "dateline"
    DOCUMENT = "document"
    FEED_PUBLISHED = "feed-published"
    PAGE_TEXT = "page-text"
    FEED_UPDATED = "feed-updated"
    SITEMAP_LASTMOD = "sitemap-lastmod"
    HTTP_LAST_MODIFIED = "http-last-modified"
    COPYRIGHT_YEAR = "copyright-year"

    @property
    def rank(self) -> int:
        """0 for the most trusted source."""
        return list(DateSource).index(self)

    @property
    def estimated(self) -> bool:
        """Whether a date from here is a stand-in (the page states no publication date)."""
        return self.rank >= DateSource.PAGE_TEXT.rank


@dataclass(frozen=True)
class PageDates:
    """The publication day, the update day (when the page gives a later one) and where the first came from."""

    published: str | None = None
    updated: str | None = None
    source: DateSource | None = None

    @property
    def estimated(self) -> bool:
        """True when the date is a stand-in from outside the article."""
        return self.source is not None and self.source.estimated

    def fields(self) -> dict[str, Any]:
        """The Article fields this reading fills: date, updated, date_source, date_estimated."""
        return {"date": self.published, "updated": self.updated,
                "date_source": self.source.value if self.source else None, "date_estimated": self.estimated}


def with_outside(date: str | None, updated: str | None, source: str | None, feed_published: str | None,
                 outside: Sequence[Candidate] = ()) -> dict[str, Any]:
    """An article's date fields after what its feed entry, sitemap or server says about it (which
    counts only where it outranks the page's own reading; see the order of trust above)."""
    page = PageDates(date, updated, DateSource(source) if source else None)
    return combine(page, [Candidate(DateSource.FEED_PUBLISHED, feed_published), *outside]).fields()


# --- one value → the day written in it ------------------------------------------------------------

_MONTHS = {m: i for i, names in enumerate((
    ("jan", "january", "janvier", "januar", "enero", "gennaio", "janeiro"),
    ("feb", "february", "février", "fevrier", "februar", "febrero", "febbraio", "fevereiro"),
    ("mar", "march", "mars", "märz", "marz", "marzo", "março", "marco"),
    ("apr", "april", "avril", "abril", "aprile"),
    ("may", "mai", "mayo", "maggio", "maio"),
    ("jun", "june", "juin", "juni", "junio", "giugno", "junho"),
    ("jul", "july", "juillet", "juli", "julio", "luglio", "julho"),
    ("aug", "august", "août", "aout", "agosto"),
    ("sep", "sept", "september", "septembre", "septiembre", "settembre", "setembro"),
    ("oct", "october", "octobre", "oktober", "octubre", "ottobre", "outubro"),
    ("nov", "november", "novembre", "noviembre", "novembro"),
    ("dec", "december", "décembre", "decembre", "dezember", "diciembre", "dicembre", "dezembro"),
), 1) for m in names}
_MONTH = r"([A-Za-zÀ-ÿ]{3,9})\.?"
_YEAR = r"((?:19|20)\d\d)"
_ISO = re.compile(r"^\s*" + _YEAR + r"-(\d\d)-(\d\d)(?:[T ](\d\d):(\d\d)(?::\d\d(?:\.\d+)?)?\s*(Z|UTC|GMT|[+-]\d\d:?\d\d)?)?", re.I)
_COMPACT = re.compile(r"^\s*" + _YEAR + r"(\d\d)(\d\d)(?:T|\s|$)")
_SLASHED = re.compile(r"^\s*" + _YEAR + r"/(\d\d?)/(\d\d?)(?!\d)")
_US = re.compile(r"^\s*(\d\d?)/(\d\d?)/" + _YEAR)  # 11/18/2019, as US news sites print it
_DOTTED = re.compile(r"(?<![\d.])(\d\d?)\.(\d\d?)\." + _YEAR + r"(?!\d)")  # 18.11.2019: day first
_DMY = re.compile(r"(?<!\d)(\d\d?)(?:st|nd|rd|th)?\.?\s+(?:de\s+)?" + _MONTH + r",?\s+(?:de\s+)?" + _YEAR + r"(?!\d)", re.I)
_MDY = re.compile(_MONTH + r"\s+(\d\d?)(?:st|nd|rd|th)?,?\s+" + _YEAR + r"(?!\d)", re.I)
_URL_DATE = re.compile(r"[/_-]" + _YEAR + r"[/_-]?([01]\d)[/_-]?([0-3]\d)(?:/|[_-]|\.html?|$)")
_UTC = re.compile(r"(Z|UTC|GMT|[+-]00:?00)\s*$", re.I)


def valid_day(y: str | int, m: str | int, d: str | int) -> str | None:
    """'YYYY-MM-DD' when it is a real calendar day, else None."""
    try:
        return _date(int(y), int(m), int(d)).isoformat()
    except ValueError:
        return None


def day_as_written(value: object) -> str | None:
    """The calendar day a date value states, in its own time zone: never converted.

    Reads ISO 8601 (with or without time and offset), 20191118, 2019/11/18, 11/18/2019 (US),
    18.11.2019 (day first), '18 November 2019', 'Nov. 18, 2019' and RFC 822 ('Fri, 06 Dec 2024
    20:15:00 -0500', as feeds and HTTP headers write it). None when there is no day in it.
    """
    if value is None:
        return None
    s = str(value).strip().strip("'\"")
    if not s:
        return None
    for rx in (_ISO, _COMPACT, _SLASHED):
        m = rx.match(s)
        if m:
            return valid_day(*m.groups()[:3])
    m = _US.match(s)
    if m:
        return valid_day(m.group(3), m.group(1), m.group(2))
    m = _DOTTED.search(s)
    if m:
        return valid_day(m.group(3), m.group(2), m.group(1))
    m = _DMY.search(s)
    if m and m.group(2).lower() in _MONTHS:
        return valid_day(m.group(3), _MONTHS[m.group(2).lower()], m.group(1))
    m = _MDY.search(s)
    if m and m.group(1).lower() in _MONTHS:
        return valid_day(m.group(3), _MONTHS[m.group(1).lower()], m.group(2))
    return None


def _in_utc(value: object) -> bool:
    """Whether a value carries a time given in UTC (so the site's own day may be the next or previous)."""
    s = str(value or "").strip()
    return bool(re.search(r"\d\d:\d\d", s)) and bool(_UTC.search(s))


def url_day(url: str | None) -> str | None:
    """The day in an article's address (/2019/11/18/, /20191118-…), if any."""
    m = _URL_DATE.search(url or "")
    return valid_day(*m.groups()) if m else None


# --- choosing -----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Candidate:
    """One date a page, feed, sitemap or server states: its source, the raw value, and whether it is an update."""

    source: DateSource
    value: object
    updated: bool = False


def choose(candidates: Iterable[Candidate], url: str | None = None) -> PageDates:
    """The most trusted publication day, the most trusted update day (only when later), and the source."""
    cands = sorted((c for c in candidates if day_as_written(c.value)), key=lambda c: c.source.rank)
    pub = next((c for c in cands if not c.updated), None)
    upd = next((c for c in cands if c.updated and not c.source.estimated), None)
    published = day_as_written(pub.value) if pub else None
    source = pub.source if pub else None
    if pub is not None and source is not None and source.rank < DateSource.BYLINE_TIME.rank:
        published, source = _as_shown(pub, cands, published, source)
    if source is not None and source.estimated and upd is not None:
        # The page states an update but no publication: a stand-in from outside would be a guess
        # where the page did say something; the date stays unknown and the update is shown as such.
        published, source, pub = None, None, None
    updated = day_as_written(upd.value) if upd else None
    if upd is not None and upd.source.rank < DateSource.BYLINE_TIME.rank:
        updated = _as_shown(upd, cands, updated, upd.source)[0]
    stated_day = day_as_written(pub.value) if pub else None  # before the local-day refinement
    if updated and published and stated_day and updated <= max(published, stated_day):
        updated = None  # an update on the day of publication (or before it) tells the reader nothing
    return PageDates(published, updated, source)


def _as_shown(c: Candidate, cands: Sequence[Candidate], day: str | None, source: DateSource
              ) -> tuple[str | None, DateSource]:
    """A metadata day next to the day the page shows (its byline or dateline; its URL when the
    metadata's time is in UTC) is a time-zone artefact: readers saw the shown one, so it is taken."""
    shown = (DateSource.BYLINE_TIME, DateSource.DATELINE) + ((DateSource.URL,) if _in_utc(c.value) else ())
    # The most trusted shown day only: a byline that agrees with the metadata settles it.
    near = next(((day_as_written(o.value), o.source) for o in cands if o.updated == c.updated
                 and o.source in shown), None)
    if day and near is not None and near[0] and abs((_date.fromisoformat(near[0]) - _date.fromisoformat(day)).days) == 1:
        return near
    return day, source


def combine(page: PageDates, outside: Sequence[Candidate]) -> PageDates:
    """The page's own reading, with dates from outside it (feed, sitemap, server) where they rank higher."""
    cands: list[Candidate] = []  # the page's own first: on a tie of rank it wins
    if page.published and page.source is not None and page.source is not DateSource.COPYRIGHT_YEAR:
        cands.append(Candidate(page.source, page.published))
    if page.updated:
        cands.append(Candidate(DateSource.META, page.updated, updated=True))
    cands += outside
    out = choose(cands)
    if out.published is None and page.source is DateSource.COPYRIGHT_YEAR:
        return PageDates(page.published, out.updated, page.source)
    return out


# --- reading an HTML page ---------------------------------------------------------------------------

_PUBLISHED_META = ("article:published_time", "og:published_time", "og:article:published_time", "datepublished",
                   "article.published", "publishdate", "publish-date", "publish_date", "pubdate", "dc.date.issued",
                   "dcterms.issued", "dcterms.created", "dc.date.created", "sailthru.date", "parsely-pub-date",
                   "cxenseparse:recs:publishtime", "date", "dc.date", "citation_publication_date",
                   "citation_date", "originalpublicationdate")
_UPDATED_META = ("article:modified_time", "og:updated_time", "og:article:modified_time", "datemodified",
                 "article.updated", "lastmod", "last-modified", "dcterms.modified", "dc.date.modified",
                 "revised", "modified")
# Ancestors whose dates are not the article's: comments, rails, teasers, footers, navigation.
_OUTSIDE = re.compile(r"comment|related|recirc|(?<![a-z])rail|sidebar|widget|teaser|promo|more-|trending|popular|"
                      r"footer|newsletter|recommend|outbrain|taboola|reply|disqus|media-list|story-list|"
                      r"breadcrumb", re.I)
_OUTSIDE_TAGS = {"aside", "footer", "nav", "form"}
_BYLINE = re.compile(r"byline|dateline|date|time|publish|posted|post-meta|entry-meta|article-meta|"
                     r"meta|timestamp|author|header|info|credit", re.I)
_UPDATE_WORDS = re.compile(r"\b(updated?|last\s+updated|modified|aktualisiert|actualizado|mis à jour|"
                           r"atualizado|aggiornato|revised)\b", re.I)
_PUBLISH_WORDS = re.compile(r"\b(published|posted|publié|veröffentlicht|publicado|pubblicato|on)\b", re.I)
_COPYRIGHT = re.compile(r"(?:©|&copy;|\(c\)|copyright)\s*(?:\d{4}\s*[-–]\s*)?((?:19|20)\d\d)", re.I)


def _tag(el: Any) -> str:
    return el.tag.lower() if isinstance(el.tag, str) else ""


def _outside_article(el: Any) -> bool:
    """Whether the element sits in a comment, rail, teaser, footer or menu (its dates are not the article's).

    Teasers are told by their container's class, by a link around the date (a story elsewhere) and
    by an `<article>` with `<article>` siblings (one of a list of stories).
    """
    for a in [el, *el.iterancestors()]:
        tag = _tag(a)
        if tag in ("body", "html"):
            return False
        if tag in _OUTSIDE_TAGS or (tag == "a" and a is not el):
            return True
        marks = re.sub(r"\bno-[\w-]+", "", f"{a.get('class') or ''} {a.get('id') or ''}")  # "header--no-promo"
        if _OUTSIDE.search(marks) or "Comment" in (a.get("itemtype") or ""):
            return True
        parent = a.getparent()
        if tag == "article" and parent is not None and sum(_tag(c) == "article" for c in parent) > 1:
            return True
    return False


def _first(v: object) -> object:
    return v[0] if isinstance(v, list) and v else v


def _json_ld(tree: Any) -> list[Candidate]:
    objs = [o for o in jsonld.objects(tree) if jsonld.ld_type(o) in jsonld.ARTICLE_TYPES]
    # The article itself before a WebPage wrapper around it.
    objs.sort(key=lambda o: jsonld.ld_type(o) == "webpage")
    out: list[Candidate] = []
    for o in objs:
        out.append(Candidate(DateSource.JSON_LD, _first(o.get("datePublished") or o.get("dateCreated"))))
        out.append(Candidate(DateSource.JSON_LD, _first(o.get("dateModified")), updated=True))
        if any(day_as_written(c.value) for c in out):
            break  # the first object that dates itself is the article; the rest may be other stories
    return out


def _meta(tree: Any) -> list[Candidate]:
    props: dict[str, str] = {}
    for m in tree.iter("meta"):
        key = (m.get("property") or m.get("name") or m.get("itemprop") or m.get("http-equiv") or "").strip().lower()
        value = (m.get("content") or "").strip()
        if key and value and key not in props and not (m.get("itemprop") and _outside_article(m)):
            props[key] = value
    out = [Candidate(DateSource.META, props[k]) for k in _PUBLISHED_META if k in props]
    out += [Candidate(DateSource.META, props[k], updated=True) for k in _UPDATED_META if k in props]
    return out


def _value_of(el: Any) -> str:
    """An element's date: the day its words show readers when they name one (its machine-readable
    attribute is often in UTC, with or without saying so), else that attribute."""
    shown = " ".join(el.text_content().split())[:100]
    if day_as_written(shown):
        return shown
    return str(el.get("datetime") or el.get("content") or el.get("title") or shown)


def _microdata(tree: Any) -> list[Candidate]:
    out: list[Candidate] = []
    for prop, updated in (("datePublished", False), ("dateCreated", False), ("dateModified", True)):
        for el in tree.xpath(f'//*[@itemprop="{prop}"]'):
            if _tag(el) != "meta" and not _outside_article(el):  # <meta itemprop> is read with the other metas
                out.append(Candidate(DateSource.MICRODATA, _value_of(el), updated=updated))
                break
    return out


def _is_update(el: Any) -> bool:
    """A <time> or line that says when the article was updated, not published."""
    marks = f"{el.get('class') or ''} {el.get('id') or ''} {el.get('itemprop') or ''}"
    if re.search(r"updat|modif", marks, re.I):
        return True
    if re.search(r"publish|pubdate|posted|created", marks, re.I) or el.get("pubdate") is not None:
        return False
    # The words just before it: the previous sibling's tail, else its parent's opening text.
    prev, parent = el.getprevious(), el.getparent()
    lead = (prev.tail or "") if prev is not None else ((parent.text or "") if parent is not None else "")
    return bool(_UPDATE_WORDS.search(lead[-40:]))


def _byline_times(tree: Any) -> list[Candidate]:
    """`<time>` elements of the article (first published one, first updated one), not of rails or comments."""
    times = [t for t in tree.iter("time") if not _outside_article(t)]
    in_article = [t for t in times if any(_tag(a) in ("article", "main") for a in t.iterancestors())]
    in_byline = [t for t in times if any(_BYLINE.search(f"{a.get('class') or ''} {a.get('id') or ''}")
                                         for a in [t, *list(t.iterancestors())[:4]])]
    out: list[Candidate] = []
    for t in in_article or in_byline:
        c = Candidate(DateSource.BYLINE_TIME, _value_of(t), updated=_is_update(t))
        if day_as_written(c.value) and not any(o.updated == c.updated for o in out):
            out.append(c)
    return out


def _datelines(tree: Any, h1_text: set[str]) -> list[Candidate]:
    """Visible "Published …" / "Updated …" lines in small byline-like elements."""
    out: list[Candidate] = []
    seen_pub = seen_upd = False
    for el in tree.iter("span", "div", "p", "li", "small", "em", "dd", "abbr"):
        marks = f"{el.get('class') or ''} {el.get('id') or ''}"
        if not _BYLINE.search(marks) or _outside_article(el):
            continue
        text = " ".join(el.text_content().split())
        if not text or len(text) > 160 or text in h1_text:
            continue
        # Split "Published 6 Dec 2024 · Updated 9 Dec 2024" into its two statements.
        parts = re.split(r"(?=\b(?:updated?|modified|aktualisiert|actualizado|published|posted)\b)", text, flags=re.I)
        for part in parts:
            day = day_as_written(_after_label(part))
            if not day:
                continue
            upd = bool(_UPDATE_WORDS.search(part[:40]))
            if upd and not seen_upd:
                out.append(Candidate(DateSource.DATELINE, day, updated=True))
                seen_upd = True
            elif not upd and not seen_pub:
                out.append(Candidate(DateSource.DATELINE, day))
                seen_pub = True
        if seen_pub and seen_upd:
            break
    return out


def _after_label(part: str) -> str:
    """The text after 'Published:' / 'Updated on' and the like, where the date starts."""
    return re.sub(r"^.*?\b(?:published|posted|updated?|last updated|modified|on)\b[:\s]*", "", part, count=1, flags=re.I) \
        if re.search(r"\b(published|posted|updated?|modified)\b", part, re.I) else part


def copyright_years(tree: Any) -> list[str]:
    """The years of the page's "© 2019–2023" lines (both ends of a range)."""
    text = " ".join(tree.text_content().split())
    return [y for m in _COPYRIGHT.finditer(text) for y in re.findall(r"(?:19|20)\d\d", m.group(0))]


def read_html_dates(tree: Any, url: str | None = None, *, guess: object = None) -> PageDates:
    """The dates an HTML page (an lxml tree) states for its article, by the order of trust above.

    `url` is the article's own address; `guess` a date found elsewhere in its text (trafilatura's),
    used — marked estimated — only when the page states none.
    """
    h1s = {" ".join(h.text_content().split()) for h in tree.iter("h1")}
    cands = [*_json_ld(tree), *_meta(tree), *_microdata(tree), *_byline_times(tree)]
    day = url_day(url)
    if day:
        cands.append(Candidate(DateSource.URL, day))
    cands += _datelines(tree, h1s)
    years = copyright_years(tree)
    guessed = day_as_written(guess)
    if not (guessed and guessed.endswith("-01-01") and guessed[:4] in years):  # "© 2019" is no 1 January
        cands.append(Candidate(DateSource.PAGE_TEXT, guess))
    dates = choose(cands)
    if dates.published is None and dates.updated is None and years:
        return PageDates(max(years), None, DateSource.COPYRIGHT_YEAR)
    return dates


def settle(reading: str | PageDates | None, name_day: str | None) -> PageDates:
    """A reader's date (a plain day from a file's own metadata, or an HTML page's reading) with the
    day in the file's name (or the fetched page's address) as a `document` candidate."""
    dates = reading if isinstance(reading, PageDates) else PageDates(reading, None, DateSource.DOCUMENT if reading else None)
    return combine(dates, [Candidate(DateSource.DOCUMENT, name_day)]) if name_day else dates


def fingerprint(content_digest: str) -> str:
    """The change fingerprint of a page: its content hash and the date reader's version, so that a
    page whose only change is how its date is read counts as changed (and is re-read) once."""
    return f"{content_digest}+{READER_VERSION}"


def read_by_this_version(stored: str | None) -> bool:
    """Whether a stored fingerprint was made by this date reader (else the page's date is read again)."""
    return (stored or "").endswith(fingerprint(""))
