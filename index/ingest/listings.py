"""Feeds and sitemaps → the pages they list: parsing only, on bytes the fetcher (`web`) fetched.

Feeds are parsed by feedparser (RSS 0.9x/1.0/2.0 and Atom, dates and relative links handled);
sitemaps by lxml with entities and network access off. Neither ever fetches anything itself, so
every request goes through the fetcher's address, robots.txt and size checks.
"""
from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

from .dates import Candidate, DateSource, day_as_written
from .web import FetchError

MAX_SITEMAP_URLS = 50_000  # the sitemaps.org limit per file
MAX_LISTING_BYTES = 50 * 1024 * 1024


@dataclass(frozen=True)
class Page:
    """A page to fetch, with the title and dates its feed or sitemap gave for it (if any)."""

    url: str
    title: str | None = None
    date: str | None = None  # the feed entry's publication day, as written (no UTC conversion)
    updated: str | None = None  # the feed entry's `updated` day
    lastmod: str | None = None  # the sitemap's `<lastmod>` day

    def outside_dates(self, last_modified: str | None) -> tuple[Candidate, ...]:
        """Its listing's and server's dates: stand-ins only when the page itself states none."""
        return (Candidate(DateSource.FEED_UPDATED, self.updated), Candidate(DateSource.SITEMAP_LASTMOD, self.lastmod),
                Candidate(DateSource.HTTP_LAST_MODIFIED, last_modified))


def parse_feed(body: bytes, url: str) -> list[Page]:
    """Entries of an RSS or Atom feed: link (made absolute), title and date."""
    import feedparser

    # Bytes, never a str: feedparser would treat a string as a URL and fetch it by itself.
    d = feedparser.parse(bytes(body), response_headers={"content-location": url})
    if not d.entries and not d.get("version"):
        raise FetchError(f"{url}: not an RSS or Atom feed")
    pages: list[Page] = []
    for e in d.entries:
        link = e.get("link") or next((lk.get("href") for lk in e.get("links", []) if lk.get("href")), None)
        if not link:
            continue
        link = urljoin(url, str(link).strip())
        if urlsplit(link).scheme not in ("http", "https"):
            continue
        # The day as the feed writes it: feedparser's *_parsed are converted to UTC, which moves an
        # evening post west of Greenwich to the next day. An `updated` is kept apart, never the date.
        date = _feed_day(e, "published") or _feed_day(e, "created")
        title = " ".join(str(e.get("title") or "").split()) or None
        pages.append(Page(link, title, date, _feed_day(e, "updated")))
    return pages


def _feed_day(entry: Any, key: str) -> str | None:
    t = entry.get(f"{key}_parsed")
    return day_as_written(entry.get(key)) or (f"{t.tm_year:04d}-{t.tm_mon:02d}-{t.tm_mday:02d}" if t else None)


def parse_sitemap(body: bytes, url: str) -> tuple[list[Page], list[str]]:
    """(pages, sub-sitemaps) of a sitemap, sitemap index, gzipped sitemap or plain-text URL list."""
    from lxml import etree

    if body[:2] == b"\x1f\x8b":
        d = zlib.decompressobj(16 + zlib.MAX_WBITS)
        body = d.decompress(body, MAX_LISTING_BYTES)
        if d.unconsumed_tail:
            raise FetchError(f"{url}: the sitemap is over the {MAX_LISTING_BYTES // 1048576} MB limit unpacked")
    parser = etree.XMLParser(resolve_entities=False, no_network=True, recover=True, huge_tree=False)
    root = None
    if body.lstrip()[:1] == b"<":
        try:
            root = etree.fromstring(body.strip(), parser)
        except etree.XMLSyntaxError:
            root = None
    if root is None:
        lines = (ln.strip() for ln in body.decode("utf-8", errors="replace").splitlines())
        urls = [ln for ln in lines if ln.startswith(("http://", "https://"))][:MAX_SITEMAP_URLS]
        if not urls:
            raise FetchError(f"{url}: not a sitemap")
        return [Page(u) for u in urls], []

    def local(el: Any) -> str:
        return str(etree.QName(el).localname) if isinstance(el.tag, str) else ""

    def loc_of(el: Any) -> str | None:
        for child in el:
            if local(child) == "loc" and child.text and child.text.strip():
                return urljoin(url, str(child.text).strip())
        return None

    def lastmod_of(el: Any) -> str | None:
        return next((day_as_written(c.text) for c in el if local(c) == "lastmod" and c.text), None)

    kind = local(root)
    if kind not in ("urlset", "sitemapindex"):
        raise FetchError(f"{url}: not a sitemap (the XML's root is <{kind}>)")
    want = "url" if kind == "urlset" else "sitemap"
    entries = [(loc, el) for el in root if local(el) == want for loc in [loc_of(el)] if loc][:MAX_SITEMAP_URLS]
    entries = [(u, el) for u, el in entries if urlsplit(u).scheme in ("http", "https")]
    if kind == "urlset":
        return [Page(u, lastmod=lastmod_of(el)) for u, el in entries], []
    return [], [u for u, _ in entries]


