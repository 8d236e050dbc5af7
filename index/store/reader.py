"""Reading one published generation: dense and BM25 search, passages as Hits, the list of sources."""
from __future__ import annotations

import importlib
import json
import logging
import sqlite3
import time
from collections.abc import Iterable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import UserError
from ..types import Hit, SourceInfo
from .layout import META, current_name
from .lexical import LexicalIndex
from .schema import PASSAGE_SLICE, PASSAGE_TEXT, has_article_dates, has_passage_text, has_table, read_info
from .vectors import ANN, Rows, bitmap, empty_rows, load_rows, top

log = logging.getLogger(__name__)

# The date fields beside `date` (issue 24); generations written before m005 have none.
_DATES = "a.updated, a.date_source, a.date_estimated"
_NO_DATES = "NULL, NULL, 0"

LEXICAL = "lex"  # BM25 index and its row → passage id map
# A generation can vanish between reading CURRENT and opening it (the writer cleaned it up):
# read CURRENT again this many times, this long apart, before giving up.
OPEN_ATTEMPTS = 5
OPEN_RETRY_SECONDS = 0.05
# Dense search defaults: IVF lists probed, IVF candidates re-scored exactly, and the collection size
# under which a filtered question scans its rows exactly instead of filtering the IVF lists.
DEFAULT_NPROBE = 64
DEFAULT_RERANK = 64
DEFAULT_BRUTE_BELOW = 20_000


class IndexReader:
    """A read-only view of one generation; `refresh()` moves to a newer one if it was published.

    Dense search is exact (FAISS flat) on small indexes and IVF-SQ8 on large ones (see
    `IndexWriter.exact_below`); IVF candidates are re-scored exactly from the stored float16
    vectors, so scores are cosines either way. `nprobe`, `rerank` and `brute_below` trade speed
    for recall on IVF indexes; the defaults keep recall@10 against exact search above 0.95.
    """

    def __init__(self, root: Path, *, nprobe: int = DEFAULT_NPROBE, rerank: int = DEFAULT_RERANK,
                 brute_below: int = DEFAULT_BRUTE_BELOW) -> None:
        if nprobe < 1 or rerank < 1 or brute_below < 0:
            raise ValueError("nprobe and rerank must be positive, brute_below not negative")
        self.root = Path(root)
        self.nprobe, self.rerank, self.brute_below = nprobe, rerank, brute_below
        self.generation: str | None = None
        self._conn: sqlite3.Connection | None = None
        self._hits_sql: tuple[sqlite3.Connection | None, str] = (None, f"{PASSAGE_SLICE}, {_NO_DATES}")
        self._flat: Any = None  # faiss.IndexFlatIP over the live rows, below exact_below passages
        self._ann: Any = None  # the IVF-SQ8 index from ann.faiss, from exact_below on
        self._lex: LexicalIndex | None = None
        self._rows: Rows = empty_rows(0)
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
        for _attempt in range(OPEN_ATTEMPTS):
            name = current_name(self.root)
            if name == self.generation:
                return False
            if name is None:
                return False
            try:
                self._open(self.root / name)
            except (FileNotFoundError, sqlite3.OperationalError) as exc:
                # The writer removed that generation between our read of CURRENT and the open.
                log.debug("generation %s vanished while opening (%s); retrying", name, exc)
                time.sleep(OPEN_RETRY_SECONDS)
                continue
            self.generation = name
            log.info("opened index generation %s (%d passages, %s)", name, self.size, self.kind)
            return True
        raise UserError(f"the index in {self.root} keeps changing; try again")

    def _open(self, gen: Path) -> None:
        import faiss

        if not (gen / META).exists():
            raise FileNotFoundError(gen / META)
        conn = sqlite3.connect(f"file:{gen / META}?mode=ro&immutable=1", uri=True, check_same_thread=False)
        try:
            info = read_info(conn)
            rows = load_rows(gen, conn, int(info.get("dim", 0)))
            live_rows = np.flatnonzero(rows.ids >= 0)
            live_ids = rows.ids[live_rows]
            ann = flat = None
            if (gen / ANN).exists():
                ann = faiss.read_index(str(gen / ANN))
            else:
                flat = faiss.IndexFlatIP(rows.vectors.shape[1])
                if len(live_rows):
                    flat.add(np.asarray(rows.vectors[live_rows], dtype=np.float32))
            lex = LexicalIndex.load(gen / LEXICAL)
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
        self._hits_sql = (conn, f"{PASSAGE_TEXT if has_passage_text(conn) else PASSAGE_SLICE}, "
                                f"{_DATES if has_article_dates(conn) else _NO_DATES}")
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
        best = top(scores, k)
        return [(int(self._rows.ids[rows[i]]), float(scores[i])) for i in best]

    def dense_search(self, qvec: np.ndarray, k: int, collections: Iterable[str] | None = None) -> list[tuple[int, float]]:
        """Top-k (passage id, cosine) by inner product, limited to `collections` when given."""
        if self.size == 0 or k <= 0:
            return []
        # faiss's stubs omit the keyword arguments its Python layer adds to SearchParameters*.
        faiss: Any = importlib.import_module("faiss")

        q = np.ascontiguousarray(qvec, dtype=np.float32).reshape(-1)
        collections = list(collections) if collections is not None else None
        mask = self._mask(collections, self._live_codes)
        n_allowed = self.size if mask is None else int(mask.sum())
        if n_allowed == 0:
            return []
        k = min(k, n_allowed)
        if self._ann is None:
            params: Any = None
            _keep: Any = None
            if mask is not None:
                sel, _keep = bitmap(mask)
                params = faiss.SearchParameters(sel=sel)
            scores, labels = self._flat.search(q.reshape(1, -1), k, params=params)
            return [(int(self._live_ids[i]), float(s)) for i, s in zip(labels[0], scores[0]) if i >= 0]
        if mask is not None and n_allowed <= self.brute_below:
            # A small collection inside a big index: scanning it exactly beats filtering the IVF lists.
            return self._exact(q, self._live_rows[mask], k)
        nprobe = self.nprobe
        params_kw: dict[str, Any] = {}
        if mask is not None:
            row_mask = np.zeros(len(self._rows.ids), dtype=bool)
            row_mask[self._live_rows[mask]] = True
            sel, _keep = bitmap(row_mask)
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
                    updated=r[11], date_source=r[12], date_estimated=bool(r[13]),
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
            "SELECT a.source, a.title, a.date, a.url, a.collection, COUNT(p.id), a.added_at, "
            f"{_DATES if has_article_dates(self._conn) else _NO_DATES} "
            "FROM articles a LEFT JOIN passages p ON p.article_id = a.id"
        )
        args: list[str] = []
        if collections is not None:
            cols = list(collections)
            sql += f" WHERE a.collection IN ({','.join('?' * len(cols))})"
            args = cols
        sql += " GROUP BY a.id ORDER BY a.added_at DESC, a.title"
        rows = [SourceInfo(r[0], r[1], r[2], r[3], r[4], r[5], r[6], updated=r[7], date_source=r[8],
                           date_estimated=bool(r[9]))
                for r in self._conn.execute(sql, args)]
        if not has_table(self._conn, "aliases"):
            return rows
        also: dict[tuple[str, str], list[str]] = {}
        for src, coll, target in self._conn.execute("SELECT source, collection, article_source FROM aliases ORDER BY source"):
            also.setdefault((coll, target), []).append(src)
        return [replace(r, also=tuple(also.get((r.collection, r.source), ()))) for r in rows]

    def close(self) -> None:
        """Release the open generation."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None
            self._hits_sql = (None, f"{PASSAGE_SLICE}, {_NO_DATES}")
