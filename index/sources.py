"""Web sources: pages, RSS/Atom feeds and sitemaps fetched into the index, and kept in sync.

Above the ingest room, beside the front door: it drives an `Engine` (fetch → load → publish), so
it is not part of ingest itself. The parts it drives are in `index.ingest`: the fetcher (`web`),
the feed and sitemap parsers (`listings`) and the per-URL memory (`web_state`).

`citebot.toml` lists folders, URLs, feeds and sitemaps, each with its collection. One sync pass adds
new pages, replaces changed ones and leaves unchanged ones alone at the cost of one conditional
request (ETag / Last-Modified → 304) or a content-hash match. An entry that drops out of a feed or a
sitemap stays indexed: the list only says what to look at, never what to delete.

Per-URL state (validators, content hash) lives in `web_state.sqlite` in the index folder and is only
written after the page's article has been published, so a crash or a failed fetch never leaves a
page "known" but not indexed.

Feeds are parsed by feedparser (RSS 0.9x/1.0/2.0 and Atom, dates and relative links handled);
sitemaps by lxml with entities and network access off. Both parse bytes that `index.ingest.web.Fetcher`
fetched, so every request goes through the same address, robots.txt and size checks.
"""
from __future__ import annotations

import fnmatch
import logging
import re
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import unquote, urlsplit

from .engine import Engine
from .errors import UserError
from .ingest.dates import read_by_this_version
from .ingest.listings import MAX_LISTING_BYTES, Page, parse_feed, parse_sitemap
from .ingest.web import LISTING_TYPES, PDF_TYPES, Fetcher, FetchError, Response, check_url
from .ingest.web_state import WebState, page_fingerprint
from .types import DEFAULT_COLLECTION, Document, IngestReport

log = logging.getLogger(__name__)

STATE_FILE = "web_state.sqlite"
MAX_SITEMAPS = 200  # sub-sitemaps followed from one sitemap index

Progress = Callable[[int, int, str], None]


class SourceKind(str, Enum):
    """What a sources-file entry points at."""

    FOLDER = "folder"
    URL = "url"
    FEED = "feed"
    SITEMAP = "sitemap"


@dataclass(frozen=True)
class Source:
    """One entry of citebot.toml."""

    kind: SourceKind
    target: str  # a folder path or a URL
    collection: str = DEFAULT_COLLECTION
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    max_pages: int | None = None

    def to_json(self) -> dict[str, Any]:
        """How `citebot sync --json` names the source."""
        return {"kind": self.kind.value, "target": self.target, "collection": self.collection}


@dataclass
class SourceResult:
    """What a sync pass did for one source."""

    source: Source
    report: IngestReport
    error: str | None = None  # the feed/sitemap/folder itself could not be read


@dataclass
class SyncReport:
    """One sync pass over every source."""

    results: list[SourceResult] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        """True when every source was read and no page was skipped."""
        return all(r.error is None and r.report.ok for r in self.results)

    def count(self, what: str) -> int:
        """Total of `added`, `updated`, `unchanged` or `skipped` over all sources."""
        return sum(len(getattr(r.report, what)) for r in self.results)

    def to_json(self) -> dict[str, Any]:
        """Machine-readable summary for `citebot sync --json` (ingest's keys plus per-source detail)."""
        return {
            "added": self.count("added"), "updated": self.count("updated"),
            "unchanged": self.count("unchanged"), "skipped": self.count("skipped"),
            "passages": sum(r.report.passages for r in self.results), "seconds": round(self.seconds, 3),
            "sources": [dict(r.source.to_json(), error=r.error, **r.report.to_json()) for r in self.results],
        }


# --- the sources file ---------------------------------------------------------------------------

_KEYS = {
    SourceKind.FOLDER: {"path", "paths", "collection"},
    SourceKind.URL: {"url", "urls", "collection"},
    SourceKind.FEED: {"url", "collection"},
    SourceKind.SITEMAP: {"url", "collection", "include", "exclude", "max_pages"},
}


def load_sources(path: Path) -> list[Source]:
    """Read citebot.toml; any mistake becomes a UserError naming the entry and what is wrong."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib  # type: ignore[no-redef, unused-ignore]  # no-redef only when mypy targets 3.11+

    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise UserError(f"no sources file at {path} (see examples/citebot.toml)") from exc
    except OSError as exc:
        raise UserError(f"cannot read {path}: {exc.strerror or exc}") from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise UserError(f"{path.name} is not valid TOML: {exc}") from exc
    known = {k.value for k in SourceKind} | {"defaults"}
    unknown = sorted(set(data) - known)
    if unknown:
        raise UserError(f"{path.name}: unknown section '{unknown[0]}' (use [[folder]], [[url]], [[feed]] or [[sitemap]])")
    defaults = data.get("defaults", {})
    default_collection = defaults.get("collection", DEFAULT_COLLECTION) if isinstance(defaults, dict) else DEFAULT_COLLECTION
    out: list[Source] = []
    for kind in SourceKind:
        tables = data.get(kind.value, [])
        if isinstance(tables, dict):
            tables = [tables]
        for n, t in enumerate(tables, 1):
            where = f"{path.name}: [[{kind.value}]] number {n}"
            if not isinstance(t, dict):
                raise UserError(f"{where} must be a table")
            bad = sorted(set(t) - _KEYS[kind])
            if bad:
                raise UserError(f"{where}: unknown key '{bad[0]}' (allowed: {', '.join(sorted(_KEYS[kind]))})")
            collection = t.get("collection", default_collection)
            if not isinstance(collection, str) or not collection.strip():
                raise UserError(f"{where}: 'collection' must be a non-empty string")
            one, many = ("path", "paths") if kind is SourceKind.FOLDER else ("url", "urls")
            targets = ([t[one]] if one in t else []) + list(t.get(many, []))
            if not targets or not all(isinstance(x, str) and x.strip() for x in targets):
                raise UserError(f"{where}: give '{one}' as a string")
            include = _patterns(t.get("include", []), where, "include")
            exclude = _patterns(t.get("exclude", []), where, "exclude")
            max_pages = t.get("max_pages")
            if max_pages is not None and (not isinstance(max_pages, int) or isinstance(max_pages, bool) or max_pages < 1):
                raise UserError(f"{where}: 'max_pages' must be a positive whole number")
            for target in targets:
                if kind is SourceKind.FOLDER:
                    p = Path(target).expanduser()
                    target = str(p if p.is_absolute() else (path.parent / p).resolve())
                else:
                    target = check_url(target)
                out.append(Source(kind, target, collection.strip(), include, exclude, max_pages))
    return out


def _patterns(value: object, where: str, key: str) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise UserError(f"{where}: '{key}' must be a list of URL patterns")
    return tuple(value)


def url_matches(url: str, include: Sequence[str], exclude: Sequence[str]) -> bool:
    """Include/exclude filter: `*` wildcards match the whole URL; a pattern without one matches anywhere in it."""
    def hit(p: str) -> bool:
        return fnmatch.fnmatchcase(url, p) if any(c in p for c in "*?[") else p in url

    return (not include or any(hit(p) for p in include)) and not any(hit(p) for p in exclude)


# --- fetching into the index ------------------------------------------------------------------

class WebIngester:
    """Fetches pages, feeds and sitemaps into an Engine, keeping per-URL state for the next sync."""

    def __init__(self, engine: Engine, fetcher: Fetcher, *, state: WebState | None = None,
                 workers: int = 8, batch: int = 64) -> None:
        self.engine = engine
        self.fetcher = fetcher
        self.state = state or WebState(engine.index_dir / STATE_FILE)
        self.workers = max(1, workers)
        self.batch = max(1, batch)

    def close(self) -> None:
        """Release connections and the state database."""
        self.fetcher.close()
        self.state.close()

    # --- listings

    def _listing(self, url: str, collection: str, parse: Callable[[bytes, str], tuple[list[Page], list[str]]]
                 ) -> tuple[list[Page], list[str]]:
        etag, modified, pages, children = self.state.listing(url, collection)
        if pages is None:
            etag = modified = None
        resp = self.fetcher.get(url, etag=etag, last_modified=modified, accept=LISTING_TYPES,
                                max_bytes=MAX_LISTING_BYTES)
        if resp.not_modified and pages is not None:
            return pages, children
        pages, children = parse(resp.body, resp.url)
        self.state.record_listing(url, collection, resp, pages, children)
        return pages, children

    def feed_pages(self, url: str, collection: str = DEFAULT_COLLECTION) -> list[Page]:
        """The entries of a feed (FetchError when the feed itself cannot be read)."""
        return self._listing(check_url(url), collection, lambda b, u: (parse_feed(b, u), []))[0]

    def sitemap_pages(self, url: str, collection: str = DEFAULT_COLLECTION, *, include: Sequence[str] = (),
                      exclude: Sequence[str] = (), max_pages: int | None = None
                      ) -> tuple[list[Page], list[tuple[str, str]]]:
        """Pages of a sitemap or sitemap index, filtered; plus (sub-sitemap, reason) for those unread."""
        queue: list[str] = [check_url(url)]
        seen: set[str] = set()
        pages: list[Page] = []
        errors: list[tuple[str, str]] = []
        while queue and len(seen) < MAX_SITEMAPS:
            sm = queue.pop(0)
            if sm in seen:
                continue
            seen.add(sm)
            try:
                found, children = self._listing(sm, collection, parse_sitemap)
            except FetchError as exc:
                if sm == url:
                    raise
                errors.append((sm, str(exc)))
                continue
            queue.extend(children)
            for page in found:
                if url_matches(page.url, include, exclude):
                    pages.append(page)
                    if max_pages and len(pages) >= max_pages:
                        return pages, errors
        return pages, errors

    # --- pages

    def _fetch(self, page: Page, collection: str, indexed: bool) -> Response | str:
        # Validators are sent only for a page that is still in the index: after `citebot forget`
        # a 304 must not keep it out.
        etag, modified, known = self.state.page(page.url, collection) if indexed else (None, None, None)
        if not read_by_this_version(known):
            # Read by an older date reader: fetched whole once, so its date is read again (issue 24).
            etag = modified = None
        try:
            return self.fetcher.get(page.url, etag=etag, last_modified=modified)
        except FetchError as exc:
            return str(exc)
        except Exception as exc:  # a worker must report, never take the whole pass down
            log.exception("unexpected error fetching %s", page.url)
            return f"{page.url}: could not be fetched ({type(exc).__name__})"

    def ingest_pages(self, pages: Sequence[Page], *, collection: str = DEFAULT_COLLECTION,
                     progress: Progress | None = None, lock_timeout: float = 0.0) -> IngestReport:
        """Fetch pages (several hosts in parallel, politely per host) and index what changed."""
        t0 = time.perf_counter()
        report = IngestReport()
        unique = list({p.url: p for p in pages}.values())  # a URL listed twice is fetched once
        indexed = {s.source for s in self.engine.sources([collection])}
        batches = [unique[i:i + self.batch] for i in range(0, len(unique), self.batch)]
        done = 0
        pool = ThreadPoolExecutor(self.workers, thread_name_prefix="citebot-fetch")
        try:
            def submit(batch: list[Page]) -> list[Future[Response | str]]:
                return [pool.submit(self._fetch, p, collection, p.url in indexed) for p in batch]

            futures = submit(batches[0]) if batches else []
            for bi, batch in enumerate(batches):
                results = [f.result() for f in futures]
                # The next batch downloads while this one is embedded.
                futures = submit(batches[bi + 1]) if bi + 1 < len(batches) else []
                docs: list[Document] = []
                fetched: dict[str, Response] = {}
                same: list[tuple[str, str, Response]] = []
                for page, outcome in zip(batch, results):
                    done += 1
                    if progress:
                        progress(done, len(unique), page.url)
                    if isinstance(outcome, str):
                        log.warning("skipped %s", outcome)
                        report.skipped.append((page.url, outcome))
                        continue
                    if outcome.not_modified:
                        report.unchanged.append(page.url)
                        continue
                    if page.url in indexed and self.state.page(page.url, collection)[2] == page_fingerprint(outcome.body):
                        # Same bytes as the published version: no need to open the index for writing.
                        report.unchanged.append(page.url)
                        same.append((page.url, collection, outcome))
                        continue
                    fetched[page.url] = outcome
                    docs.append(Document(name=page_name(outcome), source=page.url, data=outcome.body,
                                         url=outcome.url, title=page.title, date=page.date,
                                         outside_dates=page.outside_dates(outcome.last_modified)))
                if same:
                    self.state.record_pages(same)
                if docs:
                    sub = self.engine.ingest(docs, collection=collection, lock_timeout=lock_timeout)
                    report.added += sub.added
                    report.updated += sub.updated
                    report.unchanged += sub.unchanged
                    report.skipped += sub.skipped
                    report.passages += sub.passages
                    published = set(sub.added) | set(sub.updated) | set(sub.unchanged)
                    self.state.record_pages([(u, collection, r) for u, r in fetched.items() if u in published])
                    for u in fetched.keys() - published:
                        self.state.forget_page(u, collection)
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
        report.seconds = time.perf_counter() - t0
        return report

    def ingest_urls(self, urls: Sequence[str], *, collection: str = DEFAULT_COLLECTION,
                    progress: Progress | None = None, lock_timeout: float = 0.0) -> IngestReport:
        """Fetch and index single pages; a malformed URL is reported as skipped."""
        pages, bad = [], []
        for u in urls:
            try:
                pages.append(Page(check_url(u)))
            except FetchError as exc:
                bad.append((u, str(exc)))
        report = self.ingest_pages(pages, collection=collection, progress=progress, lock_timeout=lock_timeout)
        report.skipped[:0] = bad
        return report

    def ingest_feed(self, url: str, *, collection: str = DEFAULT_COLLECTION, progress: Progress | None = None,
                    lock_timeout: float = 0.0) -> IngestReport:
        """Index every entry of a feed (entries that dropped out earlier are left as they are)."""
        try:
            pages = self.feed_pages(url, collection)
        except FetchError as exc:
            return IngestReport(skipped=[(url, str(exc))])
        return self.ingest_pages(pages, collection=collection, progress=progress, lock_timeout=lock_timeout)

    def ingest_sitemap(self, url: str, *, collection: str = DEFAULT_COLLECTION, include: Sequence[str] = (),
                       exclude: Sequence[str] = (), max_pages: int | None = None,
                       progress: Progress | None = None, lock_timeout: float = 0.0) -> IngestReport:
        """Index the pages of a sitemap or sitemap index that pass the include/exclude patterns."""
        try:
            pages, errors = self.sitemap_pages(url, collection, include=include, exclude=exclude, max_pages=max_pages)
        except FetchError as exc:
            return IngestReport(skipped=[(url, str(exc))])
        report = self.ingest_pages(pages, collection=collection, progress=progress, lock_timeout=lock_timeout)
        report.skipped[:0] = errors
        return report

    # --- a whole pass

    def sync(self, sources: Sequence[Source], *, progress: Progress | None = None,
             lock_timeout: float = 0.0) -> SyncReport:
        """One pass over every source: new pages added, changed replaced, unchanged left alone."""
        t0 = time.perf_counter()
        out = SyncReport()
        # Single URLs of one collection are fetched together: one parallel pass and one publish,
        # not one per line of `urls = [...]`; each still gets its own result.
        url_runs: dict[str, tuple[IngestReport, dict[str, int]]] = {}
        for src in sources:
            try:
                if src.kind is SourceKind.URL:
                    if src.collection not in url_runs:
                        group = [s.target for s in sources if s.kind is SourceKind.URL and s.collection == src.collection]
                        full = self.ingest_urls(group, collection=src.collection, progress=progress,
                                                lock_timeout=lock_timeout)
                        counts = {i.source: i.passages for i in self.engine.sources([src.collection])}
                        url_runs[src.collection] = (full, counts)
                    full, counts = url_runs[src.collection]
                    rep = _only(full, src.target, counts)
                elif src.kind is SourceKind.FOLDER:
                    if not Path(src.target).is_dir():
                        raise UserError(f"{src.target}: no such folder")
                    rep = self.engine.ingest_paths([Path(src.target)], collection=src.collection,
                                                   progress=progress, lock_timeout=lock_timeout)
                elif src.kind is SourceKind.FEED:
                    rep = self.ingest_pages(self.feed_pages(src.target, src.collection), collection=src.collection,
                                            progress=progress, lock_timeout=lock_timeout)
                else:
                    pages, errors = self.sitemap_pages(src.target, src.collection, include=src.include,
                                                       exclude=src.exclude, max_pages=src.max_pages)
                    rep = self.ingest_pages(pages, collection=src.collection, progress=progress,
                                            lock_timeout=lock_timeout)
                    rep.skipped[:0] = errors
                out.results.append(SourceResult(src, rep))
            except UserError as exc:  # FetchError included: the listing itself could not be read
                log.warning("sync: %s %s: %s", src.kind.value, src.target, exc)
                out.results.append(SourceResult(src, IngestReport(), error=str(exc)))
        out.seconds = time.perf_counter() - t0
        return out


def _only(full: IngestReport, url: str, passages: dict[str, int]) -> IngestReport:
    """The part of a grouped report that concerns one URL."""
    rep = IngestReport(added=[u for u in full.added if u == url], updated=[u for u in full.updated if u == url],
                       unchanged=[u for u in full.unchanged if u == url],
                       skipped=[(u, r) for u, r in full.skipped if u == url])
    rep.passages = passages.get(url, 0) if rep.added or rep.updated else 0
    return rep


def page_name(resp: Response) -> str:
    """A file-like name for a fetched page: the reader follows the content type, the stem the URL."""
    path = PurePosixPath(unquote(urlsplit(resp.url).path))
    stem = (path.stem if path.name else "") or (urlsplit(resp.url).hostname or "page")
    # Blogs put the date in the path (/2024/05/12/post): keep it in the name, where the loader
    # looks for a date when the page's markup has none.
    m = re.search(r"(?<!\d)((?:19|20)\d\d)[/_-]([01]\d)[/_-]([0-3]\d)(?!\d)", str(path))
    if m and m.group(0) not in stem:
        stem = "-".join(m.groups()) + "-" + stem
    ctype = resp.content_type
    if ctype in PDF_TYPES or (not ctype and resp.body[:5] == b"%PDF-"):
        suffix = ".pdf"
    elif ctype == "text/plain":
        suffix = ".txt"
    elif ctype == "text/markdown":
        suffix = ".md"
    elif not ctype and not resp.body.lstrip()[:1] == b"<":
        suffix = ".txt"
    else:
        suffix = ".html"
    return stem[:100] + suffix
