"""Web sources against a real HTTP server on 127.0.0.1: pages, feeds, sitemaps, sync, and the
crawler's safety rules (private addresses, robots.txt, timeouts, size caps, errors)."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from index.engine import Engine
from index.errors import UserError
from index.ingest.listings import parse_sitemap
from index.ingest.web import BlockedURL, Fetcher, FetchError, FetchPolicy, is_public_address
from index.sources import SourceKind, WebIngester, load_sources, url_matches
from tests.web_server import Route, Site, article_html, atom, rss, sitemapindex, urlset

# The test server is on 127.0.0.1, so these tests allow private addresses unless a test is about them.
LOCAL = FetchPolicy(allow_private=True, per_host_delay=0.0, per_host_concurrency=4,
                    connect_timeout=2.0, read_timeout=2.0, total_timeout=10.0)

PAGES = {
    "/blog/lighthouse": ("The lighthouse keeper", "2024-02-03",
                         ["Mara Quill kept the Saltmarsh lighthouse for thirty-one years.",
                          "The lamp was converted to electricity in 1962 by the harbour board."]),
    "/blog/orchard": ("Orchard census", "2024-04-09",
                      ["The Fennick orchard grows four hundred and twelve pear trees.",
                       "Volunteers counted the trees over two weekends in March."]),
    "/blog/bridge": ("The rope bridge", "2024-05-20",
                     ["The Tallow Gorge rope bridge spans ninety metres.",
                      "It was rebuilt with steel cables after the storm of 2019."]),
}


@pytest.fixture
def site():
    s = Site().start()
    for path, (title, date, paras) in PAGES.items():
        s.page(path, article_html(title, date, paras))
    s.page("/robots.txt", "User-agent: *\nDisallow: /private/\n", content_type="text/plain")
    yield s
    s.stop()


@pytest.fixture
def web(tmp_path: Path, embedder):
    eng = Engine(tmp_path / "ix", embedder)
    ing = WebIngester(eng, Fetcher(LOCAL))
    yield ing
    ing.close()


def indexed(ing: WebIngester) -> dict[str, object]:
    return {s.source: s for s in ing.engine.sources()}


def assert_not_indexed(ing: WebIngester, url: str) -> None:
    """Nothing half-indexed: no article, no passages, no remembered validators."""
    assert url not in indexed(ing)
    assert ing.engine.article_text(url) is None
    assert ing.state.page(url, "global") == (None, None, None)


# --- pages, feeds, sitemaps -----------------------------------------------------------------------

def test_pages_are_indexed_and_answers_cite_their_url(site: Site, web: WebIngester) -> None:
    urls = [site.base + p for p in PAGES]
    report = web.ingest_urls(urls)
    assert report.ok, report.skipped
    assert sorted(report.added) == sorted(urls)
    src = indexed(web)
    assert src[site.base + "/blog/orchard"].title == "Orchard census"
    assert src[site.base + "/blog/orchard"].url == site.base + "/blog/orchard"
    ans = web.engine.ask("How many pear trees grow in the Fennick orchard?")
    assert ans.found and "four hundred and twelve" in ans.answer
    assert ans.citations[0].url == site.base + "/blog/orchard"
    ua = site.requests("/blog/orchard")[0][0]["user-agent"]
    assert ua.startswith("citebot/")


def test_user_agent_names_the_contact(site: Site, tmp_path: Path, embedder) -> None:
    pol = replace(LOCAL, contact="ops@example.org")
    ing = WebIngester(Engine(tmp_path / "ix2", embedder), Fetcher(pol))
    ing.ingest_urls([site.base + "/blog/bridge"])
    assert "(+ops@example.org)" in site.requests("/blog/bridge")[0][0]["user-agent"]
    ing.close()


def test_feed_entries_take_the_feed_title_and_date(site: Site, web: WebIngester) -> None:
    site.page("/feed.xml", rss([
        ("Keeper of the light", site.base + "/blog/lighthouse", "Sat, 03 Feb 2024 10:00:00 GMT"),
        ("Counting pears", site.base + "/blog/orchard", "Tue, 09 Apr 2024 08:00:00 GMT"),
    ]), content_type="application/rss+xml")
    report = web.ingest_feed(site.base + "/feed.xml")
    assert report.ok and len(report.added) == 2
    src = indexed(web)
    assert src[site.base + "/blog/lighthouse"].title == "Keeper of the light"
    assert src[site.base + "/blog/lighthouse"].date == "2024-02-03"
    assert src[site.base + "/blog/orchard"].date == "2024-04-09"


def test_atom_feed_with_relative_links(site: Site, web: WebIngester) -> None:
    site.page("/atom.xml", atom([("Bridge news", "/blog/bridge", "2024-05-20T12:00:00Z")]),
              content_type="application/atom+xml")
    report = web.ingest_feed(site.base + "/atom.xml")
    assert report.added == [site.base + "/blog/bridge"]
    assert indexed(web)[site.base + "/blog/bridge"].date == "2024-05-20"


def test_sitemap_index_with_patterns_and_max_pages(site: Site, web: WebIngester) -> None:
    for i in range(6):
        site.page(f"/docs/guide-{i}", article_html(f"Guide {i}", "2024-01-01",
                                                   [f"Guide number {i} explains how the widget model W{i} is calibrated."]))
    site.page("/docs/draft-guide", article_html("Draft", "2024-01-01", ["This draft should never be indexed by anyone."]))
    site.page("/sitemap.xml", sitemapindex([site.base + "/sm-docs.xml", site.base + "/sm-blog.xml"]),
              content_type="application/xml")
    site.page("/sm-docs.xml", urlset([site.base + f"/docs/guide-{i}" for i in range(6)] + [site.base + "/docs/draft-guide"]),
              content_type="application/xml")
    site.page("/sm-blog.xml", urlset([site.base + p for p in PAGES]), content_type="application/xml")
    report = web.ingest_sitemap(site.base + "/sitemap.xml", include=["/docs/"], exclude=["*draft*"], max_pages=4)
    assert report.ok, report.skipped
    assert sorted(report.added) == [site.base + f"/docs/guide-{i}" for i in range(4)]
    assert not site.requests("/docs/draft-guide") and not site.requests("/blog/orchard")


def test_plain_text_and_gzip_sitemaps_parse() -> None:
    import gzip

    pages, children = parse_sitemap(b"https://a.example/x\nnot a url\nhttps://a.example/y\n", "https://a.example/s.txt")
    assert [p.url for p in pages] == ["https://a.example/x", "https://a.example/y"] and children == []
    gz = gzip.compress(urlset(["https://a.example/z"]).encode())
    assert [p.url for p in parse_sitemap(gz, "https://a.example/s.xml.gz")[0]] == ["https://a.example/z"]
    with pytest.raises(FetchError):
        parse_sitemap(b"<html><body>hello</body></html>", "https://a.example/")


def test_url_patterns() -> None:
    assert url_matches("https://x.org/docs/a", ["/docs/"], [])
    assert not url_matches("https://x.org/blog/a", ["/docs/"], [])
    assert not url_matches("https://x.org/docs/draft-a", [], ["*draft*"])
    assert url_matches("https://x.org/anything", [], [])


# --- keeping in sync ----------------------------------------------------------------------------

def write_toml(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "citebot.toml"
    p.write_text(text)
    return p


def test_second_sync_is_conditional_and_edits_are_reindexed(site: Site, web: WebIngester, tmp_path: Path) -> None:
    items = [(PAGES[p][0], site.base + p, "Mon, 01 Jan 2024 00:00:00 GMT") for p in PAGES]
    site.page("/feed.xml", rss(items), content_type="application/rss+xml")
    sources = load_sources(write_toml(tmp_path, f'[[feed]]\nurl = "{site.base}/feed.xml"\ncollection = "news"\n'))
    assert sources[0].kind is SourceKind.FEED and sources[0].collection == "news"

    first = web.sync(sources)
    assert first.ok and first.count("added") == 3
    second = web.sync(sources)
    assert second.ok and second.count("unchanged") == 3 and second.count("added") == second.count("updated") == 0
    # Each unchanged page (and the feed) cost one conditional request, answered 304.
    for path in ["/feed.xml", *PAGES]:
        headers, status = site.requests(path)[-1]
        assert "if-none-match" in headers and status == 304

    # The bridge page is edited; the lighthouse entry drops out of the feed.
    site.page("/blog/bridge", article_html("The rope bridge", "2024-05-20",
                                           ["The Tallow Gorge rope bridge was replaced by a stone arch in 2025.",
                                            "The arch is one hundred and four metres long."]))
    site.page("/feed.xml", rss([i for i in items if "lighthouse" not in i[1]]), content_type="application/rss+xml")
    third = web.sync(sources)
    assert third.ok
    assert third.results[0].report.updated == [site.base + "/blog/bridge"]
    assert third.count("unchanged") == 1
    text = web.engine.article_text(site.base + "/blog/bridge")
    assert "stone arch" in text and "steel cables" not in text
    assert web.engine.ask("What replaced the Tallow Gorge rope bridge?", ["news"]).found
    # Dropped from the feed, still indexed and still answerable.
    assert site.base + "/blog/lighthouse" in indexed(web)
    assert web.engine.ask("Who kept the Saltmarsh lighthouse?", ["news"]).found


def test_content_hash_match_without_validators(site: Site, web: WebIngester) -> None:
    site.page("/plain", "Plain notes\n\nThe kiln at Ember Row fires at 1,280 degrees for nine hours.\n",
              content_type="text/plain", validators=False)
    assert web.ingest_urls([site.base + "/plain"]).added == [site.base + "/plain"]
    again = web.ingest_urls([site.base + "/plain"])
    assert again.unchanged == [site.base + "/plain"] and not again.added and not again.updated
    assert site.requests("/plain")[-1][1] == 200  # no validators: a full GET, matched by content hash


def test_forgotten_page_is_fetched_in_full_again(site: Site, web: WebIngester) -> None:
    url = site.base + "/blog/orchard"
    web.ingest_urls([url])
    web.engine.forget(url)
    assert web.ingest_urls([url]).added == [url]
    assert "if-none-match" not in site.requests("/blog/orchard")[-1][0]


def test_folder_url_and_sitemap_sources_in_one_file(site: Site, web: WebIngester, tmp_path: Path) -> None:
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "ferry.md").write_text("# Ferry\n\nThe Gullwing ferry leaves Portmere at seven each morning.\n")
    site.page("/sm.xml", urlset([site.base + "/blog/bridge"]), content_type="application/xml")
    toml = write_toml(tmp_path, f"""
[defaults]
collection = "team"

[[folder]]
path = "notes"

[[url]]
urls = ["{site.base}/blog/orchard", "{site.base}/gone"]
collection = "web"

[[sitemap]]
url = "{site.base}/sm.xml"
max_pages = 10

[[url]]
url = "{site.base}/blog/lighthouse"
collection = "web"
""")
    sources = load_sources(toml)
    assert [(s.kind.value, s.collection) for s in sources] == [
        ("folder", "team"), ("url", "web"), ("url", "web"), ("url", "web"), ("sitemap", "team")]
    report = web.sync(sources)
    assert not report.ok and report.count("added") == 4 and report.count("skipped") == 1
    out = report.to_json()
    assert out["added"] == 4 and len(out["sources"]) == 5
    per = {s["target"]: s for s in out["sources"]}
    assert per[site.base + "/gone"]["skipped"][0]["file"] == site.base + "/gone"
    assert per[site.base + "/blog/lighthouse"]["added"] == [site.base + "/blog/lighthouse"]
    assert per[site.base + "/blog/lighthouse"]["passages"] >= 1
    assert out["passages"] == sum(s["passages"] for s in out["sources"]) == sum(i.passages for i in web.engine.sources())


@pytest.mark.parametrize("text, message", [
    ("[[feed]]\nurl = 'ftp://x.org/f'\n", "only http"),
    ("[[feed]]\nlink = 'https://x.org/f'\n", "unknown key 'link'"),
    ("[[rss]]\nurl = 'https://x.org/f'\n", "unknown section 'rss'"),
    ("[[sitemap]]\nurl = 'https://x.org/s'\nmax_pages = 0\n", "max_pages"),
    ("[[feed\n", "not valid TOML"),
])
def test_sources_file_mistakes_are_explained(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(UserError, match=message):
        load_sources(write_toml(tmp_path, text))


# --- safety and politeness ---------------------------------------------------------------------

@pytest.mark.parametrize("address, public", [
    ("127.0.0.1", False), ("10.1.2.3", False), ("172.16.0.9", False), ("192.168.1.1", False),
    ("169.254.169.254", False), ("100.100.100.200", False), ("0.0.0.0", False), ("::1", False),
    ("fe80::1", False), ("fd00:ec2::254", False), ("::ffff:10.0.0.1", False), ("224.0.0.1", False),
    ("93.184.215.14", True), ("2606:2800:21f:cb07:6820:80da:af6b:8b2c", True),
])
def test_address_classes(address: str, public: bool) -> None:
    assert is_public_address(address) is public


def test_private_addresses_refused_without_the_setting(site: Site, tmp_path: Path, embedder) -> None:
    strict = replace(LOCAL, allow_private=False)
    ing = WebIngester(Engine(tmp_path / "ix3", embedder), Fetcher(strict))
    url = site.base + "/blog/orchard"
    report = ing.ingest_urls([url])
    assert "private or local network" in report.skipped[0][1]
    assert not site.log, "no request may reach a private address"
    assert_not_indexed(ing, url)
    ing.close()


def test_names_are_checked_after_dns_resolution(site: Site) -> None:
    """A public-looking name that resolves to loopback or the metadata address is refused."""
    answers = {"intranet.example": ["127.0.0.1"], "meta.example": ["169.254.169.254"],
               "mixed.example": ["93.184.215.14", "10.0.0.5"]}
    strict = replace(LOCAL, allow_private=False)
    f = Fetcher(strict, resolve=lambda host, port: answers[host])
    for host in answers:
        with pytest.raises(BlockedURL, match="private or local"):
            f.get(f"http://{host}:{site.port}/blog/orchard")
    assert not site.log


def test_redirect_to_a_private_address_is_refused(site: Site, tmp_path: Path, embedder) -> None:
    """'localhost' is trusted by name (CITEBOT_PRIVATE_URL_HOSTS), 127.0.0.1 is not: the redirect hop is checked."""
    site.page("/secret", "internal admin page with secrets", content_type="text/plain")
    site.routes["/go"] = Route(status=302, location=f"http://127.0.0.1:{site.port}/secret")
    site.routes["/ok"] = Route(status=301, location="/blog/bridge")
    strict = replace(LOCAL, allow_private=False, private_hosts=frozenset({"localhost"}))
    ing = WebIngester(Engine(tmp_path / "ix4", embedder), Fetcher(strict))
    base = f"http://localhost:{site.port}"
    report = ing.ingest_urls([base + "/go", base + "/ok"])
    assert [u for u, _ in report.skipped] == [base + "/go"]
    assert "private or local network" in report.skipped[0][1]
    assert not site.requests("/secret")
    assert_not_indexed(ing, base + "/go")
    # A redirect within the trusted host is followed; the citation links the final page.
    assert report.added == [base + "/ok"]
    assert indexed(ing)[base + "/ok"].url == base + "/blog/bridge"
    ing.close()


def test_robots_txt_disallow_is_honoured(site: Site, web: WebIngester) -> None:
    site.page("/private/plans", article_html("Plans", "2024-01-01", ["The secret plan is to build a tower of cheese."]))
    report = web.ingest_urls([site.base + "/private/plans", site.base + "/blog/orchard"])
    assert report.added == [site.base + "/blog/orchard"]
    assert "robots.txt" in report.skipped[0][1]
    assert not site.requests("/private/plans")
    assert len(site.requests("/robots.txt")) == 1  # fetched once per site
    assert_not_indexed(web, site.base + "/private/plans")


def test_slow_oversized_failing_and_wrong_type_pages_are_skipped_cleanly(site: Site, tmp_path: Path, embedder) -> None:
    pol = replace(LOCAL, read_timeout=0.5, max_bytes=20_000)
    ing = WebIngester(Engine(tmp_path / "ix5", embedder), Fetcher(pol))
    big = article_html("Big", "2024-01-01", ["A very long paragraph about nothing in particular."] * 800)
    site.page("/slow", article_html("Slow", "2024-01-01", ["This page arrives too late."]), delay=2.0)
    site.page("/big", big)
    site.page("/big-stream", big, declare_length=False)  # no Content-Length: the cap applies while reading
    site.routes["/broken"] = Route(status=500, body=b"oops")
    site.page("/logo.png", b"\x89PNG....", content_type="image/png")
    bad = ["/slow", "/big", "/big-stream", "/broken", "/logo.png", "/missing"]
    report = ing.ingest_urls([site.base + p for p in bad] + [site.base + "/blog/lighthouse"])
    reasons = dict(report.skipped)
    assert report.added == [site.base + "/blog/lighthouse"]
    assert "did not answer within 0.5 s" in reasons[site.base + "/slow"]
    assert "over the" in reasons[site.base + "/big"] and "over the" in reasons[site.base + "/big-stream"]
    assert "HTTP 500" in reasons[site.base + "/broken"]
    assert "not 'image/png'" in reasons[site.base + "/logo.png"]
    assert "HTTP 404" in reasons[site.base + "/missing"]
    for p in bad:
        assert_not_indexed(ing, site.base + p)
    assert ing.engine.ask("Who kept the Saltmarsh lighthouse?").found
    ing.close()


def test_a_page_that_fails_later_keeps_its_last_good_version(site: Site, web: WebIngester) -> None:
    url = site.base + "/blog/orchard"
    web.ingest_urls([url])
    site.routes["/blog/orchard"] = Route(status=500, body=b"down")
    report = web.ingest_urls([url])
    assert "HTTP 500" in report.skipped[0][1]
    assert "four hundred and twelve" in web.engine.article_text(url)


def test_redirect_loops_and_bad_schemes_are_refused(site: Site) -> None:
    site.routes["/loop"] = Route(status=302, location="/loop")
    site.routes["/file"] = Route(status=302, location="file:///etc/passwd")
    f = Fetcher(LOCAL)
    with pytest.raises(FetchError, match="redirects"):
        f.get(site.base + "/loop")
    with pytest.raises(BlockedURL, match="only http"):
        f.get(site.base + "/file")


def test_robots_txt_is_read_again_and_a_failing_one_means_wait(site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    import index.ingest.web as web_mod

    f = Fetcher(LOCAL)
    with pytest.raises(BlockedURL, match="robots.txt"):
        f.get(site.base + "/private/x")
    site.page("/robots.txt", "User-agent: *\nDisallow:\n", content_type="text/plain")
    site.page("/private/x", "now public", content_type="text/plain")
    with pytest.raises(BlockedURL):  # cached for ROBOTS_TTL
        f.get(site.base + "/private/x")
    monkeypatch.setattr(web_mod, "ROBOTS_TTL", 0.0)
    monkeypatch.setattr(web_mod, "ROBOTS_RETRY", 0.0)
    f = Fetcher(LOCAL)
    assert f.get(site.base + "/private/x").body == b"now public"
    site.routes["/robots.txt"] = Route(status=503, body=b"busy")  # RFC 9309: unreachable = disallow all
    with pytest.raises(BlockedURL, match="robots.txt"):
        f.get(site.base + "/blog/orchard")
    del site.routes["/robots.txt"]  # 404 = no rules
    assert f.get(site.base + "/blog/orchard").status == 200


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "2130706433", "0x7f.1", "[::ffff:127.0.0.1]", "[::1]"])
def test_loopback_spellings_are_all_refused(site: Site, host: str) -> None:
    """Decimal, hex, IPv4-mapped and named spellings of loopback: resolved first, then refused."""
    f = Fetcher(replace(LOCAL, allow_private=False))
    with pytest.raises(FetchError):
        f.get(f"http://{host}:{site.port}/blog/orchard")
    assert not site.log


def test_a_page_given_as_feed_is_explained(site: Site, web: WebIngester) -> None:
    report = web.ingest_feed(site.base + "/blog/orchard")
    assert "not an RSS or Atom feed" in report.skipped[0][1]
    assert not indexed(web)


def test_a_date_in_the_url_path_dates_an_undated_page(site: Site, web: WebIngester) -> None:
    site.page("/2023/11/05/harvest-fair", "<html><head><title>Harvest fair</title></head><body><article>"
              "<p>The harvest fair at Coldmere sold three hundred jars of quince jelly this year.</p>"
              "<p>Stalls stayed open until the lanterns were lit at dusk.</p></article></body></html>")
    web.ingest_urls([site.base + "/2023/11/05/harvest-fair"])
    row = indexed(web)[site.base + "/2023/11/05/harvest-fair"]
    assert row.date == "2023-11-05" and row.title == "Harvest fair"
