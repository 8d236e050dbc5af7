"""A real web page on 127.0.0.1 over a real index (the examples, the bundled model), and a small
HTTP client that keeps cookies and never follows redirects (so each test sees what the server said)."""
from __future__ import annotations

import asyncio
import http.cookiejar
import json
import socket
import threading
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

READ_TOKEN = "read-token-for-tests-0123456789"
ADMIN_TOKEN = "admin-token-for-tests-0123456789"


def free_port() -> int:
    """A port nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Reply:
    """What the server answered."""

    status: int
    headers: dict[str, str]
    body: str

    def json(self):
        return json.loads(self.body)

    def header(self, name: str) -> str:
        return next((v for k, v in self.headers.items() if k.lower() == name.lower()), "")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # noqa: D102 - see what the server said, do not follow
        return None


class Client:
    """A browser-like client: a cookie jar, no redirects followed, Accept: text/html unless told."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar), _NoRedirect())

    def request(self, method: str, path: str, *, data: dict | None = None, headers: dict | None = None,
                html: bool = True) -> Reply:
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        h = {"Accept": "text/html,application/xhtml+xml"} if html else {"Accept": "*/*"}
        h.update(headers or {})
        req = urllib.request.Request(self.base + path, data=body, method=method, headers=h)
        try:
            with self.opener.open(req, timeout=60) as r:
                return Reply(r.status, dict(r.headers.items()), r.read().decode("utf-8", "replace"))
        except urllib.error.HTTPError as e:
            return Reply(e.code, dict(e.headers.items()), e.read().decode("utf-8", "replace"))

    def get(self, path: str, **kw) -> Reply:
        return self.request("GET", path, **kw)

    def post(self, path: str, data: dict, **kw) -> Reply:
        return self.request("POST", path, data=data, **kw)

    def sign_in(self, token: str) -> Reply:
        r = self.post("/login", {"token": token, "next": "/"})
        assert r.status == 303, r.body[:500]
        return r

    def csrf(self, path: str = "/sources") -> str:
        import re

        page = self.get(path).body
        m = re.search(r'name="csrf" value="([^"]+)"', page)
        assert m, "no CSRF field on the page"
        return m.group(1)


class Running:
    """A WebSite served by `bot.web.serve` on its own event loop in a thread."""

    def __init__(self, site) -> None:
        from bot.web import serve

        self.site = site
        self.service = site.service
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.loop = asyncio.new_event_loop()
        ready = threading.Event()
        self.task = None

        def run() -> None:
            asyncio.set_event_loop(self.loop)
            self.task = self.loop.create_task(serve(site, "127.0.0.1", self.port, ready=lambda url: ready.set()))
            try:
                self.loop.run_until_complete(self.task)
            except asyncio.CancelledError:
                pass

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()
        assert ready.wait(30), "the web page did not start"

    def client(self) -> Client:
        return Client(self.base)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.task.cancel)
        self.thread.join(10)


def make_site(service, *, sources_file: Path | None = None):
    """The site as `citebot web` builds it, over a test service."""
    from bot.config import Settings
    from bot.sync import make_ingester
    from bot.web import Tokens, WebSite

    settings = Settings()
    return WebSite(service, Tokens(read=READ_TOKEN, admin=ADMIN_TOKEN), sources_file=sources_file,
                   ingester=lambda: make_ingester(service.engine, settings))


@pytest.fixture
def web(service, tmp_path: Path):
    """The web page over the examples index, on 127.0.0.1."""
    running = Running(make_site(service, sources_file=tmp_path / "citebot.toml"))
    yield running
    running.stop()
