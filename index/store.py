"""The index on disk: FAISS vectors + SQLite metadata + BM25, in immutable generations.

Layout of the index folder:
    CURRENT            name of the live generation (replaced atomically with os.replace)
    gen-000042/        one complete, never-modified-after-publish generation:
        meta.sqlite      articles and passages
        vectors.npy      float16 unit vectors, one row per passage, in passage id order
        ids.npy          passage id of each row (-1: removed, a tombstone until compaction)
        coll.npy         collection code of each row; collections.json names the codes
        ann.faiss        IVF-SQ8 over the rows, only from `exact_below` passages on (ann.json: its
                         training size); below that readers build an exact flat index at open
        lex/             BM25 index and its row → passage id map
    .write.lock        held by the one writer (ingest / forget)

A writer copies the live generation (hard-linking the files it does not change), changes the
copy, writes it completely, fsyncs, then swaps CURRENT. A crash at any point leaves CURRENT naming the last complete generation, and
readers in other processes pick up a new generation on their next query without a restart.
"""
from __future__ import annotations

import json
import logging
import os
import shutil
import sqlite3
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import IndexBusyError, IndexMismatchError, UserError
from .lexical import LexicalIndex
from .types import Article, Hit, Passage

log = logging.getLogger(__name__)

# Exact search below this many passages (a flat scan of 50k vectors takes ~2 ms), IVF-SQ8 above.
DEFAULT_EXACT_BELOW = 50_000
FORMAT = "3"  # 3: passages carry their own text (2 sliced it out of the article's)

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
    sentences TEXT NOT NULL,
    text TEXT
);
CREATE INDEX IF NOT EXISTS passages_article ON passages(article_id);
"""


# A passage's text. Stored in its own row (format 3): slicing it out of the article's text made
# SQLite read the whole article (its overflow pages), the largest cold-cache cost of a question at
# 1M passages. Indexes written before keep working through the slice.
_PASSAGE_TEXT = "COALESCE(p.text, substr(a.text, p.start + 1, p.end - p.start))"
_PASSAGE_SLICE = "substr(a.text, p.start + 1, p.end - p.start)"


def _has_passage_text(conn: sqlite3.Connection) -> bool:
    return any(r[1] == "text" for r in conn.execute("PRAGMA table_info(passages)"))


def _store_passage_text(conn: sqlite3.Connection) -> None:
    """Bring an index written before format 3 up to it: give every passage its text."""
    if _has_passage_text(conn):
        return  # format 3 writes every passage with its text: nothing to fill (no scan per write)
    conn.execute("ALTER TABLE passages ADD COLUMN text TEXT")
    conn.execute(
        "UPDATE passages SET text = (SELECT substr(a.text, passages.start + 1, passages.end - passages.start) "
        "FROM articles a WHERE a.id = passages.article_id)"
    )


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


@dataclass
class _Rows:
    """The vector side of one generation, row by row (rows follow passage ids, ascending)."""

    vectors: np.ndarray  # (rows, dim) float16, memory-mapped when read from disk
    ids: np.ndarray  # int64 passage id of each row; -1 marks a removed passage (a tombstone)
    coll: np.ndarray  # int32 code of each row's collection, an index into `collections`
    collections: list[str]


def _empty_rows(dim: int) -> _Rows:
    return _Rows(np.zeros((0, dim), np.float16), np.zeros(0, np.int64), np.zeros(0, np.int32), [])


def _load_rows(gen: Path, conn: sqlite3.Connection, dim: int) -> _Rows:
    """Read a generation's rows; format 1 (an IndexIDMap2 in vectors.faiss) is converted in memory."""
    if (gen / "ids.npy").exists():
        return _Rows(
            np.load(gen / "vectors.npy", mmap_mode="r"),
            np.load(gen / "ids.npy"),
            np.load(gen / "coll.npy"),
            json.loads((gen / "collections.json").read_text()),
        )
    import faiss

    index = faiss.read_index(str(gen / "vectors.faiss"))
    ids = faiss.vector_to_array(index.id_map).astype(np.int64)
    vecs = index.index.reconstruct_n(0, index.ntotal) if index.ntotal else np.zeros((0, dim), np.float32)
    order = np.argsort(ids, kind="stable")
    names: dict[str, int] = {}
    by_id = {pid: names.setdefault(c, len(names)) for pid, c in conn.execute(
        "SELECT p.id, a.collection FROM passages p JOIN articles a ON a.id = p.article_id")}
    ids = ids[order]
    coll = np.fromiter((by_id.get(int(i), -1) for i in ids), dtype=np.int32, count=len(ids))
    return _Rows(np.asarray(vecs[order], dtype=np.float16), ids, coll, list(names))


def _bitmap(mask: np.ndarray):
    """A FAISS selector over positions where `mask` is true; keep the returned bits alive while searching."""
    import faiss

    bits = np.packbits(mask, bitorder="little")
    return faiss.IDSelectorBitmap(len(mask), faiss.swig_ptr(bits)), bits


def _top(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k largest scores, best first."""
    if len(scores) > k:
        part = np.argpartition(-scores, k - 1)[:k]
    else:
        part = np.arange(len(scores))
    return part[np.argsort(-scores[part], kind="stable")]


class IndexReader:
    """A read-only view of one generation; `refresh()` moves to a newer one if it was published.

    Dense search is exact (FAISS flat) on small indexes and IVF-SQ8 on large ones (see
    `IndexWriter.exact_below`); IVF candidates are re-scored exactly from the stored float16
    vectors, so scores are cosines either way. `nprobe`, `rerank` and `brute_below` trade speed
    for recall on IVF indexes; the defaults keep recall@10 against exact search above 0.95.
    """

    def __init__(self, root: Path, *, nprobe: int = 64, rerank: int = 64, brute_below: int = 20_000) -> None:
        if nprobe < 1 or rerank < 1 or brute_below < 0:
            raise ValueError("nprobe and rerank must be positive, brute_below not negative")
        self.root = Path(root)
        self.nprobe, self.rerank, self.brute_below = nprobe, rerank, brute_below
        self.generation: str | None = None
        self._conn: sqlite3.Connection | None = None
        self._hits_sql: tuple[sqlite3.Connection | None, str] = (None, _PASSAGE_SLICE)
        self._flat = None
        self._ann = None
        self._lex: LexicalIndex | None = None
        self._rows: _Rows = _empty_rows(0)
        self._live_rows: np.ndarray = np.zeros(0, dtype=np.int64)
        self._live_ids: np.ndarray = np.zeros(0, dtype=np.int64)
        self._live_codes: np.ndarray = np.zeros(0, dtype=np.int32)
        self._coll_names: dict[str, int] = {}
        self._lex_codes: np.ndarray = np.zeros(0, dtype=np.int32)
        self.info: dict[str, str] = {}
        self.refresh()

    @property
    def exists(self) -> bool:
        """Whether any generation has been published yet."""
        return self.generation is not None

    @property
    def kind(self) -> str:
        """Which dense index is open: flat (exact) or ivf-sq8."""
        return "ivf-sq8" if self._ann is not None else "flat"

    def refresh(self) -> bool:
        """Open the generation CURRENT names if it is not the one open; True when it changed.

        Called before every question, so the common case is one small file read.
        """
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
            log.info("opened index generation %s (%d passages, %s)", name, self.size, self.kind)
            return True
        raise UserError(f"the index in {self.root} keeps changing; try again")

    def _open(self, gen: Path) -> None:
        import faiss

        if not (gen / "meta.sqlite").exists():
            raise FileNotFoundError(gen / "meta.sqlite")
        conn = sqlite3.connect(f"file:{gen / 'meta.sqlite'}?mode=ro&immutable=1", uri=True, check_same_thread=False)
        try:
            info = dict(conn.execute("SELECT key, value FROM info"))
            rows = _load_rows(gen, conn, int(info.get("dim", 0)))
            live_rows = np.flatnonzero(rows.ids >= 0)
            live_ids = rows.ids[live_rows]
            ann = flat = None
            if (gen / "ann.faiss").exists():
                ann = faiss.read_index(str(gen / "ann.faiss"))
            else:
                flat = faiss.IndexFlatIP(rows.vectors.shape[1])
                if len(live_rows):
                    flat.add(np.asarray(rows.vectors[live_rows], dtype=np.float32))
            lex = LexicalIndex.load(gen / "lex")
        except BaseException:
            conn.close()
            raise
        live_codes = rows.coll[live_rows]
        if np.array_equal(lex.ids, live_ids):
            lex_codes = live_codes
        else:
            pos = np.clip(np.searchsorted(live_ids, lex.ids), 0, max(len(live_ids) - 1, 0))
            found = live_ids[pos] == lex.ids if len(live_ids) else np.zeros(len(lex.ids), bool)
            lex_codes = np.where(found, live_codes[pos] if len(live_ids) else -1, -1).astype(np.int32)
        # The previous connection is not closed here: a question running on another thread may
        # still be reading it. It closes itself when the last reference to it goes.
        self._conn, self._flat, self._ann, self._lex, self.info = conn, flat, ann, lex, info
        # One attribute for both, so a question on another thread never pairs a connection with
        # the other generation's way of reading passage text.
        self._hits_sql = (conn, _PASSAGE_TEXT if _has_passage_text(conn) else _PASSAGE_SLICE)
        self._rows, self._live_rows, self._live_ids, self._live_codes = rows, live_rows, live_ids, live_codes
        self._coll_names = {c: i for i, c in enumerate(rows.collections)}
        self._lex_codes = lex_codes

    # --- queries -------------------------------------------------------------------------

    @property
    def size(self) -> int:
        """Number of passages in the open generation."""
        return len(self._live_ids)

    def _mask(self, collections: Iterable[str] | None, codes: np.ndarray) -> np.ndarray | None:
        if collections is None:
            return None
        wanted = [self._coll_names[c] for c in collections if c in self._coll_names]
        if len(wanted) == len(self._coll_names):
            return None
        return np.isin(codes, np.asarray(wanted, dtype=np.int32))

    def _exact(self, q: np.ndarray, rows: np.ndarray, k: int) -> list[tuple[int, float]]:
        """Exact cosine over some rows, from the stored float16 vectors."""
        rows = np.sort(rows)  # sequential reads of the memory-mapped file
        scores = np.asarray(self._rows.vectors[rows], dtype=np.float32) @ q
        best = _top(scores, k)
        return [(int(self._rows.ids[rows[i]]), float(scores[i])) for i in best]

    def dense_search(self, qvec: np.ndarray, k: int, collections: Iterable[str] | None = None) -> list[tuple[int, float]]:
        """Top-k (passage id, cosine) by inner product, limited to `collections` when given."""
        if self.size == 0 or k <= 0:
            return []
        import faiss

        q = np.ascontiguousarray(qvec, dtype=np.float32).reshape(-1)
        collections = list(collections) if collections is not None else None
        mask = self._mask(collections, self._live_codes)
        n_allowed = self.size if mask is None else int(mask.sum())
        if n_allowed == 0:
            return []
        k = min(k, n_allowed)
        if self._ann is None:
            params, _keep = None, None
            if mask is not None:
                sel, _keep = _bitmap(mask)
                params = faiss.SearchParameters(sel=sel)
            scores, labels = self._flat.search(q.reshape(1, -1), k, params=params)
            return [(int(self._live_ids[i]), float(s)) for i, s in zip(labels[0], scores[0]) if i >= 0]
        if mask is not None and n_allowed <= self.brute_below:
            # A small collection inside a big index: scanning it exactly beats filtering the IVF lists.
            return self._exact(q, self._live_rows[mask], k)
        nprobe = self.nprobe
        params_kw: dict = {}
        if mask is not None:
            row_mask = np.zeros(len(self._rows.ids), dtype=bool)
            row_mask[self._live_rows[mask]] = True
            sel, _keep = _bitmap(row_mask)
            params_kw["sel"] = sel
            # Fewer allowed vectors per list: probe more lists to find k of them.
            nprobe = int(min(self._ann.nlist, np.ceil(nprobe * self.size / n_allowed)))
        params = faiss.SearchParametersIVF(nprobe=nprobe, **params_kw)
        _scores, labels = self._ann.search(q.reshape(1, -1), max(k, self.rerank), params=params)
        rows = labels[0][labels[0] >= 0]
        return self._exact(q, rows, k)

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
        dim = self._rows.vectors.shape[1]
        if not len(ids) or self.size == 0:
            return np.zeros((0, dim), np.float32)
        want = np.asarray(ids, dtype=np.int64)
        pos = np.clip(np.searchsorted(self._live_ids, want), 0, self.size - 1)
        if not np.array_equal(self._live_ids[pos], want):
            missing = want[self._live_ids[pos] != want]
            raise KeyError(f"passages not in the index: {missing[:5].tolist()}")
        return np.asarray(self._rows.vectors[self._live_rows[pos]], dtype=np.float32)

    @property
    def lexical(self) -> LexicalIndex | None:
        """The BM25 side of the open generation (its idf weighs question words)."""
        return self._lex

    @property
    def dim(self) -> int:
        """Vector dimension recorded for this index."""
        return int(self.info.get("dim", 0))

    def hits(self, scored: Sequence[tuple[int, float, float, float]]) -> list[Hit]:
        """Materialise (passage id, fused score, dense, lexical) rows as Hits, in the given order."""
        conn, text_sql = self._hits_sql
        if not scored or conn is None:
            return []
        ids = [s[0] for s in scored]
        q = ",".join("?" * len(ids))
        rows = conn.execute(
            f"SELECT p.id, p.article_id, p.start, p.end, p.sentences, a.source, a.title, a.date, a.url, "
            f"a.collection, {text_sql} "
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
            self._hits_sql = (None, _PASSAGE_SLICE)


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
        if self._base:
            # The published file never changes, so a plain (kernel-side) copy is consistent.
            shutil.copyfile(self.root / self._base / "meta.sqlite", gen / "meta.sqlite")
            conn = sqlite3.connect(str(gen / "meta.sqlite"))
            _store_passage_text(conn)
            rows = _load_rows(self.root / self._base, conn, self.dim)
        else:
            conn = sqlite3.connect(str(gen / "meta.sqlite"))
            conn.executescript(SCHEMA)
            conn.executemany(
                "INSERT OR REPLACE INTO info VALUES (?, ?)",
                [("model", self.model), ("dim", str(self.dim)), ("format", FORMAT)],
            )
            rows = _empty_rows(self.dim)
        conn.execute("INSERT OR REPLACE INTO info VALUES ('format', ?)", (FORMAT,))
        self._rows = rows
        self._ids = rows.ids.copy()  # tombstones are written here; rows.ids keeps the base's view
        self._coll_codes = {c: i for i, c in enumerate(rows.collections)}
        self._new_vecs: list[np.ndarray] = []
        self._new_ids: list[np.ndarray] = []
        self._new_coll: list[np.ndarray] = []
        self._removed = False
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
        gone: list[int] = []
        for aid in art_ids:
            gone += [r[0] for r in self._conn.execute("SELECT id FROM passages WHERE article_id = ?", (aid,))]
            self._conn.execute("DELETE FROM passages WHERE article_id = ?", (aid,))
            self._conn.execute("DELETE FROM articles WHERE id = ?", (aid,))
        if gone:
            pids = np.asarray(gone, dtype=np.int64)
            self._ids[np.isin(self._ids, pids)] = -1
            for arr in self._new_ids:
                arr[np.isin(arr, pids)] = -1
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
            "INSERT INTO articles (source, collection, title, date, url, digest, text, added_at) VALUES (?,?,?,?,?,?,?,?)",
            (article.source, article.collection, article.title, article.date, article.url, digest, article.text, time.time()),
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
        import faiss

        base_dir = self.root / self._base if self._base else None
        rows = self._rows
        new_ids = np.concatenate(self._new_ids) if self._new_ids else np.zeros(0, np.int64)
        new_keep = new_ids >= 0
        new_ids = new_ids[new_keep]
        new_coll = (np.concatenate(self._new_coll) if self._new_coll else np.zeros(0, np.int32))[new_keep]
        new_vecs = (np.concatenate(self._new_vecs) if self._new_vecs else np.zeros((0, self.dim), np.float16))[new_keep]
        ids = np.concatenate([self._ids, new_ids])
        coll = np.concatenate([rows.coll, new_coll])
        live = ids >= 0
        n_live = int(live.sum())
        live_ids = ids[live]
        ordered = bool(np.all(live_ids[1:] > live_ids[:-1]))
        base_ann = base_dir is not None and (base_dir / "ann.faiss").exists()
        ann_meta = json.loads((base_dir / "ann.json").read_text()) if base_ann else {}
        kind = "flat" if n_live < self.exact_below else "ivf-sq8"
        compact = (
            kind == "flat" or not base_ann or not ordered
            or (len(ids) - n_live) > 0.2 * len(ids)
            or n_live > 4 * int(ann_meta.get("trained_on", 0))  # grown far past what the lists were trained on
        )

        collections = list(self._coll_codes)
        if compact:
            order = np.flatnonzero(live)
            if not ordered:
                order = order[np.argsort(ids[order], kind="stable")]
            out_ids, out_coll = ids[order], coll[order]
            out = np.lib.format.open_memmap(gen / "vectors.npy", mode="w+", dtype=np.float16, shape=(len(order), self.dim))
            n_old = int(np.searchsorted(order, len(rows.ids))) if ordered else None
            if ordered:
                # Old rows then new rows, copied in slices so the whole set is never held twice.
                step = 1 << 16
                old_rows = order[:n_old]
                for s in range(0, len(old_rows), step):
                    piece = old_rows[s: s + step]
                    out[s: s + len(piece)] = rows.vectors[piece]
                out[n_old:] = new_vecs[order[n_old:] - len(rows.ids)]
            else:
                everything = np.concatenate([np.asarray(rows.vectors), new_vecs])
                out[:] = everything[order]
                del everything
            out.flush()
            if kind == "ivf-sq8":
                index, meta = _build_ivf(out, self.dim)
                faiss.write_index(index, str(gen / "ann.faiss"))
                (gen / "ann.json").write_text(json.dumps(meta))
            del out
        else:
            out_ids, out_coll = ids, coll
            if len(new_ids):
                out = np.lib.format.open_memmap(gen / "vectors.npy", mode="w+", dtype=np.float16, shape=(len(ids), self.dim))
                step = 1 << 16
                for s in range(0, len(rows.ids), step):
                    e = min(s + step, len(rows.ids))
                    out[s:e] = rows.vectors[s:e]
                out[len(rows.ids):] = new_vecs
                out.flush()
                del out
            else:
                os.link(base_dir / "vectors.npy", gen / "vectors.npy")
            gone = np.flatnonzero((rows.ids >= 0) & (self._ids < 0))
            if len(gone) or len(new_ids):
                index = faiss.read_index(str(base_dir / "ann.faiss"))
                if len(gone):
                    index.remove_ids(faiss.IDSelectorBatch(gone.astype(np.int64)))
                if len(new_ids):
                    first = len(rows.ids)
                    index.add_with_ids(new_vecs.astype(np.float32), np.arange(first, first + len(new_ids), dtype=np.int64))
                faiss.write_index(index, str(gen / "ann.faiss"))
            else:
                os.link(base_dir / "ann.faiss", gen / "ann.faiss")
            (gen / "ann.json").write_text(json.dumps(ann_meta))
        np.save(gen / "ids.npy", out_ids)
        np.save(gen / "coll.npy", out_coll.astype(np.int32))
        (gen / "collections.json").write_text(json.dumps(collections))
        return out_ids, kind

    def commit(self) -> bool:
        """Write the new generation completely, then publish it; False when nothing changed."""
        if not self._dirty or self._gen is None or self._conn is None:
            return False
        t0 = time.perf_counter()
        gen = self._gen
        self._conn.execute("INSERT OR REPLACE INTO info VALUES ('format', ?)", (FORMAT,))
        self._conn.commit()
        ids, kind = self._write_vectors(gen)
        rows = self._conn.execute(
            f"SELECT p.id, {_PASSAGE_TEXT}, a.title "
            "FROM passages p JOIN articles a ON a.id = p.article_id ORDER BY p.id"
        ).fetchall()
        # The title is indexed with each passage so that "what did <title words>" finds the article.
        LexicalIndex.build([r[0] for r in rows], (f"{r[2]}\n{r[1]}" for r in rows)).save(gen / "lex")
        if self._removed:
            self._conn.execute("VACUUM")  # only removals leave free pages worth reclaiming
        self._conn.close()
        self._conn = None
        for f in gen.rglob("*"):
            if f.is_file() and f.stat().st_nlink == 1:  # hard-linked files were synced when first published
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
        log.info("published index generation %s (%d passages, %s) in %.1f s",
                 gen.name, len(rows), kind, time.perf_counter() - t0)
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

    def __enter__(self) -> IndexWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _build_ivf(vectors: np.ndarray, dim: int, *, seed: int = 0):
    """IVF with 8-bit scalar-quantised codes over all rows (row number = FAISS id); returns (index, meta)."""
    import faiss

    n = len(vectors)
    # ~2·sqrt(n) lists: 2,000 at 1M; trained on 50 vectors per list (k-means cost grows with both).
    nlist = int(max(1, min(max(2 * np.sqrt(n), 64), 8192, n // 39)))  # FAISS wants 39+ points per list
    index = faiss.index_factory(dim, f"IVF{nlist},SQ8", faiss.METRIC_INNER_PRODUCT)
    rng = np.random.default_rng(seed)
    sample = np.sort(rng.choice(n, size=min(n, 50 * nlist), replace=False))
    index.train(np.asarray(vectors[sample], dtype=np.float32))
    step = 1 << 16
    for s in range(0, n, step):
        chunk_ = np.asarray(vectors[s: s + step], dtype=np.float32)
        index.add_with_ids(chunk_, np.arange(s, s + len(chunk_), dtype=np.int64))
    return index, {"kind": "ivf-sq8", "nlist": nlist, "trained_on": n}


def check_model(info: dict[str, str], model: str, dim: int, root: Path) -> None:
    """Refuse to mix vectors of two models in one index."""
    have_model, have_dim = info.get("model"), int(info.get("dim", "0") or 0)
    if have_model != model or (dim and have_dim != dim):
        raise IndexMismatchError(
            f"the index in {root} was built with the embedding model '{have_model}' ({have_dim} dimensions), "
            f"but citebot is set to use '{model}'. Set CITEBOT_EMBEDDING_MODEL={have_model} to use this index, "
            f"or rebuild it for the new model: move {root} aside and run `citebot ingest` again."
        )
