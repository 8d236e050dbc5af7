"""Every route and every refusal of the web page, over plain HTTP against a real server on 127.0.0.1."""
from __future__ import annotations

import csv
import io
import re
import shutil
import time
from pathlib import Path

import pytest

from tests.bot.web.conftest import ADMIN_TOKEN, READ_TOKEN, Running, make_site
from tests.conftest import EXAMPLES

PAGES = ["/ask?q=who+founded+01.AI%3F", "/unanswered", "/unanswered.csv", "/feedback", "/sources", "/metrics"]
BEARER_READ = {"Authorization": f"Bearer {READ_TOKEN}"}
BEARER_ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def _text(html: str) -> str:
    """Roughly what a reader sees: tags dropped."""
    return re.sub(r"<[^>]+>", "", html)


# --- refusals ------------------------------------------------------------------------------------

@pytest.mark.parametrize("path", PAGES)
def test_without_a_token_a_script_gets_401_and_no_data(web, path: str) -> None:
    web.service.feedback.record(platform="shell", question="secret unanswered wording", vote=0)
    r = web.client().get(path, html=False)
    assert r.status == 401
    assert r.header("WWW-Authenticate").startswith("Bearer")
    assert "secret unanswered" not in r.body and "01.AI" not in r.body


@pytest.mark.parametrize("path", [p for p in PAGES if p not in ("/metrics", "/unanswered.csv")])
def test_without_a_token_a_browser_is_sent_to_sign_in_and_sees_no_data(web, path: str) -> None:
    web.service.feedback.record(platform="shell", question="secret unanswered wording", vote=0)
    r = web.client().get(path)
    assert r.status == 303
    assert r.header("Location").startswith("/login?next=")
    assert "secret unanswered" not in r.body
    login = web.client().get(r.header("Location"))
    assert login.status == 200 and 'name="token"' in login.body


@pytest.mark.parametrize("token", ["", "wrong-token-wrong-token", READ_TOKEN + "x", READ_TOKEN[:-1]])
def test_a_wrong_bearer_token_is_refused(web, token: str) -> None:
    r = web.client().get("/unanswered", headers={"Authorization": f"Bearer {token}"})
    assert r.status == 401


@pytest.mark.parametrize("path", ["/sources/forget", "/sources/sync", "/logout"])
def test_changing_routes_refuse_without_a_token(web, path: str) -> None:
    r = web.client().post(path, {"key": "x", "csrf": "x"})
    assert r.status == 401
    assert len(web.service.engine.sources()) == 4


def test_wrong_sign_in_is_refused_and_repeated_guessing_is_slowed(web) -> None:
    c = web.client()
    r = c.post("/login", {"token": "not-the-token-at-all", "next": "/"})
    assert r.status == 401 and "not right" in r.body
    assert not list(c.jar)
    for _ in range(12):
        r = c.post("/login", {"token": "still-wrong-token-guess", "next": "/"})
    assert r.status == 429
    assert c.post("/login", {"token": READ_TOKEN, "next": "/"}).status == 429  # even the right one, for a minute


def test_sign_in_sets_a_safe_session_cookie_and_keeps_next_on_this_site(web) -> None:
    c = web.client()
    r = c.post("/login", {"token": READ_TOKEN, "next": "/feedback"})
    assert r.status == 303 and r.header("Location") == "/feedback"
    cookie = r.header("Set-Cookie")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # plain http on 127.0.0.1: a Secure cookie would never come back
    assert READ_TOKEN not in cookie
    assert c.get("/feedback").status == 200
    for evil in ("//evil.example/x", "https://evil.example/", "/\\evil.example", "javascript:alert(1)"):
        r = web.client().post("/login", {"token": READ_TOKEN, "next": evil})
        assert r.header("Location") == "/", evil


def test_cookie_is_secure_behind_an_https_proxy(web) -> None:
    r = web.client().post("/login", {"token": READ_TOKEN, "next": "/"}, headers={"X-Forwarded-Proto": "https"})
    assert "Secure" in r.header("Set-Cookie")


def test_a_stale_session_is_sent_to_sign_in_again(web) -> None:
    c = web.client()
    c.sign_in(READ_TOKEN)
    web.site.sessions._by_id.clear()  # what a restart does
    r = c.get("/unanswered")
    assert r.status == 303 and "expired=1" in r.header("Location")
    page = c.get(r.header("Location"))
    assert page.status == 200 and "session has ended" in page.body


def test_sign_out_ends_the_session(web) -> None:
    c = web.client()
    c.sign_in(READ_TOKEN)
    assert c.post("/logout", {"csrf": c.csrf("/unanswered")}).status == 303
    assert c.get("/unanswered").status == 303


def test_forms_without_the_session_csrf_token_are_refused(web) -> None:
    c = web.client()
    c.sign_in(ADMIN_TOKEN)
    page = c.get("/sources").body
    key = re.search(r'name="key" value="([0-9a-f]+)"', page).group(1)
    for forged in ({"key": key}, {"key": key, "csrf": ""}, {"key": key, "csrf": "guessed-csrf-value"}):
        r = c.post("/sources/forget", forged)
        assert r.status == 403 and "Form refused" in r.body
    other = web.client()
    other.sign_in(ADMIN_TOKEN)
    assert c.post("/sources/forget", {"key": key, "csrf": other.csrf()}).status == 403  # another session's token
    assert len(web.service.engine.sources()) == 4


def test_read_only_token_cannot_forget_or_sync(web) -> None:
    c = web.client()
    c.sign_in(READ_TOKEN)
    page = c.get("/sources").body
    assert "Forget" not in page and "Sync now" not in page
    csrf = c.csrf("/unanswered")
    assert c.post("/sources/forget", {"key": "0" * 24, "csrf": csrf}).status == 403
    assert c.post("/sources/sync", {"csrf": csrf}).status == 403
    assert web.client().post("/sources/sync", {}, headers=BEARER_READ).status == 403


# --- pages ---------------------------------------------------------------------------------------

def test_ask_shows_the_quote_its_source_and_the_quoted_span_marked(web) -> None:
    c = web.client()
    c.sign_in(READ_TOKEN)
    r = c.get("/ask?q=who+founded+01.AI%3F")
    assert r.status == 200
    assert "Kai-Fu Lee" in r.body
    marked = re.findall(r"<mark>(.*?)</mark>", r.body, re.S)
    assert any("Kai-Fu Lee" in m for m in marked)
    assert 'href="https://example.org/citebot-samples/01ai-profile"' in r.body
    assert "2024-03-04" in r.body
    assert str(EXAMPLES) not in r.body  # file sources by name only
    assert "community-garden-2024-05-12.txt" in r.body or "Riverside" in r.body
    assert re.search(r"app;dur=\d", r.header("Server-Timing"))


def test_ask_not_found_says_so_shows_closest_and_is_recorded(web) -> None:
    c = web.client()
    c.sign_in(READ_TOKEN)
    r = c.get("/ask?q=how+do+I+bake+sourdough+bread%3F")
    assert r.status == 200
    assert "I couldn" in _text(r.body)
    rows = web.service.feedback.report()
    assert rows[0].question == "how do I bake sourdough bread?" and rows[0].platform == "web"
    assert "how do I bake sourdough bread?" in c.get("/unanswered").body


def test_ask_with_a_bearer_token_can_have_json_without_server_paths(web) -> None:
    r = web.client().get("/ask?q=who+founded+01.AI%3F", headers=BEARER_READ | {"Accept": "application/json"}, html=False)
    assert r.status == 200
    obj = r.json()
    assert obj["found"] and "Kai-Fu Lee" in obj["answer"]
    assert all(not c["source"].startswith("/") for c in obj["citations"])


@pytest.mark.parametrize("q, status, says", [
    ("x" * 20_000, 400, "characters long"),
    ("?!?! …", 400, "some words"),
    ("   ", 400, "Ask me a question"),
])
def test_bad_questions_get_a_friendly_page(web, q: str, status: int, says: str) -> None:
    from urllib.parse import quote

    c = web.client()
    c.sign_in(READ_TOKEN)
    r = c.get("/ask?q=" + quote(q))
    assert r.status == status
    assert says in r.body and "Traceback" not in r.body
    assert "<!doctype html>" in r.body


def test_odd_characters_are_escaped_never_run(web) -> None:
    from urllib.parse import quote

    c = web.client()
    c.sign_in(READ_TOKEN)
    q = "<script>alert(1)</script> \"'&<b>bold</b> 👩‍🔬 who founded 01.AI?"
    r = c.get("/ask?q=" + quote(q))
    assert r.status == 200
    assert "<script>alert(1)" not in r.body and "<b>bold" not in r.body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in r.body
    page = c.get("/unanswered").body
    assert "<script>alert" not in page


def test_an_article_titled_like_a_script_shows_as_text(web, tmp_path: Path) -> None:
    evil = tmp_path / "evil.html"
    evil.write_text("<html><head><title><script>alert(1)</script></title></head><body><p>The lighthouse keeper "
                    "rings the bell at noon every day. Visitors may climb the tower on Sundays.</p></body></html>")
    report = web.service.engine.ingest_paths([evil])
    assert report.ok, report.skipped
    assert any("<script>" in s.title for s in web.service.engine.sources())
    c = web.client()
    c.sign_in(ADMIN_TOKEN)
    page = c.get("/sources").body
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    answer = c.get("/ask?q=when+does+the+lighthouse+keeper+ring+the+bell%3F").body
    assert "<script>alert(1)</script>" not in answer


def test_unanswered_groups_similar_wording_counts_and_exports_csv(web) -> None:
    fb = web.service.feedback
    fb.record(platform="discord", scope="42", user="u1", question="How do I reset my password?", vote=0)
    fb.record(platform="slack", scope="T1", user="u2", question="how to reset my password", vote=0, auto=True)
    fb.record(platform="shell", user="local", question="reset password?", vote=0)
    fb.record(platform="shell", user="local", question="=HYPERLINK(\"http://evil\")  what is the refund policy", vote=0)
    fb.record(platform="shell", user="local", question="who founded 01.AI?", answer="x", vote=-1)  # a vote, not unanswered
    c = web.client()
    c.sign_in(READ_TOKEN)
    page = c.get("/unanswered").body
    text = _text(page)
    assert "reset password?" in text and "how to reset my password" in text
    assert re.search(r'class="num">3<', page)
    assert "discord:42" in text and "slack:T1" in text and "global" in text
    assert "unanswered" in text and "not found" in text
    assert "who founded 01.AI?" not in text
    assert text.index("refund") < text.index("reset password?")  # newest first
    r = c.get("/unanswered.csv")
    assert r.status == 200 and r.header("Content-Type").startswith("text/csv")
    assert "attachment" in r.header("Content-Disposition")
    rows = list(csv.DictReader(io.StringIO(r.body)))
    assert [int(x["count"]) for x in rows] == [1, 3]
    assert rows[0]["question"].startswith("'=")  # a spreadsheet shows it, never runs it


def test_feedback_lists_votes_with_question_quote_and_source(web) -> None:
    answer = web.service.engine.ask("who founded 01.AI?")
    web.service.feedback.record(platform="discord", scope="42", user="u1", question="who founded 01.AI?",
                                answer=answer.answer, vote=-1)
    web.service.feedback.record(platform="slack", scope="T1", user="u2", question="what did OpenAI unveil?",
                                answer="a sentence no article holds anywhere", vote=1)
    c = web.client()
    c.sign_in(READ_TOKEN)
    r = c.get("/feedback")
    assert r.status == 200
    assert "👎" in r.body and "👍" in r.body
    assert "Kai-Fu Lee" in r.body and "Who is behind 01.AI? A short profile" in r.body
    assert "no longer indexed" in r.body
    assert str(EXAMPLES) not in r.body


def test_sources_lists_each_article_per_collection_without_server_paths(web, tmp_path: Path) -> None:
    other = tmp_path / "handbook"
    other.mkdir()
    (other / "leave.md").write_text("# Leave policy\n\nEvery employee has 30 days of paid leave each year.\n")
    web.service.engine.ingest_paths([other], collection="handbook")
    c = web.client()
    c.sign_in(READ_TOKEN)
    r = c.get("/sources")
    text = _text(r.body)
    assert r.status == 200
    for title in ("Who is behind 01.AI? A short profile", "Riverside community garden doubles its plots", "Leave policy"):
        assert title in text
    assert "handbook" in text and "global" in text
    assert "https://example.org/citebot-samples/sora" in r.body
    assert "not synced (added by hand)" in text
    assert str(EXAMPLES) not in r.body and str(tmp_path) not in r.body


def test_admin_forgets_one_article_and_it_is_gone(web) -> None:
    c = web.client()
    c.sign_in(ADMIN_TOKEN)
    page = c.get("/sources").body
    row = re.search(r"Riverside community garden doubles its plots.*?name=\"key\" value=\"([0-9a-f]+)\"", page, re.S)
    r = c.post("/sources/forget", {"key": row.group(1), "csrf": c.csrf()})
    assert r.status == 303 and r.header("Location") == "/sources"
    after = c.get("/sources").body
    assert "Forgot “Riverside community garden doubles its plots”" in after
    assert len(web.service.engine.sources()) == 3
    assert after.count("Riverside community garden") == 1  # only in the message
    assert "Forget this article" in after
    r = c.post("/sources/forget", {"key": row.group(1), "csrf": c.csrf()})
    assert "no longer indexed" in c.get("/sources").body


def test_a_script_forgets_with_the_admin_bearer_token_no_csrf_needed(web) -> None:
    from bot.web.views import source_key

    s = next(s for s in web.service.engine.sources() if "Sora" in s.title)
    r = web.client().post("/sources/forget", {"key": source_key(s.collection, s.source)}, headers=BEARER_ADMIN)
    assert r.status == 303
    assert all("Sora" not in s.title for s in web.service.engine.sources())


def _sync(c, web) -> str:
    assert c.post("/sources/sync", {"csrf": c.csrf()}).status == 303
    deadline = time.time() + 120
    while web.site.sync.running and time.time() < deadline:
        time.sleep(0.2)
    return c.get("/sources").body


def test_admin_starts_a_sync_and_sees_each_outcome(web, tmp_path: Path) -> None:
    folder = tmp_path / "articles"
    shutil.copytree(EXAMPLES, folder, ignore=shutil.ignore_patterns("*.toml"))
    (tmp_path / "citebot.toml").write_text(f'[[folder]]\npath = "{folder}"\ncollection = "handbook"\n'
                                           '[[folder]]\npath = "/no/such/folder/here"\n')
    c = web.client()
    c.sign_in(ADMIN_TOKEN)
    first = _sync(c, web)
    assert "Sync started" in first or "Last sync" in first
    assert len(re.findall(r'pill added">added', first)) == 4
    garden = folder / "community-garden-2024-05-12.txt"
    garden.write_text(garden.read_text() + "\nThe garden's tool shed opens at eight.\n")
    (folder / "broken.pdf").write_bytes(b"%PDF-1.4 not really a pdf")
    page = _sync(c, web)
    text = _text(page)
    assert "Last sync" in text and "1 skipped" in text
    assert len(re.findall(r'pill updated">updated', page)) == 1  # the garden article changed
    assert len(re.findall(r'pill unchanged">unchanged', page)) == 3
    assert "broken.pdf" in text and "damaged" in text  # the unreadable file, by name, with its reason
    assert "here: no such folder" in text  # the folder's error, by its name only
    assert str(tmp_path) not in page and "/no/such/folder" not in page
    metrics = c.get("/metrics", html=False).body
    assert "citebot_sync_passes_total 2" in metrics and 'citebot_sync_articles_total{outcome="skipped"} 1' in metrics
    health = c.get("/healthz", html=False).json()
    assert health["last_sync"]["updated"] == 1 and health["last_sync"]["errors"] == 1


def test_sync_without_a_sources_file_says_so(web) -> None:
    c = web.client()
    c.sign_in(ADMIN_TOKEN)
    c.post("/sources/sync", {"csrf": c.csrf()})
    page = c.get("/sources").body
    assert "no sources file (citebot.toml)" in page.replace("There is no", "no")


def test_healthz_shows_only_the_status_without_a_token_and_details_with_one(web) -> None:
    web.client().get("/ask?q=how+do+I+bake+sourdough+bread%3F", headers=BEARER_READ)
    r = web.client().get("/healthz", html=False)
    assert r.status == 200 and r.json() == {"status": "ok"}
    d = web.client().get("/healthz", headers=BEARER_READ, html=False).json()
    assert d["status"] == "ok" and d["articles"] == 4 and d["passages"] > 0
    assert d["generation"] and d["model"] and d["model_backend"] and d["reader"] == "flat"
    assert d["last_sync"] is None
    assert "sourdough" not in str(d)


def test_metrics_count_questions_answered_refused_and_latency_without_question_text(web) -> None:
    h = BEARER_READ | {"Accept": "application/json"}
    c = web.client()
    c.get("/ask?q=who+founded+01.AI%3F", headers=h)
    c.get("/ask?q=how+do+I+bake+sourdough+bread%3F", headers=h)
    c.get("/ask?q=%3F%3F%3F", headers=h)
    r = c.get("/metrics", headers=BEARER_READ, html=False)
    assert r.status == 200 and r.header("Content-Type").startswith("text/plain")
    m = r.body
    assert "citebot_questions_total 2" in m and "citebot_answered_total 1" in m and "citebot_refused_total 1" in m
    assert "citebot_rejected_total 1" in m
    assert 'citebot_question_seconds_bucket{le="+Inf"} 2' in m and "citebot_question_seconds_count 2" in m
    assert "citebot_index_articles 4" in m and "citebot_index_passages" in m
    assert "sourdough" not in m and "01.AI" not in m
    for line in m.splitlines():
        assert line.startswith("#") or re.match(r"^[a-z_]+(\{[^}]*\})? [0-9.e+-]+$", line), line


def test_unknown_pages_and_methods_get_the_friendly_page(web) -> None:
    c = web.client()
    c.sign_in(READ_TOKEN)
    r = c.get("/nope")
    assert r.status == 404 and "no such page" in r.body and "<!doctype html>" in r.body
    r = c.request("PUT", "/sources")
    assert r.status == 405 and "Traceback" not in r.body


def test_pages_send_security_headers(web) -> None:
    c = web.client()
    c.sign_in(READ_TOKEN)
    for path in ("/unanswered", "/login", "/ask?q=who+founded+01.AI%3F"):
        r = c.get(path)
        assert "script-src" not in r.header("Content-Security-Policy")  # default-src 'none': no script at all
        assert "default-src 'none'" in r.header("Content-Security-Policy")
        assert r.header("Referrer-Policy") == "no-referrer"
        assert r.header("X-Content-Type-Options") == "nosniff"
    r = c.get("/static/style.css", html=False)
    assert r.status == 200 and "prefers-color-scheme: dark" in r.body


def test_a_missing_index_gets_a_friendly_page_not_a_traceback(embedder, tmp_path: Path) -> None:
    from bot.feedback import FeedbackStore
    from bot.service import CitebotService
    from index import Engine

    engine = Engine(tmp_path / "empty-index", embedder)
    service = CitebotService(engine, FeedbackStore(tmp_path / "empty-index" / "feedback.sqlite"), rate_limit_per_minute=0)
    running = Running(make_site(service))
    try:
        c = running.client()
        c.sign_in(READ_TOKEN)
        r = c.get("/ask?q=who+founded+01.AI%3F")
        assert r.status == 503 and "Nothing is indexed yet" in r.body
        assert str(tmp_path) not in r.body
        r = c.get("/sources")
        assert r.status == 200 and "Nothing is indexed yet" in r.body
        assert c.get("/unanswered").status == 200 and c.get("/feedback").status == 200
        assert running.client().get("/healthz", html=False).status == 503
        assert c.get("/metrics", html=False).status == 200
    finally:
        running.stop()


def test_the_rate_limit_answers_with_a_friendly_page(service, tmp_path: Path) -> None:
    service.limiter.per_minute = 2
    running = Running(make_site(service))
    try:
        c = running.client()
        c.sign_in(READ_TOKEN)
        statuses = [c.get("/ask?q=who+founded+01.AI%3F").status for _ in range(3)]
        assert statuses == [200, 200, 429]
        assert "faster than I can keep up" in c.get("/ask?q=who+founded+01.AI%3F").body
    finally:
        running.stop()


def test_every_page_reports_its_server_time(web) -> None:
    """Every page carries its server time (Server-Timing), which the speed figures in bench/RESULTS.md
    read; the 100 ms goal is measured there, not asserted here (timing flakes on a shared 2-core box)."""
    import statistics

    fb = web.service.feedback
    for i in range(50):
        fb.record(platform="shell", user="local", question=f"how do I configure widget number {i}?", vote=0)
    fb.record(platform="discord", scope="1", user="u", question="who founded 01.AI?",
              answer=web.service.engine.ask("who founded 01.AI?").answer, vote=-1)
    c = web.client()
    c.sign_in(ADMIN_TOKEN)
    times = {}
    for path in ["/ask?q=who+founded+01.AI%3F", "/ask?q=how+do+I+bake+sourdough+bread%3F", "/unanswered",
                 "/unanswered.csv", "/feedback", "/sources", "/healthz", "/metrics", "/login"]:
        c.get(path)
        samples = []
        for _ in range(5):
            r = c.get(path)
            samples.append(float(re.search(r"dur=([\d.]+)", r.header("Server-Timing")).group(1)))
        times[path] = statistics.median(samples)
    print("server ms (median of 5):", times)
    assert all(t > 0 for t in times.values()), times


def test_citebot_web_refuses_to_start_without_a_token(tmp_path: Path, capsys) -> None:
    from bot.cli import main

    assert main(["web", "--index", str(tmp_path / "ix"), "--port", "1"]) == 1
    err = capsys.readouterr().err
    assert "CITEBOT_WEB_TOKEN" in err and "CITEBOT_WEB_ADMIN_TOKEN" in err


def test_short_tokens_are_refused() -> None:
    from bot.web import Tokens
    from index import UserError

    with pytest.raises(UserError, match="shorter than 16"):
        Tokens(read="short", admin=None)
    with pytest.raises(UserError, match="needs a token"):
        Tokens(read=None, admin=None)
    t = Tokens(read=READ_TOKEN, admin=ADMIN_TOKEN)
    assert t.role_of(READ_TOKEN).value == "read" and t.role_of(ADMIN_TOKEN).value == "admin"
    assert t.role_of(None) is None and t.role_of("") is None and t.role_of("é" * 40) is None


def test_no_token_or_session_id_reaches_the_log(web, caplog) -> None:
    import logging

    caplog.set_level(logging.DEBUG)
    c = web.client()
    c.post("/login", {"token": "a-wrong-token-that-must-not-be-logged", "next": "/"})
    c.sign_in(ADMIN_TOKEN)
    c.get("/ask?q=a+question+that+must+not+be+logged+at+info")
    c.get("/unanswered", headers={"Authorization": "Bearer another-wrong-token-not-logged"})
    sid = next(iter(c.jar)).value
    logged = "\n".join(r.getMessage() for r in caplog.records)
    for secret in ("a-wrong-token-that-must-not-be-logged", ADMIN_TOKEN, READ_TOKEN, sid, "another-wrong-token"):
        assert secret not in logged
    info = "\n".join(r.getMessage() for r in caplog.records if r.levelno >= logging.INFO)
    assert "must not be logged" not in info


def test_web_run_hook_is_off_without_a_port_and_refuses_without_a_token(tmp_path: Path) -> None:
    from types import SimpleNamespace

    from bot.config import Settings
    from bot.web import web_coroutines
    from index import UserError

    assert web_coroutines(SimpleNamespace(settings=Settings())) == []
    with pytest.raises(UserError, match="needs a token"):
        web_coroutines(SimpleNamespace(settings=Settings(CITEBOT_WEB_PORT="8099")))

