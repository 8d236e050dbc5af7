"""Web ingest and sync for the command line and the bots: `citebot ingest URL|--feed|--sitemap`,
`citebot sync [--every 30m]`, and the in-process loop `citebot run` starts when CITEBOT_SYNC_EVERY is set."""
from __future__ import annotations

import asyncio
import json
import logging
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from index import Fetcher, FetchPolicy, IngestReport, SyncReport, UserError, WebIngester, load_sources

log = logging.getLogger(__name__)

_EVERY = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|sec|m|min|h|hr|d)?\s*$", re.I)
_UNIT = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "hr": 3600, "d": 86400}
MIN_EVERY = 60.0  # a sync loop tighter than a minute would hammer the sites it reads


def parse_every(text: str) -> float:
    """'30m', '2h', '90s', '1d' or plain seconds → seconds (at least a minute)."""
    m = _EVERY.match(text or "")
    if not m:
        raise UserError(f"'{text}' is not an interval: use e.g. 30m, 2h, 1d or 900 (seconds)")
    seconds = float(m.group(1)) * _UNIT[(m.group(2) or "s").lower()]
    if seconds < MIN_EVERY:
        raise UserError(f"sync interval '{text}' is under a minute; use 1m or more")
    return seconds


def is_url(text: str) -> bool:
    """Whether a command-line argument is a web address rather than a path."""
    return bool(re.match(r"^https?://", str(text), re.I))


def fetch_policy(settings: Any) -> FetchPolicy:
    """The crawler's rules from Settings."""
    hosts = frozenset(h.strip().lower() for h in (settings.private_url_hosts or "").split(",") if h.strip())
    return FetchPolicy(
        contact=(settings.crawl_contact or "").strip(),
        allow_private=settings.allow_private_urls,
        private_hosts=hosts,
        connect_timeout=settings.fetch_timeout,
        read_timeout=settings.fetch_timeout,
        total_timeout=settings.fetch_timeout * 3,
        max_bytes=int(settings.max_file_mb * 1024 * 1024),
        per_host_concurrency=settings.crawl_concurrency,
        per_host_delay=settings.crawl_delay,
    )


def make_ingester(engine: Any, settings: Any) -> WebIngester:
    """A WebIngester over the engine with the configured fetch policy."""
    return WebIngester(engine, Fetcher(fetch_policy(settings)))


class _Bar:
    """A tqdm bar on a terminal (none otherwise), shared by every source of a run."""

    def __init__(self, unit: str = "page") -> None:
        self.bar: Any = None
        self.unit = unit

    def __call__(self, i: int, n: int, name: str) -> None:
        from tqdm import tqdm

        if self.bar is None or self.bar.total != n:
            if self.bar is not None:
                self.bar.close()
            self.bar = tqdm(total=n, unit=self.unit, file=sys.stderr, disable=None, leave=False) if n > 1 else None
        if self.bar is not None:
            self.bar.update(i - self.bar.n)
            self.bar.set_postfix_str(name[-40:], refresh=False)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _merge(into: IngestReport, rep: IngestReport) -> None:
    into.added += rep.added
    into.updated += rep.updated
    into.unchanged += rep.unchanged
    into.skipped += rep.skipped
    into.passages += rep.passages


def _print_report(report: IngestReport, as_json: bool) -> None:
    if as_json:
        print(json.dumps(report.to_json(), ensure_ascii=False))
        return
    print(f"{len(report.added)} added, {len(report.updated)} updated, {len(report.unchanged)} unchanged, "
          f"{len(report.skipped)} skipped — {report.passages} passages in {report.seconds:.1f} s")
    for f, reason in report.skipped:
        print(f"  skipped {f}: {reason}")


def cmd_ingest_web(app: Any, args: Any) -> int:
    """`citebot ingest` with URLs, --feed or --sitemap (local paths may be mixed in)."""
    if args.max_pages is not None and args.max_pages < 1:
        raise UserError("--max-pages must be 1 or more")
    t0 = time.perf_counter()
    urls = [p for p in args.paths if is_url(p)]
    paths = [Path(p) for p in args.paths if not is_url(p)]
    bar = _Bar()
    report = IngestReport()
    ing = make_ingester(app.engine, app.settings)
    kw: dict[str, Any] = dict(collection=args.collection, progress=bar, lock_timeout=args.wait)
    try:
        if paths:
            _merge(report, app.engine.ingest_paths(paths, **kw))
        if urls:
            _merge(report, ing.ingest_urls(urls, **kw))
        for feed in args.feed or []:
            _merge(report, ing.ingest_feed(feed, **kw))
        for sitemap in args.sitemap or []:
            _merge(report, ing.ingest_sitemap(sitemap, include=args.include or (), exclude=args.exclude or (),
                                              max_pages=args.max_pages, **kw))
    finally:
        bar.close()
        ing.close()
    report.seconds = time.perf_counter() - t0
    _print_report(report, args.json)
    return 0 if report.ok else 1


def sources_file(app: Any, args: Any) -> Path:
    """--file, else CITEBOT_SOURCES_FILE (default ./citebot.toml)."""
    return Path(args.file) if getattr(args, "file", None) else Path(app.settings.sources_file)


def sync_once(ing: WebIngester, path: Path, *, progress: Callable[[int, int, str], None] | None = None,
              lock_timeout: float = 0.0) -> SyncReport:
    """Read the sources file (again: edits apply on the next pass) and run one sync pass.

    Each pass's outcomes are kept in the index folder (bot/synclog.py): the web page shows them.
    """
    from .synclog import SyncLog

    report = ing.sync(load_sources(path), progress=progress, lock_timeout=lock_timeout)
    SyncLog(ing.engine.index_dir).record(report)
    return report


def summary(report: SyncReport) -> str:
    """The one line a sync pass prints (and the bots log)."""
    failed = sum(1 for r in report.results if r.error)
    return (f"sync: {report.count('added')} added, {report.count('updated')} updated, "
            f"{report.count('unchanged')} unchanged, {report.count('skipped')} skipped"
            + (f", {failed} source{'s' if failed != 1 else ''} unreadable" if failed else "")
            + f" — {len(report.results)} sources, {sum(r.report.passages for r in report.results)} passages "
            f"in {report.seconds:.1f} s")


def _print_sync(report: SyncReport, as_json: bool) -> None:
    if as_json:
        print(json.dumps(report.to_json(), ensure_ascii=False), flush=True)
        return
    print(summary(report), flush=True)
    for r in report.results:
        if r.error:
            print(f"  {r.source.kind.value} {r.source.target}: {r.error}", flush=True)
        for f, reason in r.report.skipped:
            print(f"  skipped {f}: {reason}", flush=True)


def cmd_sync(app: Any, args: Any) -> int:
    """`citebot sync`: one pass over citebot.toml, or one every --every."""
    path = sources_file(app, args)
    every = parse_every(args.every) if args.every else None
    load_sources(path)  # a broken file is reported before any work starts
    ing = make_ingester(app.engine, app.settings)
    try:
        while True:
            bar = _Bar()
            try:
                report = sync_once(ing, path, progress=bar, lock_timeout=args.wait)
            except UserError as exc:
                if every is None:
                    raise
                print(f"citebot: {exc}", file=sys.stderr, flush=True)  # keep looping: the file may be fixed
                report = None
            finally:
                bar.close()
            if report is not None:
                _print_sync(report, args.json)
            if every is None:
                return 0 if report is not None and report.ok else 1
            time.sleep(every)
    finally:
        ing.close()


async def sync_forever(engine: Any, settings: Any, every: float, *, first_delay: float = 5.0) -> None:
    """The bots' in-process sync loop (CITEBOT_SYNC_EVERY): a failed pass is logged, never fatal."""
    path = Path(settings.sources_file)
    ing = make_ingester(engine, settings)
    log.info("syncing %s every %.0f s", path, every)
    try:
        await asyncio.sleep(first_delay)
        while True:
            try:
                # Fetching and embedding block: off the event loop, or Discord heartbeats are missed.
                report = await asyncio.to_thread(sync_once, ing, path, lock_timeout=300.0)
                log.info("%s", summary(report))
                for r in report.results:
                    if r.error:
                        log.warning("sync: %s %s: %s", r.source.kind.value, r.source.target, r.error)
            except UserError as exc:
                log.warning("sync skipped: %s", exc)
            except Exception:
                log.exception("sync pass failed")
            await asyncio.sleep(every)
    finally:
        ing.close()


def sync_coroutines(app: Any) -> list[Any]:
    """The sync loop for `citebot run` when CITEBOT_SYNC_EVERY is set (else nothing)."""
    if not app.settings.sync_every:
        return []
    return [sync_forever(app.engine, app.settings, parse_every(app.settings.sync_every))]
