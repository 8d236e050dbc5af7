"""Issue 24: the date a page shows its readers — its publication day, in its own time zone.

Every page here is a small one written for these tests.
"""
from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import lxml.html
import pytest

from index.engine import Engine
from index.ingest import dates
from index.ingest.dates import Candidate, DateSource, PageDates, day_as_written, read_html_dates, with_outside
from index.ingest.listings import parse_feed, parse_sitemap
from index.ingest.load import html_to_article, load_bytes
from tests.helpers import HashEmbedder

BODY = ("<p>The Wexham ferry carried four hundred and six passengers on its first crossing of the year.</p>"
        "<p>Its captain, Ilse Marrow, has sailed the route for nineteen winters without a cancelled day.</p>")


def page(head: str = "", byline: str = "", extra: str = "") -> str:
    return (f"<html><head><title>Ferry season opens</title>{head}</head><body>"
            f"<nav><a href='/'>Home</a></nav><article><h1>Ferry season opens</h1>{byline}{BODY}</article>"
            f"{extra}</body></html>")


def read(html: str, url: str | None = None, guess: object = None) -> PageDates:
    return read_html_dates(lxml.html.fromstring(html), url, guess=guess)


# --- one value: the day written in it, never converted ---------------------------------------------

@pytest.mark.parametrize("value, day", [
    # Offsets both sides of midnight: UTC would be the next or the previous day; the page's is kept.
    ("2024-12-06T20:15:00-05:00", "2024-12-06"),  # 01:15 UTC on the 7th
    ("2024-12-06T23:59:59-11:00", "2024-12-06"),
    ("2024-12-07T01:15:00+09:00", "2024-12-07"),  # 16:15 UTC on the 6th
    ("2024-12-07T00:00:00+14:00", "2024-12-07"),
    ("2024-12-06T20:15:00Z", "2024-12-06"),
    ("2024-12-06T201500-0500", "2024-12-06"),
    ("Fri, 06 Dec 2024 20:15:00 -0500", "2024-12-06"),  # RFC 822: feeds and HTTP headers
    ("Sat, 07 Dec 2024 01:15:00 +0900", "2024-12-07"),
    ("2024-12-06", "2024-12-06"),  # a date without a time stays as written
    ("20241206", "2024-12-06"),
    ("2024/12/06", "2024-12-06"),
    ("12/06/2024", "2024-12-06"),  # US order
    ("06.12.2024", "2024-12-06"),  # day first
    ("December 6, 2024", "2024-12-06"),
    ("Dec. 6, 2024 8:15 pm ET", "2024-12-06"),
    ("6 December 2024", "2024-12-06"),
    ("Friday, 6th December 2024", "2024-12-06"),
    ("6 de diciembre de 2024", "2024-12-06"),
    ("2024-02-30", None),
    ("yesterday", None),
    ("", None),
])
def test_a_value_is_read_as_the_day_it_states(value: str, day: str | None) -> None:
    assert day_as_written(value) == day


@pytest.mark.parametrize("published, day", [
    ("2024-12-06T20:15:00-05:00", "2024-12-06"),
    ("2024-12-07T01:15:00+09:00", "2024-12-07"),
])
def test_a_page_is_dated_in_its_own_time_zone(published: str, day: str) -> None:
    d = read(page(f"<meta property='article:published_time' content='{published}'>"))
    assert (d.published, d.source) == (day, DateSource.META)


# --- published and modified, in every format: the publication is the date ---------------------------

PUB, MOD = "2024-03-04T09:00:00+01:00", "2024-05-20T17:30:00+01:00"
FORMATS = {
    # The update is written first each time: the order on the page must not matter.
    DateSource.JSON_LD: dict(head="<script type='application/ld+json'>" + json.dumps(
        {"@context": "https://schema.org", "@type": "NewsArticle", "headline": "Ferry season opens",
         "dateModified": MOD, "datePublished": PUB}) + "</script>"),
    DateSource.META: dict(head=f"<meta property='article:modified_time' content='{MOD}'>"
                               f"<meta property='og:updated_time' content='{MOD}'>"
                               f"<meta property='article:published_time' content='{PUB}'>"),
    DateSource.MICRODATA: dict(byline=f"<div itemscope itemtype='https://schema.org/Article'>"
                                      f"<span itemprop='dateModified' content='{MOD}'>20 May</span>"
                                      f"<span itemprop='datePublished' content='{PUB}'>4 March</span></div>"),
    DateSource.BYLINE_TIME: dict(byline=f"<div class='byline'>Last updated <time class='updated' datetime='{MOD}'>May 20"
                                        f"</time> · Published <time datetime='{PUB}'>March 4</time></div>"),
    DateSource.DATELINE: dict(byline="<p class='dateline'>Updated 20 May 2024 · Published 4 March 2024</p>"),
}


@pytest.mark.parametrize("source", list(FORMATS), ids=[s.value for s in FORMATS])
def test_publication_wins_over_modification_and_the_update_is_kept_apart(source: DateSource) -> None:
    d = read(page(**FORMATS[source]))
    assert d.published == "2024-03-04" and d.updated == "2024-05-20" and d.source is source
    assert not d.estimated


def test_the_order_of_trust_picks_json_ld_over_meta_over_the_url() -> None:
    html = page(FORMATS[DateSource.JSON_LD]["head"] + "<meta property='article:published_time' content='2024-03-05'>")
    assert read(html, "https://example.org/2024/03/06/ferry").source is DateSource.JSON_LD
    html = page("<meta property='article:published_time' content='2024-03-05T10:00:00+01:00'>")
    assert read(html, "https://example.org/2024/03/06/ferry").published == "2024-03-05"


def test_an_updated_line_alone_is_shown_as_the_update_never_as_the_date() -> None:
    d = read(page(byline="<div class='article-meta'>Updated: December 9, 2024</div>"),
             guess="2024-12-09", url=None)
    assert d.published is None and d.updated == "2024-12-09"


def test_an_update_on_the_day_of_publication_is_not_shown() -> None:
    d = read(page("<meta property='article:published_time' content='2024-03-04T09:00:00+01:00'>"
                  "<meta property='article:modified_time' content='2024-03-04T11:00:00+01:00'>"))
    assert (d.published, d.updated) == ("2024-03-04", None)


def test_a_utc_timestamp_gives_way_to_the_sites_own_day_in_its_url() -> None:
    # 02:34 UTC on the 19th is the evening of the 18th where the site is: its URL and byline say the 18th.
    head = "<meta property='article:published_time' content='2019-11-19T02:34:30Z'>"
    d = read(page(head), "https://example.org/2019/11/18/markets/")
    assert (d.published, d.source) == ("2019-11-18", DateSource.URL)
    d = read(page(head, byline="<span class='timestamp'><time datetime='2019-11-19T02:34:30Z'>"
                               "Nov. 18, 2019 9:34 pm ET</time></span>"))
    assert (d.published, d.source) == ("2019-11-18", DateSource.BYLINE_TIME)
    # A time in the site's own offset is the site's day: the URL does not override it.
    d = read(page("<meta property='article:published_time' content='2019-11-19T02:34:30+05:30'>"),
             "https://example.org/2019/11/18/markets/")
    assert (d.published, d.source) == ("2019-11-19", DateSource.META)


# --- dates from outside the article ------------------------------------------------------------------

OUTSIDE = ("<aside class='related'><article><a href='/a'>Older story</a><time datetime='2020-01-02'>2 Jan</time>"
           "</article></aside>"
           "<section id='comments'><div class='comment'>Great! <time datetime='2024-12-31T23:00:00Z'>Dec 31</time>"
           "</div></section><footer>© 2019–2023 Wexham Gazette. Posted in News.</footer>")


def test_comments_rails_and_footers_do_not_date_the_article() -> None:
    d = read(page(FORMATS[DateSource.META]["head"], extra=OUTSIDE))
    assert (d.published, d.updated, d.source) == ("2024-03-04", "2024-05-20", DateSource.META)


def test_a_page_with_only_a_copyright_year_gets_that_year_marked_estimated() -> None:
    only = page(extra="<footer>© 2019–2023 Wexham Gazette. All rights reserved.</footer>")
    d = read(only)
    assert (d.published, d.source, d.estimated) == ("2023", DateSource.COPYRIGHT_YEAR, True)
    a = load_bytes(only.encode(), "ferry.html")
    assert (a.date, a.date_source, a.date_estimated) == ("2023", "copyright-year", True)


def test_a_date_guessed_from_the_text_is_used_only_when_the_page_states_none() -> None:
    assert read(page(), guess="2024-02-01").source is DateSource.PAGE_TEXT
    assert read(page(FORMATS[DateSource.META]["head"]), guess="2024-02-01").published == "2024-03-04"


def test_feed_sitemap_and_server_dates_count_only_where_the_page_states_nothing() -> None:
    lastmods = (Candidate(DateSource.FEED_UPDATED, "2024-06-01T08:00:00-07:00"),
                Candidate(DateSource.SITEMAP_LASTMOD, "2024-06-02"),
                Candidate(DateSource.HTTP_LAST_MODIFIED, "Mon, 03 Jun 2024 10:00:00 GMT"))
    page_says = with_outside("2024-03-04", None, "meta", "2024-03-05", lastmods)
    assert page_says == {"date": "2024-03-04", "updated": None, "date_source": "meta", "date_estimated": False}
    feed_says = with_outside(None, None, None, "Mon, 04 Mar 2024 21:00:00 -0800", lastmods)
    assert (feed_says["date"], feed_says["date_source"], feed_says["date_estimated"]) == ("2024-03-04", "feed-published", False)
    nothing = with_outside(None, None, None, None, lastmods[1:])
    assert nothing == {"date": "2024-06-02", "updated": None, "date_source": "sitemap-lastmod", "date_estimated": True}
    # The page states an update (no publication): a lastmod from outside would only be a guess.
    assert with_outside(None, "2024-05-20", None, None, lastmods)["date"] is None
    # A guess from the page's text ranks above the listings' lastmods; a copyright year below them.
    assert with_outside("2024-02-01", None, "page-text", None, lastmods)["date"] == "2024-02-01"
    assert with_outside("2023", None, "copyright-year", None, lastmods)["date_source"] == "feed-updated"
    assert with_outside("2023", None, "copyright-year", None, ())["date"] == "2023"


def test_a_feed_entry_keeps_the_day_it_writes_and_its_update_apart() -> None:
    rss = (b"<?xml version='1.0'?><rss version='2.0'><channel><title>t</title><item><title>Ferry</title>"
           b"<link>https://example.org/ferry</link><pubDate>Fri, 06 Dec 2024 20:15:00 -0500</pubDate></item>"
           b"</channel></rss>")
    assert parse_feed(rss, "https://example.org/feed")[0].date == "2024-12-06"  # feedparser's UTC says the 7th
    atom = (b"<?xml version='1.0'?><feed xmlns='http://www.w3.org/2005/Atom'><title>t</title><entry><title>F</title>"
            b"<link href='/ferry'/><published>2024-03-04T09:00:00+01:00</published>"
            b"<updated>2024-05-20T00:30:00+02:00</updated></entry></feed>")
    p = parse_feed(atom, "https://example.org/feed")[0]
    assert (p.date, p.updated) == ("2024-03-04", "2024-05-20")


def test_a_sitemap_lastmod_is_kept_for_its_page() -> None:
    xml = (b"<?xml version='1.0'?><urlset xmlns='http://www.sitemaps.org/schemas/sitemap/0.9'>"
           b"<url><loc>https://example.org/ferry</loc><lastmod>2024-06-02T23:30:00-04:00</lastmod></url></urlset>")
    pages, _ = parse_sitemap(xml, "https://example.org/sitemap.xml")
    assert pages[0].lastmod == "2024-06-02"
    assert [c.source for c in pages[0].outside_dates(None)][1] is DateSource.SITEMAP_LASTMOD


def test_an_article_carries_its_update_and_where_its_date_came_from() -> None:
    a = html_to_article(page(**FORMATS[DateSource.JSON_LD]), "https://example.org/ferry")
    assert (a.date, a.updated, a.date_source, a.date_estimated) == ("2024-03-04", "2024-05-20", "json-ld", False)


# --- old index dates are corrected by the next re-ingest --------------------------------------------

class CountingEmbedder(HashEmbedder):
    """Counts the passages it is given (a re-date must not re-embed)."""

    encoded = 0

    def encode(self, texts, batch_size: int = 32):  # type: ignore[no-untyped-def]
        self.encoded += len(texts)
        return super().encode(texts, batch_size)


def test_reingest_corrects_a_date_read_by_an_older_reader(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "pages"
    folder.mkdir()
    (folder / "ferry.html").write_text(page("<meta property='article:published_time' content='2024-12-06T20:15:00-05:00'>"
                                            "<meta property='article:modified_time' content='2024-12-09T08:00:00-05:00'>"))
    emb = CountingEmbedder()
    eng = Engine(tmp_path / "ix", emb)
    # The old reader: the time converted to UTC (the 7th), no update, and its own fingerprint.
    old = PageDates("2024-12-07", None, DateSource.META)
    monkeypatch.setattr("index.ingest.html.read_html_dates", lambda *a, **k: old)
    monkeypatch.setattr(dates, "READER_VERSION", "dates-1")
    assert eng.ingest_paths([folder]).added
    [row] = eng.sources()
    assert (row.date, row.updated) == ("2024-12-07", None)
    embedded = emb.encoded
    again = eng.ingest_paths([folder])
    assert again.unchanged and not again.updated  # same bytes, same reader: nothing to do

    monkeypatch.undo()
    fixed = eng.ingest_paths([folder])
    assert fixed.updated and not fixed.added
    [row] = eng.sources()
    assert (row.date, row.updated, row.date_source, row.date_estimated) == ("2024-12-06", "2024-12-09", "meta", False)
    assert emb.encoded == embedded  # re-dated in place: no passage embedded again
    ans = eng.ask("How many passengers did the Wexham ferry carry?")
    assert ans.citations and ans.citations[0].date == "2024-12-06" and ans.citations[0].updated == "2024-12-09"
    json_row = {k: v for k, v in row.__dict__.items() if k.startswith("date") or k == "updated"}
    assert json_row == {"date": "2024-12-06", "updated": "2024-12-09", "date_source": "meta", "date_estimated": False}
    assert eng.ingest_paths([folder]).unchanged  # and the next pass is quiet again
    assert replace(row).title == "Ferry season opens"
