"""Optional second opinion on retrieval: a cross-encoder that reads question and passage together.

Off by default: citebot answers with the bundled embedding model alone. A team that can download
a cross-encoder (e.g. `cross-encoder/ms-marco-MiniLM-L6-v2`) names it in CITEBOT_RERANK_MODEL;
the top passages are then re-ordered by it before the answer sentence is chosen, so the answer
and the citations come from the passages it ranks first. It costs one model pass over
`depth` passages per question (tens of ms on a CPU), which is why it is not the default.
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Sequence

from ..errors import UserError
from ..types import Hit

log = logging.getLogger(__name__)


class CrossEncoderReranker:
    """Re-orders the first `depth` hits by a sentence-transformers CrossEncoder's score."""

    def __init__(self, model: str, *, depth: int = 10, device: str = "cpu") -> None:
        if not model.strip():
            raise ValueError("reranker model name must not be empty")
        if depth < 2:
            raise ValueError("rerank depth must be at least 2")
        self.name, self.depth, self._device = model.strip(), depth, device
        self._model = None
        self._lock = threading.Lock()

    def warm_up(self) -> None:
        """Load the model now (the first question would otherwise wait for it)."""
        with self._lock:
            if self._model is not None:
                return
            from sentence_transformers import CrossEncoder

            log.info("loading reranker model %s", self.name)
            try:
                self._model = CrossEncoder(self.name, device=self._device)
            except Exception as exc:
                raise UserError(
                    f"cannot load the reranker model '{self.name}': {exc}. It is downloaded once from the "
                    "Hugging Face hub (or give a local folder); leave CITEBOT_RERANK_MODEL empty to answer without it."
                ) from exc

    def scores(self, question: str, texts: Sequence[str]) -> list[float]:
        """The cross-encoder's relevance score of each text for the question (higher = better)."""
        self.warm_up()
        assert self._model is not None
        if not texts:
            return []
        return [float(s) for s in self._model.predict([(question, t) for t in texts], batch_size=len(texts), show_progress_bar=False)]

    def rerank(self, question: str, hits: Sequence[Hit]) -> list[Hit]:
        """The first `depth` hits re-ordered by score (ties keep retrieval order), the rest after."""
        head, tail = list(hits[: self.depth]), list(hits[self.depth:])
        scores = self.scores(question, [h.text for h in head])
        order = sorted(range(len(head)), key=lambda i: -scores[i])
        return [head[i] for i in order] + tail
