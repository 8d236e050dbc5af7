"""Lexical side of retrieval: a tokenizer that keeps names like `01.AI`, and a BM25 index (bm25s)."""
from __future__ import annotations

import logging
import math
import re
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

log = logging.getLogger(__name__)

# Words, numbers and dotted/hyphenated compounds ("01.AI", "U.S.", "GPT-4", "3.5", "1,000").
_TOKEN = re.compile(r"\d{1,3}(?:,\d{3})+(?!\d)|\w+(?:[.\-'’]\w+)*", re.U)
STOPWORDS = frozenset(
    """a an and are as at be been being but by can could did do does doing for from had has have
    having he her hers him his how i if in into is it its itself me my of on or our ours she so
    than that the their theirs them then there these they this those to too was we were what when
    where which while who whom whose why will with would you your yours about after all also am
    any because before between both during each few further here just more most no nor not now
    off once only other out over own same should some such through under until up very s t
    don doesn didn isn wasn aren weren won last""".split()
)


def _stem(word: str) -> str:
    """A light English suffix stripper: enough to match 'founded'/'founder'/'founding'."""
    if len(word) <= 4 or not word.isalpha():
        return word
    for suf in ("ations", "ation", "ings", "ing", "edly", "ers", "ies", "ed", "es", "er", "ly", "s"):
        if word.endswith(suf) and len(word) - len(suf) >= 3:
            word = word[: -len(suf)]
            return word + "y" if suf == "ies" else word
    return word


def tokenize(text: str, *, keep_stopwords: bool = False) -> list[str]:
    """Lower-cased tokens; a compound like `01.ai` is kept whole and also split into its parts."""
    out: list[str] = []
    for m in _TOKEN.finditer(text.lower()):
        tok = m.group(0).replace("’", "'")
        if "," in tok:  # a number with thousands separators is one token: "1,000" == "1000"
            out.append(tok.replace(",", ""))
            continue
        if tok.endswith("'s"):
            tok = tok[:-2]
        parts = re.split(r"[.\-']", tok) if re.search(r"[.\-']", tok) else []
        if parts:
            out.append(tok)
            out.extend(_stem(p) for p in parts if p and (keep_stopwords or p not in STOPWORDS))
        elif keep_stopwords or tok not in STOPWORDS:
            out.append(_stem(tok))
    return out


class LexicalIndex:
    """BM25 over passages; row i of the index is passage `ids[i]`."""

    def __init__(self, bm25: object | None, ids: np.ndarray) -> None:
        self._bm25 = bm25
        self.ids = ids

    @classmethod
    def build(cls, ids: Sequence[int], texts: Iterable[str]) -> "LexicalIndex":
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
    def load(cls, folder: Path) -> "LexicalIndex":
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

    def search(self, query: str, k: int, mask: np.ndarray | None = None) -> list[tuple[int, float]]:
        """Top-k (passage id, BM25 score) with a positive score, optionally only where `mask` is true."""
        if self._bm25 is None or k <= 0:
            return []
        toks = tokenize(query)
        vocab = getattr(self._bm25, "vocab_dict", None) or {}
        toks = [t for t in toks if t in vocab]
        if not toks:
            return []
        # bm25s.retrieve sorts every document's score (~180 ms at 1M passages); scoring alone takes
        # ~1 ms, and a partial sort of the documents that contain a query term a few ms more.
        scores = np.asarray(self._bm25.get_scores(toks), dtype=np.float32)
        if mask is not None:
            scores = scores * mask
        cand = np.flatnonzero(scores > 0)
        if len(cand) > k:
            cand = cand[np.argpartition(-scores[cand], k - 1)[:k]]
        cand = cand[np.argsort(-scores[cand], kind="stable")]
        return [(int(self.ids[i]), float(scores[i])) for i in cand]
