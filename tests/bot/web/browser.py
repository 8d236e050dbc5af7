"""Headless Chromium (Debian's chromium + chromium-driver) driven by Selenium; never downloads a browser."""
from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

CHROMIUM = next((p for p in ("/usr/bin/chromium", "/usr/bin/chromium-browser") if Path(p).exists()), None)
DRIVER = shutil.which("chromedriver") or ("/usr/bin/chromedriver" if Path("/usr/bin/chromedriver").exists() else None)
# Without the background-networking flags Chromium reaches for the (closed) network at start-up.
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage"]


def missing() -> str | None:
    """Why the browser tests cannot run here, or None."""
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install -e '.[test]')"
    if CHROMIUM is None or DRIVER is None:
        return "Debian's chromium and chromium-driver are not installed (apt-get install chromium chromium-driver; .ci/run does)"
    return None


def chrome(width: int = 1280, height: int = 900, *, dark: bool = False):
    """A fresh headless Chromium with its own profile folder."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for f in FLAGS:
        opts.add_argument(f)
    opts.add_argument(f"--user-data-dir={tempfile.mkdtemp(prefix='citebot-chromium-')}")
    opts.add_argument(f"--window-size={width},{height}")
    if dark:
        opts.add_argument("--force-dark-mode")
        opts.add_argument("--blink-settings=preferredColorScheme=0")
    driver = webdriver.Chrome(service=Service(executable_path=DRIVER), options=opts)
    driver.set_page_load_timeout(120)
    return driver


WAIT = 60  # seconds: generous, for a loaded 2-core CI machine; a passing wait returns at once


def navigate_by(driver, action) -> None:
    """Run `action` (a click or a form submit) and wait until the page it leads to has loaded.

    WebDriver's click returns as soon as the event is dispatched; the form's navigation may still be
    on its way, and an element read then belongs to the page being left (a stale element)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    old = driver.find_element(By.TAG_NAME, "html")
    action()
    WebDriverWait(driver, WAIT).until(ec.staleness_of(old))
    WebDriverWait(driver, WAIT).until(lambda d: d.execute_script("return document.readyState") == "complete")


def body_text(driver, expect: str | None = None) -> str:
    """The page's visible text; with `expect`, wait until it appears (and fail with the text if not)."""
    from selenium.common.exceptions import StaleElementReferenceException, TimeoutException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    seen = {"text": ""}

    def read(d) -> bool:
        try:
            seen["text"] = d.find_element(By.TAG_NAME, "body").text
        except StaleElementReferenceException:
            return False
        return expect is None or expect in seen["text"]

    try:
        WebDriverWait(driver, WAIT if expect else 10).until(read)
    except TimeoutException:
        pass
    return seen["text"]
