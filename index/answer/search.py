"""Hybrid retrieval: BM25 and dense (FAISS) rankings fused by their normalised scores."""
from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import replace

import numpy as np

from ..model.embed import Embedder
from ..store import IndexReader
from ..types import Hit, Query, display_source
from .query import build_query, clean_question

log = logging.getLogger(__name__)

MODES = ("hybrid", "dense", "lexical")


class HybridSearcher:
    """Finds the passages that best match a question, by exact words and by meaning.

    Fusion: each ranking's scores are scaled to [0, 1] (BM25 by its best score, cosine between
    its best and `depth`-th score) and added with weights, so a passage that is clearly best on
    one side is not drowned by rank arithmetic as in reciprocal-rank fusion. BM25 weighs more:
    on SQuAD dev part A it is the stronger of the two alone (see bench/RESULTS.md).
    """

    def __init__(
        self,
        reader: IndexReader,
        embedder: Embedder,
        *,
        depth: int = 50,
        rrf_k: int = 60,
        lexical_weight: float = 0.65,
        dense_weight: float = 0.35,
        fusion: str = "score",
        context_weight: float = 1.0,
        prefer_bonus: float = 0.15,
        lighter_weight: float = 0.1,
    ) -> None:
        if depth < 1 or rrf_k < 1:
            raise ValueError("depth and rrf_k must be positive")
        if fusion not in ("score", "rrf"):
            raise ValueError("fusion must be 'score' or 'rrf'")
        self.reader, self.embedder = reader, embedder
        self.depth, self.rrf_k = depth, rrf_k
        self.lexical_weight, self.dense_weight = lexical_weight, dense_weight
        self.fusion = fusion
        # A follow-up (Query.context / Query.prefer): the earlier turn's terms count this share of
        # the question's own BM25 side, and a passage of the earlier answer's article gains this
        # much fused score (a strong match elsewhere still wins). Chosen on the tuning half of
        # bench/conversations.json.
        self.context_weight, self.prefer_bonus = context_weight, prefer_bonus
        self.lighter_weight = lighter_weight

    def query(self, text: str, *, typed: str | None = None, vector: np.ndarray | None = None,
              context: str = "", prefer: tuple[str, ...] = (), lighter: Iterable[str] = (),
              embed_text: str | None = None) -> Query:
        """The Query for a cleaned question, its terms weighed by this index's idf (index/answer/query.py)."""
        lex = self.reader.lexical
        return build_query(text, self.embedder, typed=typed, idf=lex.idf if lex is not None else None,
                           vector=vector, context=context, prefer=prefer, lighter=lighter,
                           lighter_weight=self.lighter_weight, embed_text=embed_text)

    def search(
        self,
        query: Query | str,
        k: int = 10,
        collections: Iterable[str] | None = None,
        *,
        mode: str = "hybrid",
    ) -> list[Hit]:
        """Top-k passages; `mode` is hybrid, dense or lexical (the latter two for baselines)."""
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}")
        if isinstance(query, str):
            query = self.query(clean_question(query))
        collections = list(collections) if collections is not None else None
        qvec = query.vector
        dense = self.reader.dense_search(qvec, self.depth, collections) if mode != "lexical" else []
        lexical = self.reader.lexical_search(query.text, self.depth, collections) if mode != "dense" else []
        fused = self._fuse(dense, lexical)
        if query.context and mode != "dense" and self.context_weight > 0:
            for pid, s in _scale_lexical(self.reader.lexical_search(query.context, self.depth, collections)):
                fused[pid] = fused.get(pid, 0.0) + self.context_weight * self.lexical_weight * s
        # The earlier answer's article is preferred among the best few, so look at a few more.
        wanted = k * 2 if query.prefer else k
        top = sorted(fused.items(), key=lambda kv: -kv[1])[:wanted]
        dense_by_id = dict(dense)
        lex_by_id = dict(lexical)
        missing = [pid for pid, _ in top if pid not in dense_by_id]
        if missing:
            for pid, vec in zip(missing, self.reader.vectors(missing)):
                dense_by_id[pid] = float(np.dot(vec, qvec))
        hits = self.reader.hits([(pid, s, dense_by_id.get(pid, 0.0), lex_by_id.get(pid, 0.0)) for pid, s in top])
        if not query.prefer:
            return hits
        prefer = set(query.prefer)
        # A chat surface knows the article by what it showed: its URL, or a file's name and title.
        hits = [replace(h, score=h.score + self.prefer_bonus)
                if prefer & {h.source, h.url, h.title, display_source(h.source, h.url, h.title)} else h for h in hits]
        return sorted(hits, key=lambda h: -h.score)[:k]

    def _fuse(self, dense: list[tuple[int, float]], lexical: list[tuple[int, float]]) -> dict[int, float]:
        fused: dict[int, float] = {}
        if self.fusion == "rrf":
            for weight, ranking in ((self.dense_weight, dense), (self.lexical_weight, lexical)):
                for rank, (pid, _score) in enumerate(ranking):
                    fused[pid] = fused.get(pid, 0.0) + weight / (self.rrf_k + rank + 1)
            return fused
        for weight, scaled in ((self.dense_weight, _scale_dense(dense)), (self.lexical_weight, _scale_lexical(lexical))):
            for pid, s in scaled:
                fused[pid] = fused.get(pid, 0.0) + weight * s
        return fused


def _scale_lexical(ranking: list[tuple[int, float]]) -> list[tuple[int, float]]:
    """BM25 / best BM25: 1 for the best passage, shares of it for the rest."""
    if not ranking:
        return []
    top = max(s for _, s in ranking) or 1.0
    return [(pid, s / top) for pid, s in ranking]


def _scale_dense(ranking: list[tuple[int, float]]) -> list[tuple[int, float]]:
    """Cosine min-max scaled over the retrieved depth (cosines of unrelated text are not 0)."""
    if not ranking:
        return []
    hi = max(s for _, s in ranking)
    lo = min(s for _, s in ranking)
    span = hi - lo
    if span <= 1e-9:
        return [(pid, 1.0) for pid, _ in ranking]
    return [(pid, (s - lo) / span) for pid, s in ranking]
