"""Hybrid retrieval: BM25 and dense (FAISS) rankings fused by reciprocal rank."""
from __future__ import annotations

import logging
from typing import Iterable

import numpy as np

from .embed import Embedder
from .store import IndexReader
from .types import Hit

log = logging.getLogger(__name__)


class HybridSearcher:
    """Finds the passages that best match a question, by exact words and by meaning."""

    def __init__(
        self,
        reader: IndexReader,
        embedder: Embedder,
        *,
        depth: int = 50,
        rrf_k: int = 60,
        lexical_weight: float = 1.0,
        dense_weight: float = 1.0,
    ) -> None:
        if depth < 1 or rrf_k < 1:
            raise ValueError("depth and rrf_k must be positive")
        self.reader, self.embedder = reader, embedder
        self.depth, self.rrf_k = depth, rrf_k
        self.lexical_weight, self.dense_weight = lexical_weight, dense_weight

    def search(
        self,
        question: str,
        k: int = 10,
        collections: Iterable[str] | None = None,
        *,
        qvec: np.ndarray | None = None,
        mode: str = "hybrid",
    ) -> list[Hit]:
        """Top-k passages; `mode` is hybrid, dense or lexical (the latter two for baselines)."""
        collections = list(collections) if collections is not None else None
        if qvec is None:
            qvec = self.embedder.encode([question])[0]
        dense = self.reader.dense_search(qvec, self.depth, collections) if mode != "lexical" else []
        lexical = self.reader.lexical_search(question, self.depth, collections) if mode != "dense" else []
        fused: dict[int, float] = {}
        for weight, ranking in ((self.dense_weight, dense), (self.lexical_weight, lexical)):
            for rank, (pid, _score) in enumerate(ranking):
                fused[pid] = fused.get(pid, 0.0) + weight / (self.rrf_k + rank + 1)
        top = sorted(fused.items(), key=lambda kv: -kv[1])[:k]
        dense_by_id = dict(dense)
        lex_by_id = dict(lexical)
        missing = [pid for pid, _ in top if pid not in dense_by_id]
        if missing:
            for pid, vec in zip(missing, self.reader.vectors(missing)):
                dense_by_id[pid] = float(np.dot(vec, qvec))
        return self.reader.hits([(pid, s, dense_by_id.get(pid, 0.0), lex_by_id.get(pid, 0.0)) for pid, s in top])
