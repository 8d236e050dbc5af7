"""A real HTTP server on 127.0.0.1 that plays a website: pages, feeds, sitemaps, robots.txt,
redirects, slow and oversized answers and errors. It honours If-None-Match / If-Modified-Since like a
real server, and records every request so tests can count what citebot asked for."""
from __future__ import annotations

import hashlib
import threading
import time
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Route:
    """What one path answers."""

    body: bytes = b""
    content_type: str = "text/html; charset=utf-8"
    status: int = 200
    location: str | None = None  # for 3xx
    delay: float = 0.0  # seconds before the answer starts
    validators: bool = True  # send ETag and Last-Modified
    modified: float = field(default_factory=lambda: time.time() - 3600)
    declare_length: bool = True


class Site:
    """The routes of a fake website and a log of the requests it got."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.log: list[tuple[str, dict[str, str], int]] = []  # (path, headers, status sent)
        self.lock = threading.Lock()
        self.server: ThreadingHTTPServer | None = None

    @property
    def base(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    @property
    def port(self) -> int:
        assert self.server is not None
        return int(self.server.server_address[1])

    def page(self, path: str, body: str | bytes, **kw) -> None:
        """Serve `body` at `path` (replacing what was there: an edit bumps Last-Modified and ETag)."""
        data = body.encode() if isinstance(body, str) else body
        self.routes[path] = Route(body=data, modified=time.time(), **kw)

    def requests(self, path: str) -> list[tuple[dict[str, str], int]]:
        """(headers, status) of every request for `path`."""
        with self.lock:
            return [(h, s) for p, h, s in self.log if p == path]

    def start(self) -> Site:
        site = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out in two writes: without TCP_NODELAY, Nagle plus the client's
            # delayed ACK adds ~40 ms to every keep-alive response (real servers do not do this).
            disable_nagle_algorithm = True

            def log_message(self, *args: object) -> None:  # keep pytest output clean
                pass

            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                route = site.routes.get(self.path)
                headers = {k.lower(): v for k, v in self.headers.items()}
                status = route.status if route else 404
                if route and route.delay:
                    time.sleep(route.delay)
                etag = lastmod = None
                if route and route.validators and status == 200:
                    etag = '"' + hashlib.sha1(route.body).hexdigest()[:16] + '"'
                    lastmod = formatdate(route.modified, usegmt=True)
                    if headers.get("if-none-match") == etag:
                        status = 304
                with site.lock:
                    site.log.append((self.path, headers, status))
                body = b"" if status == 304 else (route.body if route else b"not found")
                try:
                    self.send_response(status)
                    if route and route.location:
                        self.send_header("Location", route.location)
                    if etag:
                        self.send_header("ETag", etag)
                        self.send_header("Last-Modified", lastmod or "")
                    if status != 304:
                        self.send_header("Content-Type", route.content_type if route else "text/plain")
                        if not route or route.declare_length:
                            self.send_header("Content-Length", str(len(body)))
                        else:
                            self.send_header("Connection", "close")
                    self.end_headers()
                    if status != 304:
                        self.wfile.write(body)
                    if route and not route.declare_length:
                        self.close_connection = True
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()  # quick shutdown
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


def article_html(title: str, date: str, paragraphs: list[str]) -> str:
    """A small but realistic article page (nav, article body, footer) — our own text."""
    body = "\n".join(f"<p>{p}</p>" for p in paragraphs)
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>{title}</title><meta property='article:published_time' content='{date}'></head>"
        "<body><nav><a href='/'>Home</a> <a href='/about'>About</a></nav>"
        f"<article><h1>{title}</h1>{body}</article>"
        "<footer>Copyright the test site.</footer></body></html>"
    )


def rss(items: list[tuple[str, str, str]], *, title: str = "Test feed") -> str:
    """An RSS 2.0 feed of (title, link, RFC 822 date) items."""
    entries = "".join(
        f"<item><title>{t}</title><link>{link}</link><pubDate>{d}</pubDate></item>" for t, link, d in items
    )
    return (f"<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel><title>{title}</title>"
            f"<link>http://example.invalid/</link><description>d</description>{entries}</channel></rss>")


def atom(items: list[tuple[str, str, str]], *, title: str = "Test Atom feed") -> str:
    """An Atom feed of (title, relative or absolute link, ISO date) entries."""
    entries = "".join(
        f"<entry><title>{t}</title><link rel='alternate' href='{link}'/><id>{link}</id><updated>{d}</updated></entry>"
        for t, link, d in items
    )
    return ("<?xml version='1.0' encoding='utf-8'?><feed xmlns='http://www.w3.org/2005/Atom'>"
            f"<title>{title}</title><id>urn:test</id><updated>2024-01-01T00:00:00Z</updated>{entries}</feed>")


def urlset(urls: list[str]) -> str:
    """A sitemap <urlset>."""
    locs = "".join(f"<url><loc>{u}</loc><lastmod>2024-03-01</lastmod></url>" for u in urls)
    return f"<?xml version='1.0' encoding='UTF-8'?><urlset xmlns='http://www.sitemaps.org/schemas/sitemap/0.9'>{locs}</urlset>"


def sitemapindex(urls: list[str]) -> str:
    """A <sitemapindex> pointing at other sitemaps."""
    locs = "".join(f"<sitemap><loc>{u}</loc></sitemap>" for u in urls)
    return f"<?xml version='1.0' encoding='UTF-8'?><sitemapindex xmlns='http://www.sitemaps.org/schemas/sitemap/0.9'>{locs}</sitemapindex>"
