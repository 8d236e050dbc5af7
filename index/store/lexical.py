"""The BM25 side of the stored index (bm25s): built by the writer, read by the reader, one per generation.

Stored data, so it lives in the store; its tokenizer (`index.words`) is shared with the answering side.
"""
from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..words import tokenize

log = logging.getLogger(__name__)

class LexicalIndex:
    """BM25 over passages; row i of the index is passage `ids[i]`."""

    def __init__(self, bm25: Any, ids: np.ndarray) -> None:
        self._bm25: Any = bm25  # a bm25s.BM25, None for an empty index
        self.ids = ids
        self._columns: dict[int, tuple[np.ndarray, np.ndarray, float, bool]] = {}
        self._corrections: dict[str, str | None] = {}

    @classmethod
    def build(cls, ids: Sequence[int], texts: Iterable[str]) -> LexicalIndex:
        """Index passage texts (ids in the same order)."""
        import bm25s

        ids_arr = np.asarray(list(ids), dtype=np.int64)
        if len(ids_arr) == 0:
            return cls(None, ids_arr)
        corpus = [tokenize(t) or ["\u2205"] for t in texts]
        bm25 = bm25s.BM25(k1=1.2, b=0.75)
        bm25.index(corpus, show_progress=False)
        return cls(bm25, ids_arr)

    def save(self, folder: Path) -> None:
        """Write the index into `folder` (part of one index generation)."""
        folder.mkdir(parents=True, exist_ok=True)
        np.save(folder / "lex_ids.npy", self.ids)
        if self._bm25 is not None:
            self._bm25.save(str(folder / "bm25"))

    @classmethod
    def load(cls, folder: Path) -> LexicalIndex:
        """Read an index written by `save`."""
        import bm25s

        ids = np.load(folder / "lex_ids.npy")
        if len(ids) == 0 or not (folder / "bm25").exists():
            return cls(None, ids)
        bm25 = bm25s.BM25.load(str(folder / "bm25"), mmap=False)
        return cls(bm25, ids)

    def idf(self, terms: Iterable[str]) -> dict[str, float]:
        """BM25 idf of each (already tokenized) term; a term absent from the index gets the highest."""
        if self._bm25 is None:
            return {}
        n = float(len(self.ids))
        vocab = getattr(self._bm25, "vocab_dict", None) or {}
        indptr = self._bm25.scores["indptr"]
        out = {}
        for t in terms:
            row = vocab.get(t)
            # A word seen nowhere weighs like the rarest word seen: with df = 0 it would outweigh
            # all the others together in a small index (one article: every present word ~0.3).
            df = max(1.0, float(indptr[row + 1] - indptr[row])) if row is not None else 1.0
            out[t] = math.log(1.0 + (n - df + 0.5) / (df + 0.5))
        return out

    def frequency(self, term: str) -> int:
        """How many passages hold a (tokenized) term; 0 for a word the index has never seen."""
        vocab = getattr(self._bm25, "vocab_dict", None) or {}
        row = vocab.get(term)
        if row is None:
            return 0
        indptr = self._bm25.scores["indptr"]
        return int(indptr[row + 1] - indptr[row])

    def correction(self, word: str, guess: Callable[[str], str | None]) -> str | None:
        """`guess(word)`, remembered for this index: the answering side's spelling corrector
        (index.answer.spelling) bound to it. None for an empty index.

        `guess` must give one answer per word for the life of the index (the engine binds the same
        real-word set every time), so the cache stays valid.
        """
        if word not in self._corrections:
            if len(self._corrections) >= _CORRECTION_CACHE:
                self._corrections.clear()
            self._corrections[word] = guess(word) if self._bm25 is not None else None
        return self._corrections[word]

    def search(self, query: str, k: int, mask: np.ndarray | None = None) -> list[tuple[int, float]]:
        """Top-k (passage id, BM25 score) with a positive score, optionally only where `mask` is true.

        Ranked by score, then passage row (equal scores: the earlier passage first). The result is
        the exhaustive ranking's: the pruning below only skips passages that provably cannot reach
        the k-th score.
        """
        if self._bm25 is None or k <= 0:
            return []
        vocab = getattr(self._bm25, "vocab_dict", None) or {}
        # Repeated words count once per occurrence, as bm25s scores them.
        terms = [vocab[t] for t in tokenize(query) if t in vocab]
        if not terms:
            return []
        if getattr(self._bm25, "nonoccurrence_array", None) is not None:
            rows, scores = self._search_bm25s(terms, k, mask)
        else:
            rows, scores = self._search_postings(terms, k, mask)
        return [(int(self.ids[r]), float(s)) for r, s in zip(rows, scores)]

    # --- top-k ---------------------------------------------------------------------------------
    #
    # bm25s keeps each word's BM25 contribution per passage in CSC posting lists (rows ascending);
    # adding a question's lists up takes ~2 ms at 1M passages. Selecting the top k from the
    # passages that matched cost more: a partial sort of up to ~1M matches (4 ms for 400k).
    # Instead a lower bound of the k-th score is read off a few thousand passages of each word's
    # list, and only the passages at or above it are sorted (~50-1,000 instead of ~400k). Words in a large share of the passages (a title
    # word repeated in every passage, say: ~1M postings, each adding almost nothing) are left
    # out of the sum (MaxScore, Turtle & Flood 1995): only the few passages whose score without
    # them is within their largest possible contribution of the bound are scored with them.

    def _column(self, term: int) -> tuple[np.ndarray, np.ndarray, float, bool]:
        """(rows, contributions, largest contribution, usable) of a word's posting list.

        Usable: rows ascending and contributions positive, as bm25s writes them and as the
        search relies on; checked once per word.
        """
        got = self._columns.get(term)
        if got is None:
            sc = self._bm25.scores
            a, b = int(sc["indptr"][term]), int(sc["indptr"][term + 1])
            rows, data = sc["indices"][a:b], sc["data"][a:b]
            ub = float(data.max()) if b > a else 0.0
            usable = bool(np.all(rows[1:] > rows[:-1])) and (b == a or float(data.min()) > 0)
            got = (rows, data, ub, usable)
            if len(self._columns) >= _COLUMN_CACHE:  # views into the index plus two numbers each
                self._columns.clear()
            self._columns[term] = got
        return got

    def _search_postings(self, terms: list[int], k: int, mask: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        n = len(self.ids)
        count: dict[int, int] = {}
        for t in terms:
            count[t] = count.get(t, 0) + 1
        cols = {t: self._column(t) for t in count}
        if not all(c[3] for c in cols.values()):
            return self._search_bm25s(terms, k, mask)
        # Common words, smallest contribution first; at least one word is left to sum.
        common: set[int] = set()
        for t in sorted(count, key=lambda t: cols[t][2] * count[t])[:-1]:
            if len(cols[t][0]) < n * _COMMON_SHARE:
                break
            common.add(t)
        rest = [t for t in terms if t not in common]
        scores = self._bm25.get_scores(rest)  # summed in query order: the same floats as scoring all
        floor = _kth_floor(scores, [cols[t][0] for t in count if t not in common], k, mask)
        if common:
            bound = sum(cols[t][2] * count[t] for t in common)  # the most the common words add
            cut = floor - bound - _MARGIN * max(floor, 1.0)
            if cut > 0:
                # Below `cut` even the common words cannot lift a passage to `floor` (<= the k-th score).
                cand = np.flatnonzero(scores >= cut)
                if mask is not None:
                    cand = cand[mask[cand]]
                return _top_rows(cand, _exact_scores(terms, cols, cand), k)
            scores = self._bm25.get_scores(terms)
            floor = _kth_floor(scores, [cols[t][0] for t in count], k, mask)
        # At least k allowed passages score >= floor, so the top k are among those that do.
        cand = np.flatnonzero(scores >= floor) if floor > 0 else np.flatnonzero(scores > 0)
        if mask is not None:
            cand = cand[mask[cand]]
        return _top_rows(cand, scores[cand], k)

    def _search_bm25s(self, terms: list[int], k: int, mask: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """Top k of bm25s' scores for every passage, without shortcuts (lists the search cannot rely on)."""
        scores = np.asarray(self._bm25.get_scores(terms), dtype=np.float32)
        if mask is not None:
            scores = scores * mask
        cand = np.flatnonzero(scores > 0)
        return _top_rows(cand, scores[cand], k)


# Words in at least this share of the passages are left out of the sum when that is exact.
_COMMON_SHARE = 0.25
# Scores are float32 sums in different orders on the two sides of a comparison: a bound must
# win by more than their rounding to prune.
_MARGIN = 1e-4
_COLUMN_CACHE = 4096
_CORRECTION_CACHE = 4096
# Rows of each word's list that the lower bound of the k-th score looks at.
_FLOOR_SAMPLE = 4096


def _kth_floor(scores: np.ndarray, lists: list[np.ndarray], k: int, mask: np.ndarray | None) -> float:
    """A lower bound of the k-th best score (0 when none is found cheaply).

    Any k distinct allowed passages bound it by their k-th best score; each word's list (its
    first rows) is such a set, and the best of those bounds is kept.
    """
    floor = 0.0
    for rows in lists:
        rows = rows[:_FLOOR_SAMPLE]
        if mask is not None:
            rows = rows[mask[rows]]
        if len(rows) >= k:
            vals = scores[rows]
            floor = max(floor, float(np.partition(vals, len(vals) - k)[len(vals) - k]))
    return floor


def _exact_scores(terms: list[int], cols: dict[int, tuple[np.ndarray, np.ndarray, float, bool]], cand: np.ndarray) -> np.ndarray:
    """Scores of some passages: each word's contribution looked up in its list, summed in query order."""
    total = np.zeros(len(cand), dtype=np.float32)
    for t in terms:
        rows, data = cols[t][0], cols[t][1]
        if not len(rows):
            continue
        pos = np.minimum(np.searchsorted(rows, cand), len(rows) - 1)
        total += np.where(rows[pos] == cand, data[pos], np.float32(0))
    return total


def _top_rows(rows: np.ndarray, scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The k best (rows, scores): by score, then row ascending, so equal scores rank the same way every time."""
    if len(rows) > k:
        kth = np.partition(scores, len(scores) - k)[len(scores) - k]
        keep = scores >= kth  # all ties at the k-th score, cut by row below
        rows, scores = rows[keep], scores[keep]
    order = np.lexsort((rows, -scores))[:k]
    return rows[order], scores[order]
