"""`citebot ingest URL|--feed|--sitemap` and `citebot sync` as a user runs them: real process, real
model, real index, a real HTTP server on 127.0.0.1."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.bot.test_cli import run
from tests.web_server import Route, Site, article_html, rss, urlset

ALLOW = {"CITEBOT_ALLOW_PRIVATE_URLS": "1", "CITEBOT_CRAWL_DELAY": "0"}


@pytest.fixture
def site():
    s = Site().start()
    for i, (name, fact) in enumerate([("heron", "The grey heron colony at Millpond has sixty nests."),
                                      ("canal", "The Brindle canal lock lifts boats four metres."),
                                      ("mill", "The Oakridge watermill ground flour until 1958.")]):
        s.page(f"/news/{name}", article_html(name.title(), f"2024-0{i + 1}-15", [fact, "More news follows next week."]))
    yield s
    s.stop()


def test_ingest_urls_feed_and_sitemap(site: Site, tmp_path: Path) -> None:
    ix = str(tmp_path / "ix")
    site.routes["/down"] = Route(status=500, body=b"down")
    r = run("ingest", "--index", ix, "--json", site.base + "/news/heron", site.base + "/down", env=ALLOW)
    assert r.returncode == 1, r.stderr  # a skipped page makes the exit code 1, as for files
    out = json.loads(r.stdout)
    assert out["added"] == [site.base + "/news/heron"]
    assert out["skipped"][0]["file"] == site.base + "/down" and "HTTP 500" in out["skipped"][0]["reason"]

    site.page("/feed", rss([("Canal lock", site.base + "/news/canal", "Mon, 05 Feb 2024 09:00:00 GMT")]),
              content_type="application/rss+xml")
    site.page("/sitemap.xml", urlset([site.base + "/news/mill", site.base + "/news/heron", site.base + "/other"]),
              content_type="application/xml")
    r = run("ingest", "--index", ix, "--feed", site.base + "/feed", "--sitemap", site.base + "/sitemap.xml",
            "--include", "/news/", "--collection", "local", env=ALLOW)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.startswith("3 added, 0 updated, 0 unchanged, 0 skipped")
    assert not site.requests("/other")
    r = run("ask", "--index", ix, "--json", "--collection", "local", "How far does the Brindle canal lock lift boats?")
    ans = json.loads(r.stdout)
    assert ans["found"] and ans["citations"][0]["url"] == site.base + "/news/canal"
    # The feed's title wins; the date is the one the page itself states (issue 24), not the feed's.
    assert ans["citations"][0]["title"] == "Canal lock" and ans["citations"][0]["date"] == "2024-02-15"
    assert ans["citations"][0]["date_source"] == "meta" and ans["citations"][0]["date_estimated"] is False


def test_private_address_refused_without_the_setting(site: Site, tmp_path: Path) -> None:
    r = run("ingest", "--index", str(tmp_path / "ix"), site.base + "/news/heron")
    assert r.returncode == 1
    assert "private or local network" in r.stdout and "CITEBOT_ALLOW_PRIVATE_URLS" in r.stdout
    assert not site.log
    assert "Traceback" not in r.stderr


def test_sync_twice_then_an_edit(site: Site, tmp_path: Path) -> None:
    ix = str(tmp_path / "ix")
    site.page("/feed", rss([(n.title(), site.base + f"/news/{n}", "Mon, 05 Feb 2024 09:00:00 GMT")
                            for n in ("heron", "canal", "mill")]), content_type="application/rss+xml")
    toml = tmp_path / "citebot.toml"
    toml.write_text(f'[[feed]]\nurl = "{site.base}/feed"\ncollection = "news"\n')
    r = run("sync", "--index", ix, "--file", str(toml), env=ALLOW)
    assert r.returncode == 0, r.stdout + r.stderr
    # Not a terminal: one summary line, no progress bar.
    assert r.stdout.splitlines() == [r.stdout.splitlines()[0]] and r.stdout.startswith("sync: 3 added")
    assert "\r" not in r.stderr

    site.page("/news/mill", article_html("Mill", "2024-03-15", ["The Oakridge watermill reopened as a museum in 2023."]))
    r = run("sync", "--index", ix, "--json", env={**ALLOW, "CITEBOT_SOURCES_FILE": str(toml)})
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert (out["added"], out["updated"], out["unchanged"]) == (0, 1, 2)
    assert out["sources"][0]["updated"] == [site.base + "/news/mill"]
    assert sum(1 for h, s in site.requests("/news/heron") if s == 304) == 1


def test_sync_explains_a_missing_or_broken_sources_file(tmp_path: Path) -> None:
    r = run("sync", "--index", str(tmp_path / "ix"), cwd=tmp_path)
    assert r.returncode == 1 and "no sources file" in r.stderr and "Traceback" not in r.stderr
    (tmp_path / "bad.toml").write_text("[[feed]]\nurl = 'gopher://x'\n")
    r = run("sync", "--index", str(tmp_path / "ix"), "--file", str(tmp_path / "bad.toml"))
    assert r.returncode == 1 and "only http" in r.stderr
    r = run("sync", "--index", str(tmp_path / "ix"), "--file", str(tmp_path / "bad.toml"), "--every", "5s")
    assert r.returncode == 1 and "under a minute" in r.stderr
    r = run("ingest", "--index", str(tmp_path / "ix"))
    assert r.returncode == 2 and "--feed" in r.stderr


def test_in_process_sync_loop_indexes_the_sources(site: Site, tmp_path: Path, embedder) -> None:
    """CITEBOT_SYNC_EVERY: the loop `citebot run` starts beside the bots runs passes off the event loop."""
    import asyncio

    from bot.config import Settings
    from bot.sync import parse_every, sync_forever
    from index.engine import Engine

    toml = tmp_path / "citebot.toml"
    toml.write_text(f'[[url]]\nurl = "{site.base}/news/heron"\n')
    settings = Settings(_env_file=None, CITEBOT_SOURCES_FILE=str(toml), CITEBOT_ALLOW_PRIVATE_URLS="1",
                        CITEBOT_CRAWL_DELAY="0", CITEBOT_SYNC_EVERY="30m")
    engine = Engine(tmp_path / "ix", embedder)
    assert parse_every(settings.sync_every) == 1800

    async def scenario() -> None:
        task = asyncio.create_task(sync_forever(engine, settings, 1800, first_delay=0))
        for _ in range(300):
            if engine.sources():
                break
            await asyncio.sleep(0.05)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    asyncio.run(scenario())
    assert [s.source for s in engine.sources()] == [site.base + "/news/heron"]


@pytest.mark.parametrize("text, seconds", [("30m", 1800), ("2h", 7200), ("1d", 86400), ("90", 90), ("1.5h", 5400)])
def test_sync_intervals(text: str, seconds: float) -> None:
    from bot.sync import parse_every

    assert parse_every(text) == seconds


@pytest.mark.parametrize("text", ["soon", "10s", "-5m", ""])
def test_bad_sync_intervals_are_explained(text: str) -> None:
    from bot.sync import parse_every
    from index.errors import UserError

    with pytest.raises(UserError):
        parse_every(text)
