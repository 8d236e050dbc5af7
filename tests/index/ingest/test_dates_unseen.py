"""Issue 30: the date the page states, on sites citebot has never seen — whatever rail, teaser or
JSON-LD graph stands in the way.

Every page here is a small one written for these tests, shaped after the ways real sites lay
theirs out (a rail of teasers before the article, an info box with its date, a Yoast-style
`@graph`, JSON-LD blocks with trailing commas), never copied from one.
"""
from __future__ import annotations

import json

import lxml.html
import pytest

from index.ingest.dates import DateSource, PageDates, read_html_dates
from index.ingest.jsonld import article_nodes, is_article, parse_block
from index.ingest.load import load_bytes

BODY = ("<p>The harbour's two old cranes came back to the north quay this week after a winter in the boatyard.</p>"
        "<p>Dockers say the refitted cranes lift a full container in half the time the old motors needed.</p>"
        "<p>The harbour board paid for the work from the fees that cruise ships bring in every summer.</p>")


def read(html: str, url: str | None = None, guess: object = None) -> PageDates:
    return read_html_dates(lxml.html.fromstring(html), url, guess=guess)


# --- (a) a rail of teasers is never the page's date ----------------------------------------------

def teasers(n: int = 3, day: str = "01.08.2019") -> str:
    """A rail of related stories with neutral class names: nothing in them says 'related'."""
    heads = ("Lighthouse keepers vote to strike over pay", "New ferry timetable starts on Monday morning",
             "Fishing fleet lands its largest catch in years", "Island school gets a new roof at last")
    return "".join(f"<div class='box'><a href='/en/story-{i}/a-{i}'><h2>{heads[i % 4]}</h2></a>"
                   f"<span class='date'>{day}</span></div>" for i in range(n))


def dw_like(info_box: bool = True, rail_first: bool = True, title_day: bool = True) -> str:
    """The shape of the issue's page: the rail before the article in the source, the article's own
    date in an info box ("Date 10.06.2013") and in its <title> and og:title."""
    suffix = " | Harbour Weekly | 10.06.2013" if title_day else " | Harbour Weekly"
    rail = f"<div class='col1'>{teasers()}</div>"
    box = ("<div class='group'><ul class='smallList'><li><strong>Date</strong> 10.06.2013</li>"
           "<li><strong>Author</strong> Ilse Marrow</li><li><strong>Keywords</strong> "
           "<a href='/en/harbour/t-1'>harbour</a>, <a href='/en/cranes/t-2'>cranes</a></li></ul></div>") if info_box else ""
    article = f"<div class='col3'><h1>Harbour cranes return to the quay</h1>{box}<div class='longText'>{BODY}</div></div>"
    return (f"<html><head><title>Harbour cranes return to the quay{suffix}</title>"
            f"<meta property='og:title' content='Harbour cranes return to the quay{suffix}'></head><body>"
            f"<div id='bodyContent'>{rail + article if rail_first else article + rail}</div></body></html>")


@pytest.mark.parametrize("rail_first", [True, False], ids=["rail-first", "rail-after"])
def test_a_rail_of_teasers_loses_to_the_pages_info_box(rail_first: bool) -> None:
    d = read(dw_like(rail_first=rail_first))
    assert (d.published, d.source) == ("2013-06-10", DateSource.DATELINE)


def test_a_date_in_the_pages_own_title_counts_as_the_page_stating_it() -> None:
    d = read(dw_like(info_box=False))
    assert (d.published, d.source, d.estimated) == ("2013-06-10", DateSource.TITLE, False)
    only_og = dw_like(info_box=False).replace("<title>Harbour cranes return to the quay | Harbour Weekly | 10.06.2013",
                                               "<title>Harbour cranes return to the quay")
    assert read(only_og).published == "2013-06-10"


def test_a_teasers_date_is_never_the_pages_not_even_as_a_guess() -> None:
    d = read(dw_like(info_box=False, title_day=False), guess="2019-08-01")
    assert d.published is None  # the page states no date of its own; the rail's is no stand-in
    a = load_bytes(dw_like(info_box=False, title_day=False).encode(), "cranes.html")
    assert a.date != "2019-08-01"


@pytest.mark.parametrize("rail", [
    # A list of related stories inside the article itself, after its body.
    "<ul class='list'>" + "".join(f"<li><h3><a href='/news/{i}'>Fishing fleet lands its largest catch</a></h3>"
                                  f"<time datetime='2019-08-0{i}'>Aug {i}, 2019</time></li>" for i in range(1, 4)) + "</ul>",
    # Cards with a picture link and a long headline link, the date beside them.
    "".join(f"<div class='item'><a href='/news/{i}'><img src='/i/{i}.jpg'></a><div class='text'>"
            f"<a href='/news/{i}'>New ferry timetable starts on Monday morning</a>"
            f"<span class='meta'>Posted August {i}, 2019</span></div></div>" for i in range(1, 4)),
])
def test_teasers_inside_the_article_do_not_date_it(rail: str) -> None:
    html = ("<html><head><title>Harbour cranes return</title></head><body><article><h1>Harbour cranes return</h1>"
            "<div class='byline'>By Ilse Marrow · <time datetime='2013-06-10T09:00:00+02:00'>June 10, 2013</time></div>"
            f"{BODY}{rail}</article></body></html>")
    assert read(html).published == "2013-06-10"
    assert read(html.replace("<div class='byline'>By Ilse Marrow · <time datetime='2013-06-10T09:00:00+02:00'>"
                             "June 10, 2013</time></div>", "")).published is None


def test_a_byline_that_links_its_author_is_still_the_byline() -> None:
    """Links in the article's own byline (a profile, 'Follow … on Twitter') make no teaser of it."""
    html = ("<html><head><title>Harbour cranes return</title><link rel='canonical' href='https://harbour.example/cranes'>"
            "</head><body><div class='site'><article><header><div class='kicker'>Ports</div>"
            "<h1>Harbour cranes return to the quay</h1><div class='meta'><div class='who'>"
            "By <a href='/author/ilse-marrow'>Ilse Marrow</a> <a href='/author/ilse-marrow/bio'>About Ilse Marrow and her work</a>"
            "<a href='https://twitter.com/ilse'>Follow Ilse Marrow on Twitter today</a>"
            "<time datetime='2013-06-10'>June 10, 2013</time></div></div></header>"
            f"{BODY}</article></div></body></html>")
    d = read(html)
    assert (d.published, d.source) == ("2013-06-10", DateSource.BYLINE_TIME)


def test_a_post_whose_headline_links_to_itself_keeps_its_date() -> None:
    """A blog without an <h1>: its own headline is an <h2> link to the post, its date beside it."""
    html = ("<html><head><title>Harbour cranes return to the quay – Ilse's harbour notes</title></head><body>"
            "<div class='post'><h2><a href='/2013/cranes'>Harbour cranes return to the quay</a></h2>"
            f"<span class='date'>10.06.2013</span>{BODY}</div></body></html>")
    assert read(html).published == "2013-06-10"


@pytest.mark.parametrize("wrapper", ["<form id='aspnetForm' method='post'>", "<div class='container has-sidebar'>",
                                     "<div class='post-entry category-promotions'>"])
def test_a_block_that_holds_the_headline_is_the_page_whatever_its_class(wrapper: str) -> None:
    """ASP.NET wraps every page in a <form>; themes name their layout 'sidebar'; a category may be 'promotions'."""
    close = "</form>" if wrapper.startswith("<form") else "</div>"
    html = (f"<html><head><title>Harbour cranes return to the quay</title></head><body>{wrapper}"
            "<h1>Harbour cranes return to the quay</h1><div class='author-date'>By Ilse Marrow, 10 June 2013</div>"
            f"{BODY}{close}<div class='sidebar'><span class='date'>1 August 2019</span></div></body></html>")
    assert (read(html).published, read(html).source) == ("2013-06-10", DateSource.DATELINE)


# --- (c) the article's JSON-LD node, wherever it is ----------------------------------------------

ARTICLE = {"headline": "Harbour cranes return to the quay", "datePublished": "2015-10-15T08:00:00-04:00",
           "dateModified": "2015-10-20T10:00:00-04:00", "author": {"@type": "Person", "name": "Ilse Marrow"}}
WEBPAGE = {"@type": "WebPage", "@id": "https://harbour.example/cranes#webpage", "url": "https://harbour.example/cranes",
           "name": "Harbour cranes return to the quay | Harbour Weekly"}
SITE = [{"@type": "WebSite", "@id": "https://harbour.example/#website", "name": "Harbour Weekly"},
        {"@type": "Organization", "@id": "https://harbour.example/#org", "name": "Harbour Weekly"},
        {"@type": "BreadcrumbList", "itemListElement": [
            {"@type": "ListItem", "position": 1, "item": {"@id": "https://harbour.example/", "name": "Home"}}]}]


def art(t: object) -> dict[str, object]:
    return {"@type": t, "@id": "https://harbour.example/cranes#article", **ARTICLE}


PLACES = {
    "top-level": {"@context": "https://schema.org", **art("NewsArticle")},
    "list": [SITE[0], art("NewsArticle")],
    "graph": {"@context": "https://schema.org", "@graph": [SITE[0], WEBPAGE, art("Article"), *SITE[1:]]},
    "graph-mainEntity": {"@context": "https://schema.org", "@graph": [
        SITE[0], {**WEBPAGE, "mainEntity": {"@id": "https://harbour.example/cranes#article"}},
        {**art("NewsArticle"), "headline": "Another story the page describes", "datePublished": "2015-09-01",
         "@id": "https://harbour.example/other#article"}, art("NewsArticle")]},
    "webpage-mainEntity": {"@context": "https://schema.org", **WEBPAGE, "mainEntity": art("BlogPosting")},
    "mainEntityOfPage": {"@context": "https://schema.org", **WEBPAGE, "mainEntityOfPage": art("ReportageNewsArticle")},
    "type-list": {"@context": "https://schema.org", **art(["CreativeWork", "Article"])},
    "type-url": {"@context": "http://schema.org", **art("http://schema.org/NewsArticle")},
    "type-prefixed": {"@context": {"schema": "https://schema.org/"}, **art("schema:BlogPosting")},
    "opinion": {"@context": "https://schema.org", **art("OpinionNewsArticle")},
}


def jsonld_page(block: str, byline: str = "Oct 15, 2015", meta_day: str = "2015-12-11T09:00:00-05:00") -> str:
    """The issue's second page: JSON-LD and the byline say one day, `article:published_time` another."""
    return (f"<html><head><title>Harbour cranes return to the quay</title><script type='application/ld+json'>{block}</script>"
            f"<meta property='article:published_time' content='{meta_day}'></head><body><article>"
            f"<h1>Harbour cranes return to the quay</h1><p class='byline'>By Ilse Marrow | {byline}</p>{BODY}"
            "</article></body></html>")


@pytest.mark.parametrize("place", list(PLACES))
def test_the_article_node_is_read_wherever_json_ld_puts_it(place: str) -> None:
    d = read(jsonld_page(json.dumps(PLACES[place]), byline=""))
    assert (d.published, d.updated, d.source) == ("2015-10-15", "2015-10-20", DateSource.JSON_LD)


def test_a_graph_article_gives_the_title_too() -> None:
    a = load_bytes(jsonld_page(json.dumps(PLACES["graph"])).replace("<title>Harbour cranes return to the quay",
                                                                     "<title>Harbour Weekly").encode(), "cranes.html")
    assert (a.title, a.date, a.date_source) == ("Harbour cranes return to the quay", "2015-10-15", "json-ld")


BROKEN = {
    "trailing-comma": json.dumps(PLACES["top-level"])[:-1] + ', "keywords": ["harbour", "cranes", ], }',
    "html-comment": "<!-- " + json.dumps(PLACES["top-level"]) + " -->",
    "cdata": "//<![CDATA[\n" + json.dumps(PLACES["top-level"]) + "\n//]]>",
    "two-objects": json.dumps(SITE[0]) + "\n" + json.dumps(PLACES["top-level"]) + ";",
    "typed-literal": json.dumps({**PLACES["top-level"], "datePublished": {"@value": "2015-10-15", "@type": "Date"}}),
    "day-first": json.dumps({**PLACES["top-level"], "datePublished": "15/10/2015 08:00"}),
}


@pytest.mark.parametrize("kind", list(BROKEN))
def test_json_ld_as_sites_write_it_still_beats_the_meta_tag(kind: str) -> None:
    d = read(jsonld_page(BROKEN[kind]))
    assert (d.published, d.source) == ("2015-10-15", DateSource.JSON_LD)


def test_json_ld_blocks_that_do_not_parse_at_all_are_skipped() -> None:
    assert parse_block("{not json") == [] and parse_block("") == [None]
    assert [is_article(o) for o in article_nodes([{"@type": "Organization"}, {"@type": "LiveBlogPosting"}])] == [True]


# --- (b) when the page's own statements disagree, its byline breaks the tie ------------------------

@pytest.mark.parametrize("byline, day, source", [
    ("Oct 15, 2015", "2015-10-15", DateSource.JSON_LD),   # the byline agrees with JSON-LD
    ("December 11, 2015", "2015-12-11", DateSource.META),  # ... or with the meta tag, which then wins
    ("", "2015-10-15", DateSource.JSON_LD),                # no byline: the order of trust
    ("March 3, 2016", "2015-10-15", DateSource.JSON_LD),   # a byline that agrees with neither settles nothing
])
def test_the_visible_byline_breaks_a_tie_between_the_pages_statements(byline: str, day: str, source: DateSource) -> None:
    d = read(jsonld_page(json.dumps(PLACES["graph"]), byline=byline))
    assert (d.published, d.source) == (day, source)


def test_without_a_byline_the_title_breaks_the_tie() -> None:
    html = jsonld_page(json.dumps(PLACES["graph"]), byline="").replace(
        "<title>Harbour cranes return to the quay", "<title>Harbour cranes return to the quay | 11.12.2015")
    assert (read(html).published, read(html).source) == ("2015-12-11", DateSource.META)


def test_an_update_seconds_after_a_utc_publication_is_no_update() -> None:
    """JSON-LD in UTC (the next day), the byline in the site's zone: the update is the same moment."""
    block = json.dumps({"@type": "NewsArticle", "datePublished": "2019-11-20T04:26:47+0000",
                        "dateModified": "2019-11-20T04:26:51+0000"})
    html = jsonld_page(block, byline="", meta_day="2019-11-20T04:26:47Z").replace(
        "<p class='byline'>By Ilse Marrow | </p>",
        "<p class='byline'>By Ilse Marrow | <span itemprop='datePublished'>11:26 pm EST, Tuesday, November 19, 2019</span></p>")
    d = read(html)
    assert (d.published, d.updated) == ("2019-11-19", None)


# --- what the second hand check of real pages taught (issue 30, bench/RESULTS.md) ---------------------

def test_a_url_with_the_months_name_dates_the_page() -> None:
    assert read(dw_like(info_box=False, title_day=False), "https://harbour.example/statements/2013/jun/10/cranes/"
                ).published == "2013-06-10"


def test_a_date_the_story_reports_beside_the_headline_loses_to_the_labelled_byline() -> None:
    """A fact check quotes a claim "on Sunday, May 5th, 2013" right under its headline; its byline follows."""
    html = ("<html><head><title>Did the cranes cost too much?</title></head><body><article><header>"
            "<h1>Did the cranes cost too much?</h1><div class='claim-meta'>— Ilse Marrow on Sunday, May 5th, 2013 in a speech</div>"
            "<div class='article-meta'>By Tom Hale on Monday, June 10th, 2013 at 11:08 a.m.</div></header>"
            f"{BODY}</article></body></html>")
    assert (read(html).published, read(html).source) == ("2013-06-10", DateSource.DATELINE)


def test_a_byline_that_shows_no_year_takes_it_from_its_machine_readable_time() -> None:
    """"Posted Jun 9, 8:19 PM" beside datetime="2013-06-10T01:19Z": readers saw the 9th; an update line is an update."""
    html = ("<html><head><title>Harbour cranes return</title><script type='application/ld+json'>"
            '{"@type": "NewsArticle", "datePublished": "2013-06-10T01:19:34Z", "dateModified": "2013-06-12T14:41:32Z"}'
            "</script></head><body><article><header><h1>Harbour cranes return to the quay</h1><div class='dateline'>"
            "<time datetime='2013-06-12T14:41:32Z'>Updated Jun 12, 10:41 AM</time>"
            "<time datetime='2013-06-10T01:19:34Z'>Posted Jun 9, 9:19 PM</time></div></header>"
            f"{BODY}</article></body></html>")
    d = read(html)
    assert (d.published, d.updated, d.source) == ("2013-06-09", "2013-06-12", DateSource.BYLINE_TIME)


def test_a_medical_web_page_and_a_written_by_line_are_the_pages_statements() -> None:
    block = json.dumps({"@context": "https://schema.org", "@type": "MedicalWebPage", "datePublished": "2013-06-10T08:00:00Z"})
    html = (f"<html><head><title>Cranes and your back</title><script type='application/ld+json'>{block}</script></head>"
            "<body><h1>Cranes and your back</h1><div class='x9f2'>Written by <a href='/authors/im'>Ilse Marrow</a> "
            f"on June 10, 2013</div>{BODY}</body></html>")
    assert (read(html).published, read(html).source) == ("2013-06-10", DateSource.JSON_LD)
    no_ld = html.replace(block, "{}")
    assert (read(no_ld).published, read(no_ld).source) == ("2013-06-10", DateSource.DATELINE)
