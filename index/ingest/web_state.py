"""What a sync remembers per URL: validators and content hashes of pages, the last entries of feeds and sitemaps.

Kept in `web_state.sqlite` in the index folder, beside the generations (not inside one): it is
written only after a page's article was published, so a crash or a failed fetch never leaves a
page "known" but not indexed.
"""
from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from .dates import fingerprint
from .listings import Page
from .web import Response


def page_fingerprint(body: bytes) -> str:
    """A fetched page's bytes and the date reader's version: either changing re-reads the page."""
    return fingerprint(hashlib.sha256(body).hexdigest())


class WebState:
    """Validators and content hashes of fetched pages, and the last entries of feeds and sitemaps."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None

    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=30, check_same_thread=False, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute(
                "CREATE TABLE IF NOT EXISTS pages (url TEXT NOT NULL, collection TEXT NOT NULL, etag TEXT, "
                "last_modified TEXT, sha256 TEXT, final_url TEXT, checked_at REAL, PRIMARY KEY (url, collection))")
            conn.execute(
                "CREATE TABLE IF NOT EXISTS listings (url TEXT NOT NULL, collection TEXT NOT NULL, etag TEXT, "
                "last_modified TEXT, pages TEXT, children TEXT, checked_at REAL, PRIMARY KEY (url, collection))")
            self._conn = conn
        return self._conn

    def page(self, url: str, collection: str) -> tuple[str | None, str | None, str | None]:
        """(etag, last_modified, fingerprint) recorded for a page, or Nones (see `page_fingerprint`)."""
        with self._lock:
            row = self._db().execute("SELECT etag, last_modified, sha256 FROM pages WHERE url=? AND collection=?",
                                     (url, collection)).fetchone()
        return (row[0], row[1], row[2]) if row else (None, None, None)

    def record_pages(self, rows: Sequence[tuple[str, str, Response]]) -> None:
        """Remember (url, collection, response) after the page's article was published."""
        now = time.time()
        with self._lock:
            db = self._db()
            db.execute("BEGIN")
            db.executemany(
                "INSERT OR REPLACE INTO pages VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(u, c, r.etag, r.last_modified, page_fingerprint(r.body), r.url, now) for u, c, r in rows])
            db.execute("COMMIT")

    def forget_page(self, url: str, collection: str) -> None:
        """Drop a page's validators (its last fetch did not make it into the index)."""
        with self._lock:
            self._db().execute("DELETE FROM pages WHERE url=? AND collection=?", (url, collection))

    def listing(self, url: str, collection: str) -> tuple[str | None, str | None, list[Page] | None, list[str]]:
        """(etag, last_modified, pages, children) of a feed or sitemap's last full fetch."""
        with self._lock:
            row = self._db().execute(
                "SELECT etag, last_modified, pages, children FROM listings WHERE url=? AND collection=?",
                (url, collection)).fetchone()
        if not row:
            return None, None, None, []
        return row[0], row[1], [Page(*p) for p in json.loads(row[2])], json.loads(row[3])

    def record_listing(self, url: str, collection: str, resp: Response, pages: list[Page], children: list[str]) -> None:
        """Remember a feed or sitemap's entries, so a 304 next time still knows what to check."""
        with self._lock:
            self._db().execute(
                "INSERT OR REPLACE INTO listings VALUES (?, ?, ?, ?, ?, ?, ?)",
                (url, collection, resp.etag, resp.last_modified,
                 json.dumps([[p.url, p.title, p.date, p.updated, p.lastmod] for p in pages]), json.dumps(children),
                 time.time()))

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None


