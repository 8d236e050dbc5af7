"""What the last sync passes did, kept beside the index (`sync_log.sqlite`) for the web page.

A SyncReport lives only in the process that ran the pass; the web page (often another process
than `citebot sync` in cron) shows each article's last outcome and each source's last error, so
every pass writes them here. Small and append-mostly: one row per article and per source, replaced
by the next pass that sees it, plus one row per pass.
"""
from __future__ import annotations

import logging
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from index import SyncReport

log = logging.getLogger(__name__)

FILE = "sync_log.sqlite"

SCHEMA = """
CREATE TABLE IF NOT EXISTS passes (
    id INTEGER PRIMARY KEY, at REAL NOT NULL, seconds REAL NOT NULL,
    added INTEGER NOT NULL, updated INTEGER NOT NULL, unchanged INTEGER NOT NULL,
    skipped INTEGER NOT NULL, errors INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS articles (
    source TEXT NOT NULL, collection TEXT NOT NULL, at REAL NOT NULL,
    outcome TEXT NOT NULL,  -- added, updated, unchanged, error, or copy (of an indexed article)
    reason TEXT,
    PRIMARY KEY (source, collection)
);
CREATE TABLE IF NOT EXISTS sources (
    kind TEXT NOT NULL, target TEXT NOT NULL, collection TEXT NOT NULL, at REAL NOT NULL,
    error TEXT, PRIMARY KEY (kind, target, collection)
);
"""


@dataclass(frozen=True)
class PassRow:
    """One sync pass: when, how long, and its counts."""

    at: float
    seconds: float
    added: int
    updated: int
    unchanged: int
    skipped: int
    errors: int

    @property
    def ok(self) -> bool:
        """True when nothing was skipped and every source could be read."""
        return not self.skipped and not self.errors


@dataclass(frozen=True)
class ArticleOutcome:
    """An article's (or a page's) outcome in the last pass that looked at it."""

    at: float
    outcome: str  # added, updated, unchanged, error or copy
    reason: str | None = None


@dataclass(frozen=True)
class SourceOutcome:
    """A sources-file entry's last pass: `error` is None when it could be read."""

    kind: str
    target: str
    collection: str
    at: float
    error: str | None


class SyncLog:
    """The sync outcomes of an index folder; safe across threads and processes (SQLite, WAL)."""

    def __init__(self, index_dir: Path) -> None:
        self.path = Path(index_dir) / FILE
        self._lock = threading.Lock()

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(str(self.path), timeout=10)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.executescript(SCHEMA)
        return conn

    def record(self, report: SyncReport) -> None:
        """Store one pass's outcomes (a failure to write is logged, never raised: the pass itself worked)."""
        now = time.time()
        articles: list[tuple[str, str, float, str, str | None]] = []
        sources: list[tuple[str, str, str, float, str | None]] = []
        for r in report.results:
            coll = r.source.collection
            sources.append((r.source.kind.value, r.source.target, coll, now, r.error))
            for outcome in ("added", "updated", "unchanged"):
                articles += [(s, coll, now, outcome, None) for s in getattr(r.report, outcome)]
            articles += [(s, coll, now, "error", reason) for s, reason in r.report.skipped]
            articles += [(s, coll, now, "copy", f"same as {other}") for s, other in r.report.duplicates]
        errors = sum(1 for r in report.results if r.error)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self._lock, self._connect() as conn:
                conn.execute("INSERT INTO passes (at, seconds, added, updated, unchanged, skipped, errors) "
                             "VALUES (?,?,?,?,?,?,?)",
                             (now, report.seconds, report.count("added"), report.count("updated"),
                              report.count("unchanged"), report.count("skipped"), errors))
                conn.executemany("INSERT OR REPLACE INTO articles VALUES (?,?,?,?,?)", articles)
                conn.executemany("INSERT OR REPLACE INTO sources VALUES (?,?,?,?,?)", sources)
        except sqlite3.Error:
            log.warning("could not record the sync pass in %s", FILE, exc_info=True)

    def _read(self, sql: str) -> list[tuple]:  # type: ignore[type-arg]
        if not self.path.exists():
            return []
        try:
            with self._lock:
                conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=10)
                try:
                    return conn.execute(sql).fetchall()
                finally:
                    conn.close()
        except sqlite3.Error:
            log.warning("could not read %s", FILE, exc_info=True)
            return []

    def last_pass(self) -> PassRow | None:
        """The newest pass, or None before the first one."""
        rows = self._read("SELECT at, seconds, added, updated, unchanged, skipped, errors FROM passes "
                          "ORDER BY at DESC, id DESC LIMIT 1")
        return PassRow(*rows[0]) if rows else None

    def articles(self) -> dict[tuple[str, str], ArticleOutcome]:
        """(source, collection) -> its last outcome."""
        return {(s, c): ArticleOutcome(at, o, r) for s, c, at, o, r in
                self._read("SELECT source, collection, at, outcome, reason FROM articles")}

    def sources(self) -> list[SourceOutcome]:
        """Every sources-file entry a pass has seen, newest first."""
        return [SourceOutcome(*r) for r in
                self._read("SELECT kind, target, collection, at, error FROM sources ORDER BY at DESC, kind, target")]
