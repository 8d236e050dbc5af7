"""End to end in a real browser: headless Chromium against `citebot web` on 127.0.0.1, real model, real index."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.bot.web.browser import WAIT, body_text, chrome, missing, navigate_by
from tests.bot.web.conftest import ADMIN_TOKEN, READ_TOKEN, free_port
from tests.conftest import ROOT

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1200), pytest.mark.skipif(missing() is not None, reason=missing() or "")]


def _env(extra: dict | None = None) -> dict:
    e = {k: v for k, v in os.environ.items() if not k.startswith(("CITEBOT_", "DISCORD_", "SLACK_"))}
    e.update({"PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"})
    e.update(extra or {})
    return e


@pytest.fixture(scope="module")
def server(tmp_path_factory, _examples_index):
    """`citebot web` in its own process over a copy of the examples index."""
    import shutil

    folder = tmp_path_factory.mktemp("web-e2e")
    index = folder / "index"
    shutil.copytree(_examples_index, index)
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "web", "--index", str(index), "--port", str(port)],
        env=_env({"CITEBOT_WEB_TOKEN": READ_TOKEN, "CITEBOT_WEB_ADMIN_TOKEN": ADMIN_TOKEN}),
        cwd=folder, stderr=subprocess.PIPE, text=True)
    line = ""
    deadline = time.time() + 240
    while "serving" not in line and time.time() < deadline and proc.poll() is None:
        line = proc.stderr.readline()
    assert "serving http://127.0.0.1:" in line, f"citebot web did not start: {line}"
    yield {"base": f"http://127.0.0.1:{port}", "index": index, "folder": folder}
    proc.terminate()
    proc.wait(20)


@pytest.fixture(scope="module")
def browser():
    driver = chrome()
    yield driver
    driver.quit()


@pytest.fixture
def fresh(browser, server):
    """The browser with no cookie for the site."""
    browser.get(server["base"] + "/login")
    browser.delete_all_cookies()
    return browser


def _sign_in(driver, base: str, token: str, path: str = "/unanswered") -> None:
    from selenium.webdriver.common.by import By

    driver.get(base + path)
    assert "/login" in driver.current_url
    driver.find_element(By.ID, "token").send_keys(token)
    navigate_by(driver, driver.find_element(By.CSS_SELECTOR, "form[action='/login'] button").click)
    assert driver.current_url.startswith(base + path.split("?")[0]), driver.current_url


def test_without_a_token_the_browser_sees_the_sign_in_page_and_no_data(fresh, server) -> None:
    from selenium.webdriver.common.by import By

    for path in ("/sources", "/unanswered", "/ask?q=who+founded+01.AI%3F"):
        fresh.get(server["base"] + path)
        assert "/login" in fresh.current_url
        body = body_text(fresh, "Sign in")
        assert "Sign in" in body and "01.AI" not in body and "Riverside" not in body
    fresh.find_element(By.ID, "token").send_keys("not-the-right-token-at-all")
    navigate_by(fresh, fresh.find_element(By.CSS_SELECTOR, "form[action='/login'] button").click)
    assert "That token is not right" in body_text(fresh, "That token is not right")


def test_sign_in_ask_and_see_the_quote_highlighted(fresh, server) -> None:
    from selenium.webdriver.common.by import By

    _sign_in(fresh, server["base"], READ_TOKEN, "/ask")
    box = fresh.find_element(By.ID, "q")
    box.send_keys("who founded 01.AI?")
    navigate_by(fresh, box.submit)
    assert "/ask?q=who+founded+01.AI%3F" in fresh.current_url  # a URL that can be shared
    answer = fresh.find_element(By.CSS_SELECTOR, "blockquote.answer").text
    assert "Kai-Fu Lee" in answer
    marked = fresh.find_elements(By.CSS_SELECTOR, "figure.passage mark")
    assert marked and "Kai-Fu Lee" in marked[0].text
    color = marked[0].value_of_css_property("background-color")
    assert color not in ("rgba(0, 0, 0, 0)", "transparent")  # the stylesheet loaded under the CSP
    link = fresh.find_element(By.CSS_SELECTOR, "p.source a")
    assert link.get_attribute("href") == "https://example.org/citebot-samples/01ai-profile"


def test_a_question_asked_in_the_shell_appears_on_the_unanswered_page(fresh, server) -> None:
    from selenium.webdriver.common.by import By

    _sign_in(fresh, server["base"], READ_TOKEN, "/unanswered")
    assert "how do I bake sourdough bread" not in body_text(fresh)
    r = subprocess.run([sys.executable, "-m", "bot.cli", "shell", "--index", str(server["index"])],
                       input="how do I bake sourdough bread?\n/quit\n", capture_output=True, text=True,
                       env=_env(), cwd=server["folder"], timeout=300)
    assert r.returncode == 0, r.stderr
    fresh.refresh()
    rows = fresh.find_elements(By.CSS_SELECTOR, "table.list tbody tr")
    assert "how do I bake sourdough bread?" in rows[0].text  # newest first
    assert "global" in rows[0].text and "not found" in rows[0].text


def test_admin_forgets_a_source_and_sees_it_gone(fresh, server) -> None:
    from selenium.webdriver.common.by import By

    _sign_in(fresh, server["base"], ADMIN_TOKEN, "/sources")
    row = next(tr for tr in fresh.find_elements(By.CSS_SELECTOR, "table.list tbody tr")
               if "Riverside community garden" in tr.text)
    row.find_element(By.CSS_SELECTOR, "details.confirm summary").click()
    navigate_by(fresh, row.find_element(By.CSS_SELECTOR, "button.danger").click)
    assert fresh.current_url == server["base"] + "/sources"
    flash = fresh.find_element(By.CSS_SELECTOR, ".flash").text
    assert "Forgot" in flash and "Riverside community garden" in flash
    titles = [td.text for td in fresh.find_elements(By.CSS_SELECTOR, "td.title")]
    assert titles and not any("Riverside" in t for t in titles)
    fresh.refresh()
    assert "Riverside" not in body_text(fresh)


def test_a_forged_form_is_refused(fresh, server, tmp_path: Path) -> None:
    """A page elsewhere that posts to /sources/forget (the signed-in admin's browser) changes nothing."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    _sign_in(fresh, server["base"], ADMIN_TOKEN, "/sources")
    before = len(fresh.find_elements(By.CSS_SELECTOR, "td.title"))
    key = fresh.find_element(By.CSS_SELECTOR, "input[name=key]").get_attribute("value")
    # Same site, but no CSRF token: what a script injected elsewhere on the site could send.
    navigate_by(fresh, lambda: fresh.execute_script("""
        const f = document.createElement('form'); f.method = 'post'; f.action = '/sources/forget';
        const k = document.createElement('input'); k.name = 'key'; k.value = arguments[0]; f.appendChild(k);
        document.body.appendChild(f); HTMLFormElement.prototype.submit.call(f);""", key))
    assert "Form refused" in body_text(fresh, "Form refused")
    # Another site's page: the SameSite cookie is not sent and the form has no CSRF token.
    evil = tmp_path / "evil.html"
    evil.write_text(f"<form id=f method=post action='{server['base']}/sources/forget'>"
                    f"<input name=key value='{key}'><input name=csrf value='guess'></form>"
                    "<script>document.getElementById('f').submit()</script>")
    fresh.get(evil.as_uri())  # its script submits the form as soon as it loads
    refused = ("401", "Form refused")
    WebDriverWait(fresh, WAIT).until(
        lambda d: d.current_url.startswith(server["base"]) and any(w in body_text(d) for w in refused))
    assert any(w in body_text(fresh) for w in refused)
    fresh.get(server["base"] + "/sources")
    assert len(fresh.find_elements(By.CSS_SELECTOR, "td.title")) == before
