"""A polite, SSRF-safe HTTP fetcher for web pages, feeds and sitemaps.

Every request (and every redirect hop, and every robots.txt) resolves the host name itself, refuses
the whole answer if any address is private, loopback, link-local, multicast, reserved or otherwise not
globally routable (cloud metadata endpoints are all of these), and then connects to the checked address
— never re-resolving, so DNS rebinding between the check and the connection is impossible. TLS still
verifies the certificate against the host name (SNI and hostname check are set explicitly).

urllib3 (already a dependency through trafilatura) is used because its connection pools take the
address to connect to and the TLS server name separately, which is exactly what this check needs.
"""
from __future__ import annotations

import ipaddress
import logging
import socket
import threading
import time
import urllib.robotparser
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin, urlsplit

import urllib3

from ..errors import LoadError

log = logging.getLogger(__name__)

REDIRECTS = frozenset({301, 302, 303, 307, 308})
ROBOTS_MAX_BYTES = 512 * 1024
ROBOTS_TTL = 3600.0  # RFC 9309 allows caching up to a day; an hour keeps a sync loop responsive
ROBOTS_RETRY = 300.0  # after an unreachable robots.txt (everything disallowed meanwhile)
# What citebot can read: HTML (and XHTML), XML (feeds, sitemaps), PDF and plain text.
HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
XML_TYPES = frozenset({"application/xml", "text/xml", "application/rss+xml", "application/atom+xml",
                       "application/rdf+xml", "application/feed+xml"})
PDF_TYPES = frozenset({"application/pdf"})
TEXT_TYPES = frozenset({"text/plain", "text/markdown"})
PAGE_TYPES = HTML_TYPES | XML_TYPES | PDF_TYPES | TEXT_TYPES
LISTING_TYPES = XML_TYPES | TEXT_TYPES | HTML_TYPES | frozenset({"application/x-gzip", "application/gzip"})

Resolver = Callable[[str, int], "list[str]"]


class FetchError(LoadError):
    """A URL could not be fetched; the message says why and is safe to show to the user."""


class BlockedURL(FetchError):
    """The URL (or a redirect) points at an address citebot may not read, or robots.txt forbids it."""


def system_resolve(host: str, port: int) -> list[str]:
    """Every address the system resolver gives for `host` (IPv4 and IPv6)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise FetchError(f"{host}: the host name does not resolve") from exc
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def is_public_address(address: str) -> bool:
    """True only for a globally routable unicast address (no private/loopback/link-local/metadata)."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address):
        # ::ffff:10.0.0.1 and 6to4/NAT64 forms carry an IPv4 address that is what really gets reached.
        inner = ip.ipv4_mapped or ip.sixtofour
        if inner is not None:
            ip = inner
        elif ip in ipaddress.ip_network("64:ff9b::/96"):
            ip = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return bool(ip.is_global) and not ip.is_multicast


@dataclass(frozen=True)
class FetchPolicy:
    """How citebot behaves on the web: identity, politeness, limits and which addresses it may reach."""

    contact: str = ""
    allow_private: bool = False
    private_hosts: frozenset[str] = frozenset()  # host names trusted to resolve to private addresses
    connect_timeout: float = 10.0
    read_timeout: float = 20.0
    total_timeout: float = 60.0
    max_bytes: int = 20 * 1024 * 1024
    max_redirects: int = 5
    per_host_concurrency: int = 2
    per_host_delay: float = 0.25
    obey_robots: bool = True
    robots_max_delay: float = 30.0

    @property
    def user_agent(self) -> str:
        """`citebot/VERSION (+contact)`: site owners can see who crawls them and how to reach them."""
        from importlib.metadata import PackageNotFoundError, version

        try:
            v = version("citebot")
        except PackageNotFoundError:
            v = "0"
        return f"citebot/{v} (+{self.contact})" if self.contact else f"citebot/{v}"


@dataclass(frozen=True)
class Response:
    """A finished response: the final URL after redirects, status (200 or 304) and the whole body."""

    url: str
    status: int
    content_type: str
    body: bytes = b""
    etag: str | None = None
    last_modified: str | None = None
    redirects: tuple[str, ...] = field(default=())

    @property
    def not_modified(self) -> bool:
        """The server answered 304 to our conditional request."""
        return self.status == 304


class _Robots(urllib.robotparser.RobotFileParser):
    """A site's robots.txt rules; declares `disallow_all`, which the parser sets and uses but typeshed omits."""

    disallow_all: bool


class _HostGate:
    """Per-host politeness: at most `concurrency` requests in flight, starts `delay` seconds apart."""

    def __init__(self, concurrency: int, delay: float) -> None:
        self._sem = threading.Semaphore(max(1, concurrency))
        self._lock = threading.Lock()
        self._next = 0.0
        self.delay = delay

    @contextmanager
    def slot(self) -> Iterator[None]:
        with self._sem:
            with self._lock:
                now = time.monotonic()
                start = max(now, self._next)
                self._next = start + self.delay
            if start > now:
                time.sleep(start - now)
            yield


class Fetcher:
    """Fetches http(s) URLs under a FetchPolicy; thread-safe, so a pool of workers can share one."""

    def __init__(self, policy: FetchPolicy | None = None, *, resolve: Resolver | None = None) -> None:
        self.policy = policy or FetchPolicy()
        self._resolve = resolve or system_resolve
        self._user_agent = self.policy.user_agent
        self._lock = threading.Lock()
        self._gates: dict[str, _HostGate] = {}
        # origin -> (good until, rules or None for "no rules"); re-read so a long-running sync sees changes
        self._robots: dict[str, tuple[float, _Robots | None]] = {}
        self._robots_locks: dict[str, threading.Lock] = {}
        self._pools: dict[tuple[str, str, int, str], urllib3.HTTPConnectionPool] = {}

    # --- public -----------------------------------------------------------------------------

    def get(self, url: str, *, etag: str | None = None, last_modified: str | None = None,
            accept: frozenset[str] = PAGE_TYPES, max_bytes: int | None = None) -> Response:
        """GET `url` following redirects (each hop checked); 304 when the conditional headers match.

        Raises FetchError (BlockedURL for refused addresses and robots.txt) with a user-safe reason.
        """
        limit = max_bytes or self.policy.max_bytes
        current = check_url(url)
        hops: list[str] = []
        for _ in range(self.policy.max_redirects + 1):
            self._check_robots(current)  # before taking a slot: robots.txt needs one of its own
            # The slot is held until the body is read, so per-host concurrency counts downloads.
            # Validators go to every hop: they came from the final page and other servers ignore them.
            with self._gate((urlsplit(current).hostname or "").lower()).slot():
                status, headers, resp = self._open(current, etag=etag, last_modified=last_modified)
                if not (status in REDIRECTS and headers.get("location")):
                    if status == 304 and not (etag or last_modified):
                        resp.release_conn()
                        raise FetchError(f"{_short(current)}: the server answered 304 to a plain request")
                    return self._finish(current, status, headers, resp, accept, limit, tuple(hops))
                resp.drain_conn() if _small(headers) else resp.close()
                resp.release_conn()
            current = check_url(urljoin(current, headers["location"].strip()))
            hops.append(current)
        raise FetchError(f"{url}: more than {self.policy.max_redirects} redirects")

    def allowed_by_robots(self, url: str) -> bool:
        """Whether robots.txt lets citebot fetch `url` (True when robots are not obeyed)."""
        try:
            self._check_robots(check_url(url))
        except BlockedURL:
            return False
        return True

    def close(self) -> None:
        """Close every pooled connection."""
        with self._lock:
            pools, self._pools = list(self._pools.values()), {}
        for pool in pools:
            pool.close()

    # --- one request ------------------------------------------------------------------------

    def _gate(self, host: str) -> _HostGate:
        with self._lock:
            gate = self._gates.get(host)
            if gate is None:
                gate = self._gates[host] = _HostGate(self.policy.per_host_concurrency, self.policy.per_host_delay)
            return gate

    def addresses(self, url: str) -> list[str]:
        """The checked addresses `url`'s host may be reached at (BlockedURL when any is not allowed)."""
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port or (443 if parts.scheme == "https" else 80)
        try:
            literal = ipaddress.ip_address(host)
            addrs = [str(literal)]
        except ValueError:
            addrs = self._resolve(host, port)
        if not addrs:
            raise FetchError(f"{host}: the host name does not resolve")
        trusted = self.policy.allow_private or host.lower() in self.policy.private_hosts
        if not trusted:
            bad = [a for a in addrs if not is_public_address(a)]
            if bad:
                # One private answer is enough to refuse: an attacker's DNS can mix public and private.
                log.warning("refused %s: resolves to a non-public address", host)
                raise BlockedURL(
                    f"{_short(url)}: refused, the address is on a private or local network "
                    "(set CITEBOT_ALLOW_PRIVATE_URLS=1 or CITEBOT_PRIVATE_URL_HOSTS to allow it)"
                )
        return addrs

    def _pool(self, scheme: str, address: str, port: int, host: str) -> urllib3.HTTPConnectionPool:
        key = (scheme, address, port, host)
        with self._lock:
            pool = self._pools.get(key)
            if pool is None:
                kw: dict[str, Any] = dict(maxsize=max(1, self.policy.per_host_concurrency), block=False, retries=False,
                          timeout=urllib3.Timeout(connect=self.policy.connect_timeout, read=self.policy.read_timeout))
                if scheme == "https":
                    import certifi

                    pool = urllib3.HTTPSConnectionPool(address, port, server_hostname=host, assert_hostname=host,
                                                       cert_reqs="CERT_REQUIRED", ca_certs=certifi.where(), **kw)
                else:
                    pool = urllib3.HTTPConnectionPool(address, port, **kw)
                self._pools[key] = pool
            return pool

    def _open(self, url: str, *, etag: str | None, last_modified: str | None
              ) -> tuple[int, dict[str, str], urllib3.BaseHTTPResponse]:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port or (443 if parts.scheme == "https" else 80)
        addrs = self.addresses(url)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        headers = {
            "Host": parts.netloc.rsplit("@", 1)[-1],
            "User-Agent": self._user_agent,
            "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,application/pdf;q=0.8,text/plain;q=0.7,*/*;q=0.1",
            "Accept-Encoding": "gzip, deflate",
        }
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        last_exc: Exception | None = None
        # The caller holds the host's slot.
        for address in addrs:
            pool = self._pool(parts.scheme, address, port, host)
            try:
                resp = pool.urlopen("GET", path, headers=headers, redirect=False, retries=False,
                                    preload_content=False, assert_same_host=False, decode_content=True)
            except urllib3.exceptions.NewConnectionError as exc:
                last_exc = exc  # try the host's next address
                continue
            except urllib3.exceptions.ConnectTimeoutError as exc:
                raise FetchError(f"{_short(url)}: the server did not answer within "
                                 f"{self.policy.connect_timeout:g} s") from exc
            except (urllib3.exceptions.ReadTimeoutError, TimeoutError) as exc:
                raise FetchError(f"{_short(url)}: the server did not answer within "
                                 f"{self.policy.read_timeout:g} s") from exc
            except urllib3.exceptions.SSLError as exc:
                raise FetchError(f"{_short(url)}: the TLS certificate could not be verified") from exc
            except urllib3.exceptions.HTTPError as exc:
                raise FetchError(f"{_short(url)}: the connection failed ({type(exc).__name__})") from exc
            return resp.status, {k.lower(): v for k, v in resp.headers.items()}, resp
        raise FetchError(f"{_short(url)}: could not connect to the server") from last_exc

    def _finish(self, url: str, status: int, headers: dict[str, str], resp: urllib3.BaseHTTPResponse,
                accept: frozenset[str], limit: int, hops: tuple[str, ...]) -> Response:
        ctype = headers.get("content-type", "").split(";", 1)[0].strip().lower()
        reusable = status == 304  # a connection goes back to the pool only when its response was read to the end
        try:
            if status == 304:
                return Response(url, 304, ctype, b"", headers.get("etag"), headers.get("last-modified"), hops)
            if status != 200:
                reason = {401: "needs a login", 403: "access is forbidden", 404: "page not found",
                          410: "page is gone", 429: "the server asks us to slow down"}.get(status, "")
                raise FetchError(f"{_short(url)}: the server answered HTTP {status}" + (f" ({reason})" if reason else ""))
            if ctype and ctype not in accept:
                raise FetchError(f"{_short(url)}: citebot reads HTML, XML, PDF or plain text, not '{ctype}'")
            declared = headers.get("content-length", "")
            if declared.isdigit() and int(declared) > limit:
                raise FetchError(f"{_short(url)}: the page is {int(declared) / 1048576:.1f} MB, "
                                 f"over the {limit / 1048576:g} MB limit")
            body = self._read_body(url, resp, limit)
            reusable = True
            return Response(url, 200, ctype, body, headers.get("etag"), headers.get("last-modified"), hops)
        finally:
            if not reusable:
                resp.close()  # unread bytes would corrupt the next request on this connection
            resp.release_conn()

    def _read_body(self, url: str, resp: urllib3.BaseHTTPResponse, limit: int) -> bytes:
        deadline = time.monotonic() + self.policy.total_timeout
        chunks: list[bytes] = []
        size = 0
        try:
            for chunk in resp.stream(64 * 1024, decode_content=True):
                size += len(chunk)
                if size > limit:  # counted after decompression: a gzip bomb stops here too
                    raise FetchError(f"{_short(url)}: the page is over the {limit / 1048576:g} MB limit")
                if time.monotonic() > deadline:
                    raise FetchError(f"{_short(url)}: the download took longer than {self.policy.total_timeout:g} s")
                chunks.append(chunk)
        except (urllib3.exceptions.ReadTimeoutError, TimeoutError) as exc:
            raise FetchError(f"{_short(url)}: the server stopped sending for {self.policy.read_timeout:g} s") from exc
        except urllib3.exceptions.HTTPError as exc:
            raise FetchError(f"{_short(url)}: the download failed ({type(exc).__name__})") from exc
        return b"".join(chunks)

    # --- robots.txt -------------------------------------------------------------------------

    def _check_robots(self, url: str) -> None:
        if not self.policy.obey_robots:
            return
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        with self._lock:
            lock = self._robots_locks.setdefault(origin, threading.Lock())
        with lock:  # one robots.txt download per site, even with many workers
            cached = self._robots.get(origin)
            if cached is None or cached[0] < time.monotonic():
                rules = self._load_robots(origin)
                ttl = ROBOTS_RETRY if rules is not None and rules.disallow_all else ROBOTS_TTL
                self._robots[origin] = (time.monotonic() + ttl, rules)
            rules = self._robots[origin][1]
        if rules is not None and not rules.can_fetch("citebot", url):
            raise BlockedURL(f"{_short(url)}: the site's robots.txt does not allow citebot to read it")

    def _load_robots(self, origin: str) -> _Robots | None:
        rules = _Robots(origin + "/robots.txt")
        try:
            resp = self.get_raw(origin + "/robots.txt")
        except BlockedURL:
            raise
        except FetchError as exc:
            # RFC 9309: a robots.txt that cannot be reached means "assume everything is disallowed".
            log.info("robots.txt of %s unreachable (%s): not crawling it now", origin, exc)
            rules.disallow_all = True
            return rules
        status, body = resp
        if status >= 500:
            rules.disallow_all = True
            return rules
        if status != 200:
            return None  # 4xx: no rules, everything allowed
        rules.parse(body.decode("utf-8", errors="replace").splitlines())
        delay = rules.crawl_delay("citebot")
        if delay:
            gate = self._gate((urlsplit(origin).hostname or "").lower())
            gate.delay = max(gate.delay, min(float(delay), self.policy.robots_max_delay))
        return rules

    def get_raw(self, url: str) -> tuple[int, bytes]:
        """(status, body) of a small text resource, redirects followed and checked, robots not consulted."""
        current = check_url(url)
        for _ in range(self.policy.max_redirects + 1):
            with self._gate((urlsplit(current).hostname or "").lower()).slot():
                status, headers, resp = self._open(current, etag=None, last_modified=None)
                read = False
                try:
                    if not (status in REDIRECTS and headers.get("location")):
                        body = self._read_body(current, resp, ROBOTS_MAX_BYTES) if status == 200 else b""
                        read = status == 200
                        return status, body
                finally:
                    if not read:
                        resp.close()
                    resp.release_conn()
            current = check_url(urljoin(current, headers["location"].strip()))
        raise FetchError(f"{url}: more than {self.policy.max_redirects} redirects")


def check_url(url: str) -> str:
    """The URL if it is absolute http(s) with a host; FetchError (user-safe) otherwise."""
    url = (url or "").strip()
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https"):
        raise BlockedURL(f"{_short(url)}: only http:// and https:// addresses can be read")
    if not parts.hostname:
        raise FetchError(f"{_short(url)}: the address has no host name")
    if parts.username or parts.password:
        raise BlockedURL(f"{_short(url)}: addresses with a user name or password are not accepted")
    try:
        parts.port  # noqa: B018 (reading it validates the port)
    except ValueError as exc:
        raise FetchError(f"{_short(url)}: the port number is not valid") from exc
    return url


def _small(headers: dict[str, str]) -> bool:
    n = headers.get("content-length", "")
    return n.isdigit() and int(n) <= 64 * 1024


def _short(url: str) -> str:
    return url if len(url) <= 120 else url[:117] + "..."
