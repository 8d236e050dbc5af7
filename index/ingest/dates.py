"""The date a page shows its readers: the day it states for its publication, in its own time zone.

Pure functions over what a page, a feed, a sitemap or a server says (issue 24). Every candidate
date is read as the calendar day written in it (`meta.day_as_written`) — `2024-12-06T20:15:00-05:00`
is 2024-12-06, never converted to UTC (which would make it the 7th) — and a date without a time
stays as written.

Order of trust (`DateSource`, most trusted first). A publication date always wins over an update
date; an update is kept as `updated`, never given as the date.

  Stated by the article itself:
   1. json-ld          the article's JSON-LD `datePublished` (else `dateCreated`)
   2. meta             `article:published_time`, `og:published_time`, `pubdate`, `dc.date.issued`…
   3. microdata        an element with `itemprop="datePublished"`
   4. byline-time      a `<time>` in the article's byline (not in comments, rails, footers)
   5. url              /2024/12/06/ in the article's own address
   6. dateline         a visible "Published December 6, 2024" / "Date 10.06.2013" line, near the headline first
   7. title            a day in the page's own `<title>` or `og:title` ("… | 10.06.2013")
   8. document         a date a file states for itself: front matter, PDF creation date, file name
   9. feed-published   the publisher's feed entry `pubDate` / `published`, outside the page
  Estimated — used only when nothing above gives a date, and marked `date_estimated`:
  10. page-text        a date found elsewhere in the page's text (trafilatura's guess)
  11. feed-updated     the feed entry's `updated`
  12. sitemap-lastmod  the sitemap's `<lastmod>`
  13. http-last-modified  the server's `Last-Modified`
  14. copyright-year   only a "© 2023" line: the year alone

A date in a comment, a teaser, a list of related stories, a rail, a footer or a menu is never the
article's: no rung reads one (issue 30).

When the page's own statements of 1–3 name different days, the visible byline (else the dateline,
else the title) breaks the tie: the statement it agrees with wins, and `date_source` names that one.

One more refinement of 1–3: metadata written in another zone than the page shows (a time in UTC,
or a mislabelled offset) may fall on the next or previous day of the site's own; when the byline or
dateline shows that neighbouring day (or the URL does, for a time in UTC), readers saw that one, so
it is taken — the page's own words, still no conversion. The same holds for the update day.
The fetch time is never a date.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date as _date
from enum import Enum
from typing import Any

from . import jsonld
from .meta import copyright_years, day_in_text, day_shown, in_utc, norm_words, site_of, url_day
from .meta import day_as_written as day_as_written  # re-exported: listings and tests read values here
from .meta import valid_day as valid_day  # re-exported for the PDF reader

# Part of every content fingerprint (index.ingest.load.file_digest): raise it whenever the way dates are
# read changes, so the next sync or re-ingest re-reads pages whose bytes did not change.
READER_VERSION = "dates-3"


class DateSource(str, Enum):
    """Where a date came from, in order of trust (the declaration order is the rank)."""

    JSON_LD = "json-ld"
    META = "meta"
    MICRODATA = "microdata"
    BYLINE_TIME = "byline-time"
    URL = "url"
    DATELINE = "dateline"
    TITLE = "title"
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
    if pub is not None and pub.source.rank < DateSource.BYLINE_TIME.rank:
        pub = _tie_broken(pub, cands)
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
    # The publication day as the page's statements write it, before the local-day refinement (a UTC
    # time may name the next day); one that names another day altogether is no publication of this.
    stated = [d for c in cands if c is pub or (pub and not c.updated and c.source.rank < DateSource.BYLINE_TIME.rank)
              for d in [day_as_written(c.value)] if d and published and _days(d, published) <= 1]
    if updated and published and updated <= max([published, *stated]):
        updated = None  # an update on the day of publication (or before it) tells the reader nothing
    return PageDates(published, updated, source)


_SHOWN = (DateSource.BYLINE_TIME, DateSource.DATELINE, DateSource.TITLE)


def _tie_broken(pub: Candidate, cands: Sequence[Candidate]) -> Candidate:
    """Of the page's own statements (JSON-LD, meta, microdata) that name different days, the one
    the page shows its readers (its byline, else its dateline, else its title); else the most trusted."""
    stated = [c for c in cands if not c.updated and c.source.rank < DateSource.BYLINE_TIME.rank]
    if len({day_as_written(c.value) for c in stated}) < 2:
        return pub
    shown = next((day_as_written(c.value) for c in cands if not c.updated and c.source in _SHOWN), None)
    return next((c for c in stated if day_as_written(c.value) == shown), pub)


def _as_shown(c: Candidate, cands: Sequence[Candidate], day: str | None, source: DateSource
              ) -> tuple[str | None, DateSource]:
    """A metadata day next to the day the page shows (its byline or dateline; its URL when the
    metadata's time is in UTC) is a time-zone artefact: readers saw the shown one, so it is taken."""
    shown = (DateSource.BYLINE_TIME, DateSource.DATELINE) + ((DateSource.URL,) if in_utc(c.value) else ())
    # The most trusted shown day only: a byline that agrees with the metadata settles it.
    near = next(((day_as_written(o.value), o.source) for o in cands if o.updated == c.updated
                 and o.source in shown), None)
    if day and near is not None and near[0] and _days(near[0], day) == 1:
        return near
    return day, source


def _days(a: str, b: str) -> int:
    return abs((_date.fromisoformat(a) - _date.fromisoformat(b)).days)


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
# "Date 10.06.2013" in an info box, "Written by … on …" in a byline without a telling class.
_LABEL = re.compile(r"(?:date|published|posted|first published|(?:written\s+)?by|datum|fecha|publié|veröffentlicht|"
                    r"publicado|pubblicato)\b", re.I)
_HEADINGS = ("h2", "h3", "h4", "h5", "h6")
_NOT_A_STORY = re.compile(r"author|profile|contributor|staff|people|share|social|comment|\btag|e-?mail", re.I)


def _tag(el: Any) -> str:
    return el.tag.lower() if isinstance(el.tag, str) else ""


@dataclass(frozen=True)
class _Page:
    """An HTML page and what tells its own parts from others': its title words and the blocks around its headline."""

    tree: Any
    titles: tuple[str, ...]  # its <title>, og:title and twitter:title as written
    own: str  # the page's <title>, og:title and <h1>s, normalised, joined by "|"
    h1s: frozenset[str]
    headers: tuple[Any, ...]  # the small blocks around the headline (up to three levels): its header
    site: str  # the page's own site ("example.org"), from its canonical address; "" when it names none
    above: tuple[Any, ...] = ()  # every block that holds the headline: the page itself, whatever its class
    elsewhere: set[str] = field(default_factory=set)  # days shown only outside the article (teasers, comments)

    @classmethod
    def of(cls, tree: Any) -> _Page:
        """The page's own title words, site and headline blocks."""
        metas = {(m.get("property") or m.get("name") or "").lower(): m.get("content") or "" for m in tree.iter("meta")}
        titles = [t.text_content() for t in tree.iter("title")][:1] + [metas.get("og:title", ""), metas.get("twitter:title", "")]
        h1s = [h for h in tree.iter("h1") if len(h.text_content().split()) >= 2]
        own = "|".join(norm_words(t) for t in [*titles, *(h.text_content() for h in h1s)] if t)
        address = next((ln.get("href") for ln in tree.iter("link") if "canonical" in (ln.get("rel") or "").lower()), None)
        page = cls(tree, tuple(" ".join(t.split()) for t in titles if t), own,
                   frozenset(" ".join(h.text_content().split()) for h in tree.iter("h1")), (),
                   site_of(address or metas.get("og:url") or ""))
        headers: list[Any] = []
        # The headline is the <h1> the page's title repeats (a short logo <h1> in a masthead is not); its
        # header is the blocks around it, up to the first that holds another story or the article's body.
        named = [h for h in h1s if norm_words(h.text_content()) in "|".join(norm_words(t) for t in titles)] or h1s[:len(h1s) == 1]
        for h in h1s:
            if h in named or len(h.text_content().split()) >= 4:
                for a in list(h.iterancestors())[:3]:
                    if _tag(a) in ("body", "html") or len(a.text_content()) > 1000 or any(map(page._story_link, a.iter("a"))):
                        break
                    headers.append(a)
        return replace(page, headers=tuple(headers), above=tuple(a for h in named[:1] for a in h.iterancestors()))

    def closeness(self, el: Any) -> int:
        """0 for an element beside the headline, 1 inside <article>/<main>, 2 elsewhere."""
        ancestors = list(el.iterancestors())
        if any(a in self.headers for a in ancestors):
            return 0
        return 1 if any(_tag(a) in ("article", "main") for a in ancestors) else 2

    def outside_article(self, el: Any) -> bool:
        """Whether the element sits in a comment, teaser, rail, footer or menu (its dates are not the article's).

        Teasers are told by their container's class, by a link around the date (a story elsewhere),
        by an `<article>` with `<article>` siblings (one of a list of stories), and by a small block
        around the date that links to another story by its headline (`_in_teaser`). A block that holds
        the headline is the article's, whatever its class (a "sidebar" layout, an ASP.NET <form>).
        """
        for a in [el, *el.iterancestors()]:
            tag = _tag(a)
            if tag in ("body", "html") or a in self.above:
                break
            if tag in _OUTSIDE_TAGS or (tag == "a" and a is not el):
                return True
            marks = re.sub(r"\bno-[\w-]+", "", f"{a.get('class') or ''} {a.get('id') or ''}")  # "header--no-promo"
            if _OUTSIDE.search(marks) or "Comment" in (a.get("itemtype") or ""):
                return True
            parent = a.getparent()
            if tag == "article" and parent is not None and sum(_tag(c) == "article" for c in parent) > 1:
                return True
        return self._in_teaser(el)

    def _in_teaser(self, el: Any) -> bool:
        """A date in a small block (up to five levels up, short of the headline's) that also holds a
        link to another story by its headline (a long link only in one of a run of like blocks):
        a teaser card, whatever the site calls its rail."""
        chain = [el, *el.iterancestors()]
        if any(a in self.headers for a in chain):
            return False  # the headline's own header: its byline may link to its author's profile
        for depth, a in enumerate(chain):
            if depth > 5 or _tag(a) in ("body", "html", "main") or a.find(".//h1") is not None:
                return False
            if len(a.text_content()) > 600:  # a column or the article's body, no card any more
                return False
            kinds = {self._story_link(x) for x in a.iter("a")}
            if 2 in kinds or (1 in kinds and _repeated(a)):
                return True
        return False

    def _story_link(self, a: Any) -> int:
        """2 for a link to another story by its headline in (or around) a heading, 1 for one of five
        words and more (a headline, or a byline naming two authors), else 0."""
        href = (a.get("href") or "").strip()
        if not href or href.startswith(("#", "javascript:", "mailto:")):
            return 0
        if _NOT_A_STORY.search(f"{a.get('class') or ''} {a.get('rel') or ''} {href}"):
            return 0
        if self.site and re.match(r"(https?:)?//", href) and site_of(href) != self.site:
            return 0  # another site's page: a profile, a share button, a partner
        text = norm_words(a.text_content())
        if len(text.split()) < 2 or text in self.own:  # the page's own headline, linked to itself
            return 0
        if any(_tag(x) in _HEADINGS for x in list(a.iterancestors())[:3]) or next(a.iter(*_HEADINGS), None) is not None:
            return 2
        return 1 if len(text.split()) >= 5 else 0


def _repeated(block: Any) -> bool:
    """Whether a block is one of a run of like blocks (same tag and class) that each hold a link: a list."""
    parent = block.getparent()
    return parent is not None and sum(c.tag == block.tag and c.get("class") == block.get("class")
                                      and c.find(".//a[@href]") is not None for c in parent) > 1


def _json_ld(page: _Page) -> list[Candidate]:
    nodes = jsonld.article_nodes(jsonld.objects(page.tree))
    # The node whose headline is the page's own before others (another story the page describes).
    nodes.sort(key=lambda o: (norm_words(str(jsonld.value(o.get("headline")) or "")) or "\0") not in page.own)
    out: list[Candidate] = []
    for o in nodes:
        out.append(Candidate(DateSource.JSON_LD, jsonld.value(o.get("datePublished")) or jsonld.value(o.get("dateCreated"))))
        out.append(Candidate(DateSource.JSON_LD, jsonld.value(o.get("dateModified")), updated=True))
        if any(day_as_written(c.value) for c in out):
            break  # the first object that dates itself is the article; the rest may be other stories
    return out


def _meta(page: _Page) -> list[Candidate]:
    props: dict[str, str] = {}
    for m in page.tree.iter("meta"):
        key = (m.get("property") or m.get("name") or m.get("itemprop") or m.get("http-equiv") or "").strip().lower()
        value = (m.get("content") or "").strip()
        if key and value and key not in props and not (m.get("itemprop") and page.outside_article(m)):
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
    machine = str(el.get("datetime") or el.get("content") or el.get("title") or shown)
    return day_shown(shown, machine) or machine  # "Posted Nov 18, 8:19 PM" beside 2019-11-19T01:19Z


def _microdata(page: _Page) -> list[Candidate]:
    out: list[Candidate] = []
    for prop, updated in (("datePublished", False), ("dateCreated", False), ("dateModified", True)):
        for el in page.tree.xpath(f'//*[@itemprop="{prop}"]'):
            if _tag(el) != "meta" and not page.outside_article(el):  # <meta itemprop> is read with the other metas
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
    if _UPDATE_WORDS.match(el.text_content().strip()):  # <time>Updated Nov 19, 9:41 AM</time>
        return True
    # The words just before it: the previous sibling's tail, else its parent's opening text.
    prev, parent = el.getprevious(), el.getparent()
    lead = (prev.tail or "") if prev is not None else ((parent.text or "") if parent is not None else "")
    return bool(_UPDATE_WORDS.search(lead[-40:]))


def _byline_times(page: _Page) -> list[Candidate]:
    """`<time>` elements of the article (first published one, first updated one), not of rails or
    comments; those beside the headline first."""
    times = []
    for t in page.tree.iter("time"):
        if not page.outside_article(t):
            times.append(t)
        elif day_as_written(_value_of(t)):
            page.elsewhere.add(str(day_as_written(_value_of(t))))
    in_article = [t for t in times if any(_tag(a) in ("article", "main") for a in t.iterancestors())]
    in_byline = [t for t in times if any(_BYLINE.search(f"{a.get('class') or ''} {a.get('id') or ''}")
                                         for a in [t, *list(t.iterancestors())[:4]])]
    out: list[Candidate] = []
    for t in sorted(in_article or in_byline, key=page.closeness):
        c = Candidate(DateSource.BYLINE_TIME, _value_of(t), updated=_is_update(t))
        if day_as_written(c.value) and not any(o.updated == c.updated for o in out):
            out.append(c)
    return out


def _datelines(page: _Page) -> list[Candidate]:
    """Visible "Published …" / "Updated …" / "Date …" lines in small byline-like elements, those
    beside the headline first."""
    found: list[tuple[int, Candidate]] = []
    for el in page.tree.iter("span", "div", "p", "li", "small", "em", "dd", "abbr"):
        marks = f"{el.get('class') or ''} {el.get('id') or ''}"
        lead = ((el.text or "") + (el[0].text or "" if len(el) and isinstance(el[0].tag, str) else "")).strip()
        if not (_BYLINE.search(marks) or _LABEL.match(lead)):
            continue
        text = " ".join(el.text_content().split())
        if not text or len(text) > 160 or text in page.h1s:
            continue
        # Split "Published 6 Dec 2024 · Updated 9 Dec 2024" into its two statements.
        parts = re.split(r"(?=\b(?:updated?|modified|aktualisiert|actualizado|published|posted)\b)", text, flags=re.I)
        here = [Candidate(DateSource.DATELINE, day, updated=bool(_UPDATE_WORDS.search(part[:40])))
                for part in parts for day in [day_as_written(_after_label(part))] if day]
        if here and not page.outside_article(el):
            # Beside the headline first; there, a labelled byline before a date the story reports.
            found += [(page.closeness(el) * 2 + (not _LABEL.match(text)), c) for c in here]
        else:
            page.elsewhere.update(str(c.value) for c in here)
    out: list[Candidate] = []
    for _, c in sorted(found, key=lambda f: f[0]):
        if not any(o.updated == c.updated for o in out):
            out.append(c)
    return out


def _after_label(part: str) -> str:
    """The text after 'Published:' / 'Updated on' and the like, where the date starts."""
    return re.sub(r"^.*?\b(?:published|posted|updated?|last updated|modified|on)\b[:\s]*", "", part, count=1, flags=re.I) \
        if re.search(r"\b(published|posted|updated?|modified)\b", part, re.I) else part


def _titles(page: _Page) -> list[Candidate]:
    """The day the page's own <title> or og:title states ("Cranes return | DW | 10.06.2013")."""
    day = next((d for t in page.titles for d in [day_in_text(t)] if d), None)
    return [Candidate(DateSource.TITLE, day)] if day else []


def read_html_dates(tree: Any, url: str | None = None, *, guess: object = None) -> PageDates:
    """The dates an HTML page (an lxml tree) states for its article, by the order of trust above.

    `url` is the article's own address; `guess` a date found elsewhere in its text (trafilatura's),
    used — marked estimated — only when the page states none.
    """
    page = _Page.of(tree)
    cands = [*_json_ld(page), *_meta(page), *_microdata(page), *_byline_times(page)]
    day = url_day(url)
    if day:
        cands.append(Candidate(DateSource.URL, day))
    cands += _datelines(page) + _titles(page)
    years = copyright_years(tree)
    guessed = day_as_written(guess)
    # "© 2019" is no 1 January; a day the page shows only in a teaser or a comment is not the article's.
    if not (guessed and (guessed.endswith("-01-01") and guessed[:4] in years or guessed in page.elsewhere)):
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
