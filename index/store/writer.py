"""The single writer: copy the live generation, change it, publish it atomically."""
from __future__ import annotations

import json
import logging
import shutil
import sqlite3
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..errors import IndexBusyError
from ..types import Article, Passage
from . import layout
from .layout import META, WRITE_LOCK, current_name
from .lexical import LexicalIndex
from .reader import LEXICAL
from .schema import PASSAGE_TEXT, check_model, create, has_table, migrate, read_info, stamp_format
from .vectors import DEFAULT_EXACT_BELOW, TOMBSTONE, Rows, empty_rows, load_rows, write_rows

log = logging.getLogger(__name__)


class IndexWriter:
    """The single writer: copy the live generation, change it, publish it atomically.

    Use as a context manager; `commit()` publishes, leaving without commit discards the copy.
    Below `exact_below` passages the dense index is exact (flat); from there on it is IVF-SQ8,
    trained once and then extended in place; removals leave tombstones until they exceed a
    fifth of the rows, when the rows are compacted and the IVF index rebuilt. Files a commit
    does not change (the vectors after a removal, the IVF index when nothing was added) are
    hard-linked from the previous generation instead of copied.
    """

    def __init__(
        self,
        root: Path,
        *,
        model: str,
        dim: int,
        lock_timeout: float = 0.0,
        exact_below: int = DEFAULT_EXACT_BELOW,
    ) -> None:
        from filelock import FileLock, Timeout

        if exact_below < 1:
            raise ValueError("exact_below must be positive")
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.model, self.dim, self.exact_below = model, dim, exact_below
        self._lock = FileLock(str(self.root / WRITE_LOCK))
        try:
            self._lock.acquire(timeout=lock_timeout)
        except Timeout as exc:
            raise IndexBusyError(
                f"another citebot ingest or forget is writing to {self.root}; wait for it to finish and retry"
            ) from exc
        self._base = current_name(self.root)
        self._gen: Path | None = None
        self._conn: sqlite3.Connection | None = None
        self._ro: sqlite3.Connection | None = None  # read-only view of the base until a change starts a copy
        self._dirty = False
        self._rows: Rows = empty_rows(dim)
        self._ids: np.ndarray = self._rows.ids
        self._coll_codes: dict[str, int] = {}
        self._new_vecs: list[np.ndarray] = []
        self._new_ids: list[np.ndarray] = []
        self._new_coll: list[np.ndarray] = []
        self._removed = False
        try:
            self._check_base()
        except BaseException:
            self._lock.release()
            raise

    def _check_base(self) -> None:
        if self._base is None:
            return
        conn = sqlite3.connect(f"file:{self.root / self._base / META}?mode=ro", uri=True)
        try:
            info = read_info(conn)
        finally:
            conn.close()
        check_model(info, self.model, self.dim, self.root)

    # --- lazily start a new generation on the first change --------------------------------

    def _begin(self) -> None:
        if self._gen is not None:
            return
        gen = layout.new_generation(self.root)
        if self._base:
            # The published file never changes, so a plain (kernel-side) copy is consistent.
            shutil.copyfile(self.root / self._base / META, gen / META)
            conn = sqlite3.connect(str(gen / META))
            applied = migrate(conn)
            if applied:
                log.info("upgraded the index copy in %s: %s", gen.name, ", ".join(applied))
            rows = load_rows(self.root / self._base, conn, self.dim)
        else:
            conn = sqlite3.connect(str(gen / META))
            create(conn, self.model, self.dim)
            rows = empty_rows(self.dim)
        stamp_format(conn)
        self._rows = rows
        self._ids = rows.ids.copy()  # tombstones are written here; rows.ids keeps the base's view
        self._coll_codes = {c: i for i, c in enumerate(rows.collections)}
        self._new_vecs = []
        self._new_ids = []
        self._new_coll = []
        self._removed = False
        self._gen, self._conn = gen, conn

    def _read_conn(self) -> sqlite3.Connection | None:
        if self._conn is not None:
            return self._conn
        if self._base is None:
            return None
        if self._ro is None:
            self._ro = sqlite3.connect(f"file:{self.root / self._base / META}?mode=ro", uri=True)
        return self._ro

    def _close_ro(self) -> None:
        if self._ro is not None:
            self._ro.close()
            self._ro = None

    # --- changes --------------------------------------------------------------------------

    def digest_of(self, source: str, collection: str) -> str | None:
        """Content hash recorded for an article, or None when it is not indexed."""
        conn = self._read_conn()
        if conn is None:
            return None
        row = conn.execute("SELECT digest FROM articles WHERE source = ? AND collection = ?", (source, collection)).fetchone()
        return str(row[0]) if row else None

    def twin_of(self, digest: str, collection: str, source: str) -> str | None:
        """Another indexed article of this collection with exactly this content, if any."""
        conn = self._read_conn()
        if conn is None:
            return None
        row = conn.execute("SELECT source FROM articles WHERE digest = ? AND collection = ? AND source != ? LIMIT 1",
                           (digest, collection, source)).fetchone()
        return str(row[0]) if row else None

    def alias_of(self, source: str, collection: str) -> str | None:
        """The article a location was recorded as a copy of, or None."""
        conn = self._read_conn()
        if conn is None or not has_table(conn, "aliases"):
            return None
        row = conn.execute("SELECT article_source FROM aliases WHERE source = ? AND collection = ?",
                           (source, collection)).fetchone()
        return str(row[0]) if row else None

    def add_alias(self, source: str, collection: str, article_source: str) -> None:
        """Record `source` as a second location of the indexed article `article_source`."""
        self._begin()
        assert self._conn is not None
        self._conn.execute("INSERT OR REPLACE INTO aliases VALUES (?, ?, ?, ?)",
                           (source, collection, article_source, time.time()))
        self._dirty = True

    def restamp(self, article: Article, digest: str) -> bool:
        """Record a new date reading of an indexed article whose title, text and link are unchanged
        (the date reader changed, the page did not): no re-chunking or re-embedding. False when
        anything else changed, and the article must be replaced."""
        conn = self._read_conn()
        if conn is None:
            return False
        key = (article.source, article.collection)
        row = conn.execute("SELECT title, text, url FROM articles WHERE source = ? AND collection = ?", key).fetchone()
        if row is None or tuple(row) != (article.title, article.text, article.url):
            return False
        self._begin()
        assert self._conn is not None
        self._conn.execute(
            "UPDATE articles SET date = ?, updated = ?, date_source = ?, date_estimated = ?, digest = ? "
            "WHERE source = ? AND collection = ?",
            (article.date, article.updated, article.date_source, int(article.date_estimated), digest, *key))
        self._dirty = True
        return True

    def remove(self, source: str, collection: str | None = None) -> int:
        """Remove an article (by exact source) and its passages; returns how many articles went."""
        conn = self._read_conn()
        if conn is None:
            return 0
        if has_table(conn, "aliases"):  # a second location, or the article its copies point at
            alias_sql = "SELECT 1 FROM aliases WHERE (source = ? OR article_source = ?)" + (
                " AND collection = ?" if collection is not None else "")
            alias_args = [source, source] + ([collection] if collection is not None else [])
            if conn.execute(alias_sql, alias_args).fetchone():
                self._begin()
                assert self._conn is not None
                self._conn.execute("DELETE" + alias_sql[len("SELECT 1"):], alias_args)
                self._dirty = True
                conn = self._conn
        sql, args = "SELECT id FROM articles WHERE source = ?", [source]
        if collection is not None:
            sql += " AND collection = ?"
            args.append(collection)
        if not conn.execute(sql, args).fetchall():
            return 0
        self._begin()
        assert self._conn is not None
        art_ids = [r[0] for r in self._conn.execute(sql, args)]
        gone: list[int] = []
        for aid in art_ids:
            gone += [r[0] for r in self._conn.execute("SELECT id FROM passages WHERE article_id = ?", (aid,))]
            self._conn.execute("DELETE FROM passages WHERE article_id = ?", (aid,))
            self._conn.execute("DELETE FROM articles WHERE id = ?", (aid,))
        if gone:
            pids = np.asarray(gone, dtype=np.int64)
            self._ids[np.isin(self._ids, pids)] = TOMBSTONE
            for arr in self._new_ids:
                arr[np.isin(arr, pids)] = TOMBSTONE
            self._removed = True
        self._dirty = True
        return len(art_ids)

    def add(self, article: Article, digest: str, passages: Sequence[Passage], vectors: np.ndarray) -> None:
        """Add (or replace) an article with its passages and their vectors."""
        if len(passages) != len(vectors):
            raise ValueError("one vector per passage")
        vectors = np.asarray(vectors)
        if len(passages) and vectors.shape[1] != self.dim:
            raise ValueError(f"vectors have {vectors.shape[1]} dimensions, the index {self.dim}")
        self.remove(article.source, article.collection)
        self._begin()
        assert self._conn is not None
        cur = self._conn.execute(
            "INSERT INTO articles (source, collection, title, date, url, digest, text, added_at, updated, date_source, "
            "date_estimated) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            (article.source, article.collection, article.title, article.date, article.url, digest, article.text, time.time(),
             article.updated, article.date_source, int(article.date_estimated)),
        )
        aid = cur.lastrowid
        ids = []
        for p in passages:
            c = self._conn.execute(
                "INSERT INTO passages (article_id, start, end, sentences, text) VALUES (?,?,?,?,?)",
                (aid, p.start, p.end, json.dumps([list(s) for s in p.sentences]), p.text),
            )
            ids.append(c.lastrowid)
        if ids:
            code = self._coll_codes.setdefault(article.collection, len(self._coll_codes))
            self._new_vecs.append(np.asarray(vectors, dtype=np.float16))
            self._new_ids.append(np.asarray(ids, dtype=np.int64))
            self._new_coll.append(np.full(len(ids), code, dtype=np.int32))
        self._dirty = True

    # --- publishing -----------------------------------------------------------------------

    def _write_vectors(self, gen: Path) -> tuple[np.ndarray, str]:
        """Write vectors.npy, ids.npy, coll.npy, collections.json and the dense index; returns (ids, kind)."""
        return write_rows(
            gen,
            self.root / self._base if self._base else None,
            self._rows,
            self._ids,
            np.concatenate(self._new_vecs) if self._new_vecs else np.zeros((0, self.dim), np.float16),
            np.concatenate(self._new_ids) if self._new_ids else np.zeros(0, np.int64),
            np.concatenate(self._new_coll) if self._new_coll else np.zeros(0, np.int32),
            list(self._coll_codes),
            dim=self.dim,
            exact_below=self.exact_below,
        )

    def commit(self) -> bool:
        """Write the new generation completely, then publish it; False when nothing changed."""
        if not self._dirty or self._gen is None or self._conn is None:
            return False
        t0 = time.perf_counter()
        gen = self._gen
        stamp_format(self._conn)
        self._conn.commit()
        _ids, kind = self._write_vectors(gen)
        rows = self._conn.execute(
            f"SELECT p.id, {PASSAGE_TEXT}, a.title "
            "FROM passages p JOIN articles a ON a.id = p.article_id ORDER BY p.id"
        ).fetchall()
        # The title is indexed with each passage so that "what did <title words>" finds the article.
        LexicalIndex.build([r[0] for r in rows], (f"{r[2]}\n{r[1]}" for r in rows)).save(gen / LEXICAL)
        if self._removed:
            self._conn.execute("VACUUM")  # only removals leave free pages worth reclaiming
        self._conn.close()
        self._conn = None
        layout.publish(self.root, gen)
        log.info("published index generation %s (%d passages, %s) in %.1f s",
                 gen.name, len(rows), kind, time.perf_counter() - t0)
        self._base, self._gen, self._dirty = gen.name, None, False
        self._close_ro()
        self._cleanup()
        return True

    def _cleanup(self, keep: int = layout.KEEP_GENERATIONS) -> None:
        """Delete generations older than the newest `keep` (readers may still be on the previous one)."""
        layout.cleanup(self.root, self._base, keep)

    def close(self) -> None:
        """Discard uncommitted changes and release the lock."""
        try:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
            self._close_ro()
            if self._gen is not None and self._gen.exists():
                shutil.rmtree(self._gen, ignore_errors=True)
                self._gen = None
        finally:
            self._lock.release()

    def __enter__(self) -> IndexWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
