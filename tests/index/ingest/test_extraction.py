"""Real web pages in, clean passages out (issue 13): body text, whole sentences, structure marks,
the article's own metadata, one entry per article, no server paths in chat, loaders that never crash.

Every page here is our own small HTML written for the test; the check against the 181 real pages
of ../shared/webpages is skipped when that folder is absent.
"""
from __future__ import annotations

import json
import sqlite3
import sys
from pathlib import Path

import pytest

from index.engine import Engine
from index.errors import AmbiguousSourceError, LoadError
from index.ingest.chunk import Kind, chunk, line_kind, strip_marks
from index.ingest.load import html_to_article, load_bytes
from index.ingest.text import join_wrapped
from index.types import Citation
from tests.bot.test_cli import run
from tests.conftest import ROOT, SHARED
from tests.helpers import HashEmbedder

WEBPAGES = SHARED / "webpages"

# A blog post whose HTML hard-wraps its lines with <br>, as some blog engines do.
WRAPPED = """<html><head><title>Rebuilding the pier</title></head><body><article>
<h1>Rebuilding the pier</h1>
<p>In May 2015, the harbour board agreed to rebuild the north pier, which<br>
had been closed to visitors since the great storm of the winter of<br>
2013. The work began the following spring and took two full years.</p>
<p>The new pier is forty metres longer than the old one and has a lift<br>
for wheelchairs, which the old pier never had in its hundred years.</p>
</article></body></html>"""


def _passages(text: str, title: str | None = None) -> list[str]:
    return [p.text for p in chunk(text, title=title)]


def _sentences(text: str, title: str | None = None) -> list[str]:
    return [text[s:e] for p in chunk(text, title=title) for s, e in p.sentences]


# --- 2. whole sentences ------------------------------------------------------------------------

@pytest.mark.parametrize("wrap", ["<br>\n", "\n"], ids=["br", "source-newline"])
def test_wrapped_html_keeps_each_sentence_whole(wrap: str) -> None:
    a = load_bytes(WRAPPED.replace("<br>\n", wrap).encode(), "pier.html")
    sents = _sentences(a.text, a.title)
    assert ("In May 2015, the harbour board agreed to rebuild the north pier, which had been closed to visitors "
            "since the great storm of the winter of 2013.") in sents
    assert any(s.startswith("The new pier is forty metres longer") and s.endswith("hundred years.") for s in sents)
    assert len(chunk(a.text, title=a.title)) == 2  # two paragraphs, not one passage per line


@pytest.mark.parametrize("text, expected", [
    ("Паром снова ходит. Остров ждал его всю зиму.", ["Паром снова ходит.", "Остров ждал его всю зиму."]),
    ("Το πλοίο επέστρεψε. Όλοι χάρηκαν.", ["Το πλοίο επέστρεψε.", "Όλοι χάρηκαν."]),
    ("여객선이 다시 운항한다. 주민들은 겨울 내내 기다렸다.", ["여객선이 다시 운항한다.", "주민들은 겨울 내내 기다렸다."]),
    ("フェリーが再開した。島民は冬の間待っていた。", ["フェリーが再開した。", "島民は冬の間待っていた。"]),
], ids=["cyrillic", "greek", "hangul", "japanese"])
def test_sentences_end_before_capitals_of_other_alphabets_and_in_scripts_without_capitals(text, expected) -> None:
    # A page in Russian or Korean was one 'sentence' per paragraph: passages cut it mid-sentence.
    assert _sentences(text) == expected


def test_a_list_written_with_br_keeps_its_lines() -> None:
    dates = ["July 26 -- Performing Arts Center, Saratoga Springs, NY", "July 30 -- Music Center, Noblesville, IN",
             "Aug. 2 -- DTE Energy Music Theatre, Clarkston, MI", "Aug. 4 -- Riverbend Music Center, Cincinnati, OH"]
    page = ("<html><body><article><p>The band announced the dates of its anniversary tour on Monday night, "
            "and tickets go on sale on Friday.</p><p>" + "<br>".join(dates) + "</p></article></body></html>")
    sents = _sentences(load_bytes(page.encode(), "tour.html").text)
    assert all(d in sents for d in dates)  # one line each, not one run-on 'sentence'
    assert join_wrapped("The pier was closed\nsince the storm of the winter\nof 2013, and the\nboard agreed.") == \
        "The pier was closed since the storm of the winter of 2013, and the board agreed."


def test_plain_text_and_markdown_wrapped_lines_are_joined_but_code_is_not() -> None:
    txt = (b"Pier notes\nIn May 2015, the harbour board agreed to rebuild the north pier, which had\n"
           b"been closed since the storm. Work began the following spring.\n\nA second paragraph.\n")
    a = load_bytes(txt, "pier.txt")
    assert a.title == "Pier notes"
    assert "which had been closed since the storm." in a.text
    assert any(s.startswith("In May 2015") and s.endswith("since the storm.") for s in _sentences(a.text, a.title))
    md = b"# Pier\n\nThe board agreed to rebuild the pier, which\nhad been closed for years.\n\n```\nline one\nline two\n```\n"
    m = load_bytes(md, "pier.md")
    assert "which had been closed for years." in m.text
    assert "line one\nline two" in m.text


def test_real_line_ends_stay() -> None:
    # A short line that ends a sentence, a list, a heading above text: real line ends.
    assert join_wrapped("Opening hours:\n- Monday to Friday\n- Saturday") == "Opening hours:\n- Monday to Friday\n- Saturday"
    assert join_wrapped("Harbour Office\nThe office is open daily from nine until five in the afternoon.") \
        == "Harbour Office\nThe office is open daily from nine until five in the afternoon."


# --- 3. structure, not furniture ---------------------------------------------------------------

STRUCTURED = """<html><head><title>Ferry timetable changes</title></head><body>
<article>
<h1>Ferry timetable changes</h1>
<p>By Jane Harbour</p>
<p>The ferry company has changed its winter timetable after a review of passenger numbers.</p>
<h2>DISAPPOINTING NIGHT FOR THE HARBOUR BAND</h2>
<p>The harbour band played to a half-empty hall on Friday because the last ferry left at eight.</p>
<ul><li>The first ferry leaves at seven in the morning.</li><li>The last ferry leaves at eight in the evening.</li></ul>
<p>Sign up for our newsletter</p>
<p>The company said it would look at the timetable again in the spring.</p>
</article></body></html>"""


def test_a_subsection_heading_keeps_its_section_heading_but_a_list_of_titles_does_not() -> None:
    text = ("## Status quo\n\n### Patient records\n\nThe records are kept on paper in most clinics.\n\n"
            "### Other story one\n\n### Other story two\n\nA half century on, the band still tours.")
    first, second = chunk(text)
    assert first.text.startswith("## Status quo") and "### Patient records" in first.text
    assert second.text.startswith("### Other story two")  # same-level titles side by side: only the nearest
    assert all(text[s:e][:1] not in "#" for p in (first, second) for s, e in p.sentences)


def test_headings_give_context_but_are_never_a_candidate_sentence() -> None:
    a = load_bytes(STRUCTURED.encode(), "ferry.html")
    ps = chunk(a.text, title=a.title)
    sentences = [a.text[s:e] for p in ps for s, e in p.sentences]
    assert not any("DISAPPOINTING" in s for s in sentences)
    opened = [p for p in ps if "DISAPPOINTING" in p.text]
    assert len(opened) == 1 and opened[0].text.startswith("## DISAPPOINTING")
    assert opened[0].marks[0][2] == Kind.HEADING
    assert any("The harbour band played" in s for s in sentences)
    lists = [m for p in ps for m in p.marks if m[2] == Kind.LIST]
    assert lists and any("The first ferry leaves at seven" in a.text[m[0]:m[1]] for m in lists)
    assert any("The first ferry leaves at seven in the morning." in s for s in sentences)


def test_bylines_and_newsletter_boxes_are_not_indexed() -> None:
    a = load_bytes(STRUCTURED.encode(), "ferry.html")
    indexed = " ".join(_passages(a.text, a.title))
    assert "newsletter" not in indexed.lower()
    assert "Jane Harbour" not in indexed
    assert "look at the timetable again" in indexed


@pytest.mark.parametrize("line, kind", [
    ("## Results", Kind.HEADING),
    ("- Tickets cost two pounds.", Kind.LIST),
    ("By Jane Harbour", Kind.BYLINE),
    ("Published 10 June 2013", Kind.DATELINE),
    ("Updated: Nov. 18, 2019 9:30 a.m. ET", Kind.DATELINE),
    ("Photo: Harbour Board archive / Jane Harbour", Kind.CAPTION),
    ("Sign up for our newsletter", Kind.FURNITURE),
    ("We use cookies to improve your experience.", Kind.FURNITURE),
    ("12 comments", Kind.FURNITURE),
    ("The company did not respond to a request for comment.", Kind.BODY),
    ("By the end of the year the pier was open again.", Kind.BODY),
    ("By the end of the year the pier was open again", Kind.BODY),
    ("By Jane Harbour and Tom Pier, Staff Writers", Kind.BYLINE),
    ("Sources said the deal was done: the pier is sold.", Kind.BODY),
    ("Photo by Jane Harbour: the pier at dawn", Kind.CAPTION),
])
def test_line_kinds(line: str, kind: str) -> None:
    assert line_kind(line) == kind


def test_a_heading_is_never_the_quoted_answer(tmp_path: Path, embedder) -> None:
    d = tmp_path / "pages"
    d.mkdir()
    (d / "ferry.html").write_text(STRUCTURED)
    eng = Engine(tmp_path / "ix", embedder)
    assert eng.ingest_paths([d]).ok
    ans = eng.ask("disappointing night for the harbour band")
    assert ans.answer is None or "DISAPPOINTING" not in ans.answer
    for c in ans.citations:  # the heading may be in a snippet (context) but never the answer span
        if c.answer_start is not None:
            assert "DISAPPOINTING" not in c.snippet[c.answer_start:c.answer_end]


def test_other_posts_listed_inside_the_article_are_not_indexed() -> None:
    teaser = "<article><p>{} is another story on this site, shown here as a teaser with its first lines.</p></article>"
    body = " ".join(f"The pier reopened in spring after two years of building work, sentence {i}." for i in range(6))
    page = (f"<html><body><article><h1>Pier reopens</h1><p>{body}</p>"
            + "".join(teaser.format(n) for n in ("Lighthouse", "Beach", "Market")) + "</article></body></html>")
    a = load_bytes(page.encode(), "pier.html")
    assert "pier reopened in spring" in a.text
    assert "another story" not in a.text


def test_a_paragraph_written_as_loose_text_between_brs_is_recovered_next_to_its_neighbours() -> None:
    # Some sites write paragraphs as text between <br>s; the extractor has been seen to drop the
    # first one (the lead). The page's own element shows where it belongs.
    import lxml.html

    from index.ingest.html_repair import add_loose_runs

    lead = ("Following the storm, the harbour board plans to rebuild the north pier in the first half of 2020, "
            "according to the Island Post. A preview of the plan was shared with members.")
    rest = ["The report claims the pier will be forty metres longer than the old one.",
            "The new pier features a wider deck, largely based on the design of the south pier.",
            "The south pier also has a cafe and a small museum."]
    html = (f"<html><body><div class='content'>{lead.replace('Island Post', '<em><a href=/x>Island Post</a></em>')}"
            f"<br><br><center><em>The old pier</em></center><br>{rest[0]}<br><br>{rest[1]}<br><br>{rest[2]}"
            "<br><br>Related: piers<br><br>Share this story</div></body></html>")
    tree = lxml.html.fromstring(html)
    extract = "# Harbour report\n\n" + "\n\n".join(rest)
    assert add_loose_runs(tree, extract).split("\n\n") == ["# Harbour report", lead, *rest]
    # Runs that are not sentences (a label, a share prompt) stay out; an element of which the
    # extract has nothing is not the article's.
    assert add_loose_runs(tree, "Something else entirely that the page does not have anywhere.").count("\n\n") == 0


def test_an_embedded_tweet_between_paragraphs_is_quoted_text_of_the_article() -> None:
    paras = [f"<p>The ferry to the island runs again from this week, paragraph {i} of the report says.</p>" for i in range(4)]
    # As sites write it: the widget's <blockquote> in an embed box, which the extractor drops.
    tweet = ("<div class='social-media-embed'><blockquote class='twitter-tweet'><p lang='en'>The ferry is back and "
             "the island is very happy about it <a href='https://t.co/x'>pic.twitter.com/abc</a></p>&mdash; Island "
             "Council (@islandcouncil) <a href='https://twitter.com/x'>June 10, 2013</a></blockquote>"
             "<script async src='https://platform.twitter.com/widgets.js'></script></div>")
    page = f"<html><body><article><h1>Ferry</h1>{''.join(paras[:2])}{tweet}{''.join(paras[2:])}</article></body></html>"
    a = load_bytes(page.encode(), "ferry.html")
    blocks = a.text.split("\n\n")
    i = next(i for i, b in enumerate(blocks) if b.startswith("The ferry is back"))
    assert "paragraph 1" in blocks[i - 1] and "paragraph 2" in blocks[i + 1]  # where the article put it
    assert blocks[i].endswith("\n— Island Council (@islandcouncil) June 10, 2013")
    assert a.text.count("The ferry is back") == 1
    # A post outside the article (after its last paragraph: a sidebar widget) is not added.
    side = page.replace(tweet, "").replace("</article>", "</article><aside>" + tweet + "</aside>")
    assert "The ferry is back" not in load_bytes(side.encode(), "ferry.html").text


def test_a_section_heading_the_extractor_dropped_opens_its_section_again() -> None:
    import lxml.html

    from index.ingest.html_repair import add_lost_headings

    paras = [f"The harbour report covers the works on the north pier, part {i} of the series." for i in range(4)]
    html = (f"<html><body><div class='post'><p>{paras[0]}</p><p>{paras[1]}</p>"
            "<h3><a href='https://shop.example/deck'>Oak Deck Planks</a></h3>"
            f"<p>{paras[2]}</p><div class='pf_subheadline'>Who pays for the pier?</div><p>{paras[3]}</p></div>"
            "<div class='rail'><h3>Chicago</h3><h3>Turin</h3><h3>Sponsored links</h3></div>"
            "<div class='post2'><p>The harbour report's next part covers the south pier and its new cafe.</p></div>"
            "</body></html>")
    extract = "\n\n".join(paras + ["The harbour report's next part covers the south pier and its new cafe."])
    out = add_lost_headings(lxml.html.fromstring(html), extract).split("\n\n")
    assert out[:6] == [paras[0], paras[1], "### Oak Deck Planks", paras[2], "## Who pays for the pier?", paras[3]]
    assert not any(h in out for h in ("### Chicago", "### Turin", "### Sponsored links"))  # a rail of links
    # As a heading it is context for its passage, never the quoted sentence.
    assert all(not text.startswith("#") for p in chunk("\n\n".join(out)) for text in
               ["\n\n".join(out)[s:e] for s, e in p.sentences])


# --- 4. the article's own metadata -------------------------------------------------------------

META = """<html><head>
<title>Ferry returns to the island | Island Post | 10.06.2013</title>
<meta property="og:site_name" content="Island Post">
<meta property="og:title" content="Ferry returns to the island | Island Post">
<meta property="og:url" content="http://islandpost.example/news/ferry-returns">
<link rel="canonical" href="https://islandpost.example/news/ferry-returns">
<script type="application/ld+json">{"@context": "https://schema.org", "@type": "NewsArticle",
 "headline": "Ferry returns to the island", "datePublished": "2013-06-10T08:00:00Z",
 "publisher": {"@type": "Organization", "name": "Island Post"}}</script>
</head><body>
<aside><h3>Most read</h3><p>Market day moved <time datetime="2019-08-01">1 Aug 2019</time></p></aside>
<article><h1>Ferry returns to the island</h1>
<p>The ferry to the island runs again from this week after a winter of repairs to its engines.</p>
<p>Islanders had to use the small post boat, which carries only twelve people at a time.</p>
</article></body></html>"""


def test_title_date_and_url_come_from_the_articles_own_metadata() -> None:
    a = load_bytes(META.encode(), "ferry.html")
    assert a.title == "Ferry returns to the island"
    assert a.date == "2013-06-10"
    assert a.url == "https://islandpost.example/news/ferry-returns"


def test_related_stories_in_the_json_ld_lend_neither_title_nor_date() -> None:
    """A page whose JSON-LD lists related stories (an ItemList) before its own TechArticle."""
    related = {"@type": "ItemList", "itemListElement": [
        {"@type": "ListItem", "item": {"@type": "NewsArticle", "headline": "Market day moved to Friday",
                                       "datePublished": "2019-08-01T09:00:00Z"}}]}
    own = {"@type": "TechArticle", "headline": "Ferry engines rebuilt over the winter",
           "datePublished": "2013-06-10T08:00:00+02:00"}
    page = (f"<html><head><script type='application/ld+json'>{json.dumps([related, own])}</script></head><body><article>"
            "<p>The ferry's two engines were taken apart and rebuilt in the island's boatyard this winter.</p>"
            "<p>The boatyard's crew of six worked through January to finish before the spring timetable.</p>"
            "</article></body></html>")
    a = load_bytes(page.encode(), "engines.html")
    assert a.title == "Ferry engines rebuilt over the winter"
    assert a.date == "2013-06-10"


def test_title_without_site_name_and_date_from_meta_tags_only() -> None:
    page = ("<html><head><title>Harbour wins award - Luxurious Coast Magazine</title>"
            "<meta property='og:site_name' content='Luxurious Coast Magazine'>"
            "<meta property='article:published_time' content='2021-03-04T10:00:00+00:00'></head><body><article>"
            "<p>The harbour won the national award for the cleanest water of any port this year.</p>"
            "<p>The judges visited in the summer and took samples on three separate days.</p></article></body></html>")
    a = load_bytes(page.encode(), "award.html")
    assert a.title == "Harbour wins award"
    assert a.date == "2021-03-04"
    assert a.url is None


def test_syndicated_page_keeps_its_own_address() -> None:
    page = ("<html><head><link rel='canonical' href='https://original.example/story'>"
            "<meta property='og:url' content='https://mirror.example/en/story-123'></head><body><article>"
            "<p>The harbour won the national award for the cleanest water of any port this year.</p>"
            "<p>The judges visited in the summer and took samples on three separate days.</p></article></body></html>")
    assert load_bytes(page.encode(), "s.html").url == "https://mirror.example/en/story-123"


_BODY = ("<article><p>The harbour won the national award for the cleanest water of any port this year.</p>"
         "<p>The judges visited in the summer and took samples on three separate days.</p></article>")


def _url_of(head: str, body: str = "") -> str | None:
    return load_bytes(f"<html><head>{head}</head><body>{body}{_BODY}</body></html>".encode(), "p.html").url


def test_a_page_without_canonical_names_itself_in_share_buttons_and_widgets() -> None:
    share = ("<a href='https://www.facebook.com/sharer/sharer.php?u=https%3A%2F%2Fport.example%2Fnews%2Faward'>f</a>"
             "<a href='https://twitter.com/intent/tweet?url=https://port.example/news/award&text=Award'>t</a>"
             "<a href='https://www.facebook.com/sharer/sharer.php?u=https://port.example/news/other-story'>f</a>")
    # The most common shared address is the article's; a teaser's own share button is outvoted.
    assert _url_of("", share) == "https://port.example/news/award"
    assert _url_of("", "<div class='fb-like' data-href='https://port.example/news/award'></div>") == \
        "https://port.example/news/award"
    # Declared metadata wins over share buttons; a relative canonical is resolved against <base href>.
    assert _url_of("<base href='https://port.example/'><link rel='canonical' href='/news/award-2'>", share) == \
        "https://port.example/news/award-2"
    # Nothing that names the page: no link rather than a guess (a search form, a mailto are not it).
    assert _url_of("", "<form action='https://port.example/search'></form><a href='mailto:ed@port.example'>m</a>") is None


def test_a_localised_edition_links_to_the_default_address_of_the_same_article() -> None:
    head = ("<link rel='canonical' href='https://www.news.example.de/harbour-award'>"
            "<link rel='alternate' hreflang='en-DE' href='https://www.news.example.de/harbour-award'>"
            "<link rel='alternate' hreflang='x-default' href='https://www.news.example.com/harbour-award'>")
    assert _url_of(head) == "https://www.news.example.com/harbour-award"
    # An x-default that is another page (a language picker, the home page) is not this article's address.
    head2 = head.replace("example.com/harbour-award", "example.com/")
    assert _url_of(head2) == "https://www.news.example.de/harbour-award"


def test_html_to_article_uses_the_fetch_url_when_the_page_names_none() -> None:
    a = html_to_article(WRAPPED.encode(), "https://blog.example/pier")
    assert a.url == "https://blog.example/pier" and a.source == "https://blog.example/pier"
    assert a.title == "Rebuilding the pier"
    with pytest.raises(LoadError, match="^empty.html: no article text"):
        html_to_article("<html><body><script>x()</script></body></html>", "https://blog.example/empty")


def test_a_page_in_a_declared_legacy_charset_reads_right() -> None:
    page = ("<html><head><meta charset='windows-1252'><title>Caf\u00e9 reopens</title></head><body><article>"
            "<p>The harbour caf\u00e9 reopened on Monday with a new menu \u2013 cr\u00eapes and fish soup.</p>"
            "<p>The owners said the kitchen had been rebuilt over the winter months.</p></article></body></html>")
    a = load_bytes(page.encode("cp1252"), "cafe.html")
    assert a.title == "Caf\u00e9 reopens"
    assert "caf\u00e9 reopened on Monday with a new menu \u2013 cr\u00eapes" in a.text


# --- 5. no server paths in chat ----------------------------------------------------------------

def _citation(source: str, url: str | None) -> Citation:
    return Citation(n=1, title="Pier notes", date=None, url=url, source=source, snippet="The pier reopened.",
                    start=0, end=18, score=1.0, answer_start=0, answer_end=18)


def test_chat_shows_a_file_name_never_the_server_path() -> None:
    from bot.discord.render import citation_block
    from bot.slack.render import citation_text

    c = _citation("/srv/citebot/private/articles/pier-notes.txt", None)
    assert c.display_source == "pier-notes.txt"
    for shown in (citation_block(c, 300)[0], citation_text(c)):
        assert "pier-notes.txt" in shown and "/srv" not in shown and "private" not in shown
    assert _citation("C:\\data\\pier.md", None).display_source == "pier.md"
    assert _citation("/srv/a.html", "https://example.org/a").display_source == "https://example.org/a"


# --- 6. one article, one entry; forget by URL; ambiguous names ---------------------------------

def test_a_copy_in_a_second_folder_is_indexed_once_and_recorded(tmp_path: Path) -> None:
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "pier.txt").write_text("The pier reopened in May after two years of building work.\n")
    eng = Engine(tmp_path / "ix", HashEmbedder())
    rep = eng.ingest_paths([tmp_path / "a", tmp_path / "b"])
    assert len(rep.added) == 1 and len(rep.duplicates) == 1
    assert rep.to_json()["duplicates"][0]["same_as"] == rep.added[0]
    rows = eng.sources()
    assert len(rows) == 1 and rows[0].also == (str((tmp_path / "b" / "pier.txt").resolve()),)
    again = eng.ingest_paths([tmp_path / "a", tmp_path / "b"])
    assert not again.added and not again.duplicates and len(again.unchanged) == 2
    copy = rows[0].also[0]
    assert eng.forget(copy) == [copy]  # only the record of the second place goes
    assert len(eng.sources()) == 1 and eng.sources()[0].also == ()
    assert eng.forget(rows[0].source) and eng.sources() == []


def test_an_index_without_the_aliases_table_is_upgraded(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "one.txt").write_text("The lighthouse keeper retired after forty years of service.\n")
    eng = Engine(tmp_path / "ix", HashEmbedder())
    eng.ingest_paths([tmp_path / "a"])
    current = (tmp_path / "ix" / "CURRENT").read_text().strip()
    conn = sqlite3.connect(tmp_path / "ix" / current / "meta.sqlite")  # make it look like an older index
    conn.execute("DROP TABLE aliases")
    conn.commit()
    conn.close()
    eng = Engine(tmp_path / "ix", HashEmbedder())
    assert len(eng.sources()) == 1  # readers cope without the table
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "copy.txt").write_text("The lighthouse keeper retired after forty years of service.\n")
    rep = eng.ingest_paths([tmp_path / "b"])
    assert len(rep.duplicates) == 1 and eng.sources()[0].also


def test_forget_ambiguous_name_asks_unless_all(tmp_path: Path) -> None:
    for folder, text in (("a", "The pier reopened in May."), ("b", "The market moved to Fridays.")):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "notes.txt").write_text(text + "\n")
    eng = Engine(tmp_path / "ix", HashEmbedder())
    eng.ingest_paths([tmp_path / "a", tmp_path / "b"])
    with pytest.raises(AmbiguousSourceError) as err:
        eng.forget("notes.txt", all_matches=False)
    assert len(err.value.matches) == 2
    one = str((tmp_path / "a" / "notes.txt").resolve())
    assert eng.forget(one, all_matches=False) == [one]
    assert len(eng.forget("notes.txt", all_matches=False)) == 1


def test_cli_forget_by_url_and_ambiguous_name(tmp_path: Path) -> None:
    d = tmp_path / "pages"
    (d / "x").mkdir(parents=True)
    (d / "y").mkdir()
    (d / "x" / "ferry.html").write_text(META)
    (d / "x" / "notes.txt").write_text("The pier reopened in May after two years.\n")
    (d / "y" / "notes.txt").write_text("The market moved to Fridays this spring.\n")
    ix = str(tmp_path / "ix")
    assert run("ingest", "--index", ix, str(d)).returncode == 0
    listed = run("sources", "--index", ix).stdout
    assert "https://islandpost.example/news/ferry-returns" in listed
    r = run("forget", "--index", ix, "https://islandpost.example/news/ferry-returns")
    assert r.returncode == 0 and "forgot" in r.stdout
    r = run("forget", "--index", ix, "notes.txt")
    assert r.returncode == 1 and "--all" in r.stderr and r.stderr.count("notes.txt") >= 3
    assert "Traceback" not in r.stderr
    r = run("forget", "--index", ix, "notes.txt", "--all")
    assert r.returncode == 0 and r.stdout.count("forgot") == 2


# --- 7. packaging and loaders that never crash -------------------------------------------------

def test_every_package_the_html_loader_imports_is_declared() -> None:
    import tomllib

    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    names = {d.split(">")[0].split("=")[0].split("[")[0].split("<")[0].strip().lower() for d in deps}
    assert {"trafilatura", "lxml", "lxml_html_clean", "pypdf"} <= names


def test_a_missing_loader_package_skips_the_file_with_a_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "trafilatura", None)  # import trafilatura -> ImportError
    with pytest.raises(LoadError, match="package is missing"):
        load_bytes(WRAPPED.encode(), "pier.html")


def test_any_reader_failure_is_a_skip_with_a_reason(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import trafilatura

    def boom(*a, **k):
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr(trafilatura, "bare_extraction", boom)
    d = tmp_path / "d"
    d.mkdir()
    (d / "deep.html").write_text(WRAPPED)
    (d / "ok.txt").write_text("The pier reopened in May after two years of building work.\n")
    rep = Engine(tmp_path / "ix", HashEmbedder()).ingest_paths([d])
    assert [Path(s).name for s in rep.added] == ["ok.txt"]
    assert [Path(f).name for f, _ in rep.skipped] == ["deep.html"] and "RecursionError" in rep.skipped[0][1]


# --- 1-4 on the 181 real pages -----------------------------------------------------------------

@pytest.mark.skipif(not (WEBPAGES / "ground-truth.json").exists(),
                    reason="needs ../shared/webpages (181 real news pages with their marked article body)")
def test_real_pages_body_sentences_and_urls(tmp_path: Path) -> None:
    sys.path.insert(0, str(ROOT))
    from bench import extraction

    out = tmp_path / "rows.json"
    assert extraction.main(["--json", str(out)]) == 0
    rows = json.loads(out.read_text())
    assert len(rows) == 181
    mean = lambda k: sum(r[k] for r in rows) / len(rows)
    assert mean("f1_ws") >= 0.97 and mean("p_ws") >= 0.96
    assert min(r["f1_words"] for r in rows) >= 0.5  # no article lost
    present = sum(min(r["whole"], r["present"]) for r in rows)
    assert present / sum(r["present"] for r in rows) >= 0.99
    assert sum(extraction._norm_url(r["url"]) == extraction._norm_url(r["true_url"]) for r in rows) >= 0.93 * len(rows)


def test_url_comparison_treats_only_equivalent_addresses_as_equal() -> None:
    sys.path.insert(0, str(ROOT))
    from bench.extraction import _norm_url

    same = ("HTTP://WWW.Port.example:80/news/a%7Eb/?utm_source=rss&b=2&a=1#top", "https://port.example/news/a~b?a=1&b=2")
    assert _norm_url(same[0]) == _norm_url(same[1])
    assert _norm_url("https://port.example/News/a") != _norm_url("https://port.example/news/a")  # path case counts
    assert _norm_url("https://port.example/news?id=1") != _norm_url("https://port.example/news?id=2")
    assert _norm_url(None) == ""


def test_strip_marks_removes_only_line_start_marks() -> None:
    assert strip_marks("## Results\n- one - two\nA - B") == "Results\none - two\nA - B"
