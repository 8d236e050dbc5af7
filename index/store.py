"""The index on disk: FAISS vectors + SQLite metadata + BM25, in immutable generations.

Layout of the index folder:
    CURRENT            name of the live generation (replaced atomically with os.replace)
    gen-000042/        one complete, never-modified-after-publish generation:
        meta.sqlite      articles and passages
        vectors.faiss    IndexIDMap2 over inner-product vectors, ids = passage ids
        lex/             BM25 index and its row → passage id map
    .write.lock        held by the one writer (ingest / forget)

A writer copies the live generation, changes the copy, writes it completely, fsyncs, then
swaps CURRENT. A crash at any point leaves CURRENT naming the last complete generation, and
readers in other processes pick up a new generation on their next query without a restart.
"""
from __future__ import annotations

import json
import logging
import os
import shutil
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from .errors import IndexBusyError, IndexMismatchError, UserError
from .lexical import LexicalIndex
from .types import Article, Hit, Passage

log = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS info (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS articles (
    id INTEGER PRIMARY KEY,
    source TEXT NOT NULL,
    collection TEXT NOT NULL,
    title TEXT NOT NULL,
    date TEXT,
    url TEXT,
    digest TEXT NOT NULL,
    text TEXT NOT NULL,
    added_at REAL NOT NULL,
    UNIQUE (collection, source)
);
CREATE TABLE IF NOT EXISTS passages (
    id INTEGER PRIMARY KEY,
    article_id INTEGER NOT NULL REFERENCES articles(id),
    start INTEGER NOT NULL,
    end INTEGER NOT NULL,
    sentences TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS passages_article ON passages(article_id);
"""


@dataclass(frozen=True)
class SourceInfo:
    """One indexed article, as `citebot sources` lists it."""

    source: str
    title: str
    date: str | None
    url: str | None
    collection: str
    passages: int
    added_at: float


def _current_name(root: Path) -> str | None:
    try:
        return (root / "CURRENT").read_text().strip() or None
    except FileNotFoundError:
        return None


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


class IndexReader:
    """A read-only view of one generation; `refresh()` moves to a newer one if it was published."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.generation: str | None = None
        self._conn: sqlite3.Connection | None = None
        self._faiss = None
        self._lex: LexicalIndex | None = None
        self._coll_ids: np.ndarray = np.zeros(0, dtype=np.int64)
        self._coll_codes: np.ndarray = np.zeros(0, dtype=np.int32)
        self._coll_names: dict[str, int] = {}
        self._lex_codes: np.ndarray = np.zeros(0, dtype=np.int32)
        self.info: dict[str, str] = {}
        self.refresh()

    @property
    def exists(self) -> bool:
        """Whether any generation has been published yet."""
        return self.generation is not None

    def refresh(self) -> bool:
        """Open the generation CURRENT names if it is not the one open; True when it changed."""
        for _attempt in range(5):
            name = _current_name(self.root)
            if name == self.generation:
                return False
            if name is None:
                return False
            try:
                self._open(self.root / name)
            except (FileNotFoundError, sqlite3.OperationalError) as exc:
                # The writer removed that generation between our read of CURRENT and the open.
                log.debug("generation %s vanished while opening (%s); retrying", name, exc)
                time.sleep(0.05)
                continue
            self.generation = name
            log.info("opened index generation %s (%d passages)", name, len(self._coll_ids))
            return True
        raise UserError(f"the index in {self.root} keeps changing; try again")

    def _open(self, gen: Path) -> None:
        import faiss

        uri = f"file:{gen / 'meta.sqlite'}?mode=ro&immutable=1"
        if not (gen / "meta.sqlite").exists():
            raise FileNotFoundError(gen / "meta.sqlite")
        conn = sqlite3.connect(uri, uri=True, check_same_thread=False)
        info = dict(conn.execute("SELECT key, value FROM info"))
        index = faiss.read_index(str(gen / "vectors.faiss"))
        lex = LexicalIndex.load(gen / "lex")
        rows = conn.execute(
            "SELECT p.id, a.collection FROM passages p JOIN articles a ON a.id = p.article_id ORDER BY p.id"
        ).fetchall()
        names: dict[str, int] = {}
        ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        codes = np.fromiter((names.setdefault(r[1], len(names)) for r in rows), dtype=np.int32, count=len(rows))
        by_id = dict(zip(ids.tolist(), codes.tolist()))
        lex_codes = np.fromiter((by_id.get(int(i), -1) for i in lex.ids), dtype=np.int32, count=len(lex.ids))
        old = self._conn
        self._conn, self._faiss, self._lex, self.info = conn, index, lex, info
        self._coll_ids, self._coll_codes, self._coll_names, self._lex_codes = ids, codes, names, lex_codes
        if old is not None:
            old.close()

    # --- queries -------------------------------------------------------------------------

    @property
    def size(self) -> int:
        """Number of passages in the open generation."""
        return len(self._coll_ids)

    def _mask(self, collections: Iterable[str] | None, codes: np.ndarray) -> np.ndarray | None:
        if collections is None:
            return None
        wanted = [self._coll_names[c] for c in collections if c in self._coll_names]
        if len(wanted) == len(self._coll_names):
            return None
        return np.isin(codes, np.asarray(wanted, dtype=np.int32))

    def dense_search(self, qvec: np.ndarray, k: int, collections: Iterable[str] | None = None) -> list[tuple[int, float]]:
        """Top-k (passage id, cosine) by inner product, limited to `collections` when given."""
        if self._faiss is None or self.size == 0:
            return []
        import faiss

        collections = list(collections) if collections is not None else None
        mask = self._mask(collections, self._coll_codes)
        params = None
        if mask is not None:
            allowed = self._coll_ids[mask]
            if len(allowed) == 0:
                return []
            params = faiss.SearchParameters(sel=faiss.IDSelectorBatch(allowed))
        k = min(k, self.size)
        scores, ids = self._faiss.search(qvec.reshape(1, -1).astype(np.float32), k, params=params)
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0]) if i >= 0]

    def lexical_search(self, query: str, k: int, collections: Iterable[str] | None = None) -> list[tuple[int, float]]:
        """Top-k (passage id, BM25 score), limited to `collections` when given."""
        if self._lex is None:
            return []
        collections = list(collections) if collections is not None else None
        mask = self._mask(collections, self._lex_codes)
        if mask is not None and not mask.any():
            return []
        return self._lex.search(query, k, mask)

    def vectors(self, ids: Sequence[int]) -> np.ndarray:
        """Stored vectors of these passages (for scoring passages found only lexically)."""
        return np.vstack([self._faiss.reconstruct(int(i)) for i in ids]) if ids else np.zeros((0, self.dim), np.float32)

    @property
    def dim(self) -> int:
        """Vector dimension recorded for this index."""
        return int(self.info.get("dim", 0))

    def hits(self, scored: Sequence[tuple[int, float, float, float]]) -> list[Hit]:
        """Materialise (passage id, fused score, dense, lexical) rows as Hits, in the given order."""
        if not scored or self._conn is None:
            return []
        ids = [s[0] for s in scored]
        q = ",".join("?" * len(ids))
        rows = self._conn.execute(
            f"SELECT p.id, p.article_id, p.start, p.end, p.sentences, a.source, a.title, a.date, a.url, "
            f"a.collection, substr(a.text, p.start + 1, p.end - p.start) "
            f"FROM passages p JOIN articles a ON a.id = p.article_id WHERE p.id IN ({q})",
            ids,
        ).fetchall()
        by_id = {r[0]: r for r in rows}
        out = []
        for pid, score, dense, lexical in scored:
            r = by_id.get(pid)
            if r is None:
                continue
            out.append(
                Hit(
                    passage_id=r[0], article_id=r[1], start=r[2], end=r[3],
                    sentences=tuple(tuple(x) for x in json.loads(r[4])),
                    source=r[5], title=r[6], date=r[7], url=r[8], collection=r[9], text=r[10],
                    score=score, dense=dense, lexical=lexical,
                )
            )
        return out

    def article_text(self, source: str) -> str | None:
        """Full text of an article by source (citations are exact slices of it)."""
        if self._conn is None:
            return None
        row = self._conn.execute("SELECT text FROM articles WHERE source = ?", (source,)).fetchone()
        return row[0] if row else None

    def sources(self, collections: Iterable[str] | None = None) -> list[SourceInfo]:
        """The indexed articles, newest first, optionally limited to some collections."""
        if self._conn is None:
            return []
        sql = (
            "SELECT a.source, a.title, a.date, a.url, a.collection, COUNT(p.id), a.added_at "
            "FROM articles a LEFT JOIN passages p ON p.article_id = a.id"
        )
        args: list[str] = []
        if collections is not None:
            cols = list(collections)
            sql += f" WHERE a.collection IN ({','.join('?' * len(cols))})"
            args = cols
        sql += " GROUP BY a.id ORDER BY a.added_at DESC, a.title"
        return [SourceInfo(*r) for r in self._conn.execute(sql, args)]

    def close(self) -> None:
        """Release the open generation."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None


class IndexWriter:
    """The single writer: copy the live generation, change it, publish it atomically.

    Use as a context manager; `commit()` publishes, leaving without commit discards the copy.
    """

    def __init__(self, root: Path, *, model: str, dim: int, lock_timeout: float = 0.0) -> None:
        from filelock import FileLock, Timeout

        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.model, self.dim = model, dim
        self._lock = FileLock(str(self.root / ".write.lock"))
        try:
            self._lock.acquire(timeout=lock_timeout)
        except Timeout as exc:
            raise IndexBusyError(
                f"another citebot ingest or forget is writing to {self.root}; wait for it to finish and retry"
            ) from exc
        self._base = _current_name(self.root)
        self._gen: Path | None = None
        self._conn: sqlite3.Connection | None = None
        self._faiss = None
        self._dirty = False
        try:
            self._check_base()
        except BaseException:
            self._lock.release()
            raise

    def _check_base(self) -> None:
        if self._base is None:
            return
        conn = sqlite3.connect(f"file:{self.root / self._base / 'meta.sqlite'}?mode=ro", uri=True)
        try:
            info = dict(conn.execute("SELECT key, value FROM info"))
        finally:
            conn.close()
        check_model(info, self.model, self.dim, self.root)

    # --- lazily start a new generation on the first change --------------------------------

    def _begin(self) -> None:
        if self._gen is not None:
            return
        import faiss

        n = 0
        for p in self.root.glob("gen-*"):
            try:
                n = max(n, int(p.name.split("-", 1)[1]))
            except ValueError:
                pass
        gen = self.root / f"gen-{n + 1:06d}"
        if gen.exists():
            shutil.rmtree(gen)
        gen.mkdir()
        (gen / "INCOMPLETE").touch()
        conn = sqlite3.connect(str(gen / "meta.sqlite"))
        if self._base:
            src = sqlite3.connect(f"file:{self.root / self._base / 'meta.sqlite'}?mode=ro", uri=True)
            src.backup(conn)
            src.close()
            self._faiss = faiss.read_index(str(self.root / self._base / "vectors.faiss"))
        else:
            conn.executescript(SCHEMA)
            conn.executemany(
                "INSERT OR REPLACE INTO info VALUES (?, ?)",
                [("model", self.model), ("dim", str(self.dim)), ("format", "1")],
            )
            self._faiss = faiss.IndexIDMap2(faiss.IndexFlatIP(self.dim))
        self._gen, self._conn = gen, conn

    def _read_conn(self) -> sqlite3.Connection | None:
        if self._conn is not None:
            return self._conn
        if self._base is None:
            return None
        if not hasattr(self, "_ro"):
            self._ro = sqlite3.connect(f"file:{self.root / self._base / 'meta.sqlite'}?mode=ro", uri=True)
        return self._ro

    # --- changes --------------------------------------------------------------------------

    def digest_of(self, source: str, collection: str) -> str | None:
        """Content hash recorded for an article, or None when it is not indexed."""
        conn = self._read_conn()
        if conn is None:
            return None
        row = conn.execute("SELECT digest FROM articles WHERE source = ? AND collection = ?", (source, collection)).fetchone()
        return row[0] if row else None

    def remove(self, source: str, collection: str | None = None) -> int:
        """Remove an article (by exact source) and its passages; returns how many articles went."""
        conn = self._read_conn()
        if conn is None:
            return 0
        sql, args = "SELECT id FROM articles WHERE source = ?", [source]
        if collection is not None:
            sql += " AND collection = ?"
            args.append(collection)
        if not conn.execute(sql, args).fetchall():
            return 0
        self._begin()
        assert self._conn is not None
        art_ids = [r[0] for r in self._conn.execute(sql, args)]
        for aid in art_ids:
            pids = [r[0] for r in self._conn.execute("SELECT id FROM passages WHERE article_id = ?", (aid,))]
            if pids:
                self._faiss.remove_ids(np.asarray(pids, dtype=np.int64))
            self._conn.execute("DELETE FROM passages WHERE article_id = ?", (aid,))
            self._conn.execute("DELETE FROM articles WHERE id = ?", (aid,))
        self._dirty = True
        return len(art_ids)

    def add(self, article: Article, digest: str, passages: Sequence[Passage], vectors: np.ndarray) -> None:
        """Add (or replace) an article with its passages and their vectors."""
        if len(passages) != len(vectors):
            raise ValueError("one vector per passage")
        self.remove(article.source, article.collection)
        self._begin()
        assert self._conn is not None
        cur = self._conn.execute(
            "INSERT INTO articles (source, collection, title, date, url, digest, text, added_at) VALUES (?,?,?,?,?,?,?,?)",
            (article.source, article.collection, article.title, article.date, article.url, digest, article.text, time.time()),
        )
        aid = cur.lastrowid
        ids = []
        for p in passages:
            c = self._conn.execute(
                "INSERT INTO passages (article_id, start, end, sentences) VALUES (?,?,?,?)",
                (aid, p.start, p.end, json.dumps([list(s) for s in p.sentences])),
            )
            ids.append(c.lastrowid)
        if ids:
            self._faiss.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), np.asarray(ids, dtype=np.int64))
        self._dirty = True

    def commit(self) -> bool:
        """Write the new generation completely, then publish it; False when nothing changed."""
        if not self._dirty or self._gen is None or self._conn is None:
            return False
        import faiss

        gen = self._gen
        self._conn.commit()
        rows = self._conn.execute(
            "SELECT p.id, substr(a.text, p.start + 1, p.end - p.start), a.title "
            "FROM passages p JOIN articles a ON a.id = p.article_id ORDER BY p.id"
        ).fetchall()
        # The title is indexed with each passage so that "what did <title words>" finds the article.
        LexicalIndex.build([r[0] for r in rows], (f"{r[2]}\n{r[1]}" for r in rows)).save(gen / "lex")
        self._conn.execute("VACUUM")
        self._conn.close()
        self._conn = None
        faiss.write_index(self._faiss, str(gen / "vectors.faiss"))
        for f in gen.rglob("*"):
            if f.is_file():
                with open(f, "rb+") as fh:
                    os.fsync(fh.fileno())
        (gen / "INCOMPLETE").unlink()
        _fsync_dir(gen)
        tmp = self.root / "CURRENT.tmp"
        with open(tmp, "w") as fh:
            fh.write(gen.name + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.root / "CURRENT")
        _fsync_dir(self.root)
        log.info("published index generation %s (%d passages)", gen.name, len(rows))
        self._base, self._gen, self._dirty = gen.name, None, False
        if hasattr(self, "_ro"):
            self._ro.close()
            del self._ro
        self._cleanup()
        return True

    def _cleanup(self, keep: int = 2) -> None:
        """Delete generations older than the newest `keep` (readers may still be on the previous one)."""
        gens = sorted(p for p in self.root.glob("gen-*") if p.is_dir())
        live = self._base
        for p in gens[:-keep]:
            if p.name != live:
                shutil.rmtree(p, ignore_errors=True)
        for p in gens[-keep:]:
            if (p / "INCOMPLETE").exists() and p.name != live:
                shutil.rmtree(p, ignore_errors=True)

    def close(self) -> None:
        """Discard uncommitted changes and release the lock."""
        try:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
            if hasattr(self, "_ro"):
                self._ro.close()
                del self._ro
            if self._gen is not None and self._gen.exists():
                shutil.rmtree(self._gen, ignore_errors=True)
                self._gen = None
        finally:
            self._lock.release()

    def __enter__(self) -> "IndexWriter":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def check_model(info: dict[str, str], model: str, dim: int, root: Path) -> None:
    """Refuse to mix vectors of two models in one index."""
    have_model, have_dim = info.get("model"), int(info.get("dim", "0") or 0)
    if have_model != model or (dim and have_dim != dim):
        raise IndexMismatchError(
            f"the index in {root} was built with the embedding model '{have_model}' ({have_dim} dimensions), "
            f"but citebot is set to use '{model}'. Set CITEBOT_EMBEDDING_MODEL={have_model} to use this index, "
            f"or rebuild it for the new model: move {root} aside and run `citebot ingest` again."
        )
