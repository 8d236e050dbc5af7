"""Which runtime runs the embedding model: ONNX Runtime when the `fast` extra is installed, else torch."""
from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from .embed import Embedder, SentenceTransformerEmbedder
from .onnx_embed import OnnxEmbedder

log = logging.getLogger(__name__)

BACKENDS = ("auto", "torch", "onnx")


def onnx_available() -> bool:
    """Whether onnxruntime can be imported (the `fast` extra)."""
    import importlib.util

    return importlib.util.find_spec("onnxruntime") is not None and importlib.util.find_spec("onnx") is not None


def make_embedder(model: str, backend: str = "auto", *, cache_dir: Path | None = None,
                  on_step: Callable[[str, int, int], None] | None = None) -> Embedder:
    """The embedder for a model name and backend setting (auto, torch or onnx).

    auto: ONNX int8 when onnxruntime is installed (falling back to torch if the export fails),
    else torch. onnx: ONNX int8, still falling back to torch with a warning rather than refusing
    to start. torch: sentence-transformers only.
    """
    backend = (backend or "auto").lower()
    if backend not in BACKENDS:
        raise ValueError(f"unknown embedding backend {backend!r} (use auto, torch or onnx)")
    if backend == "torch":
        return SentenceTransformerEmbedder(model)
    if not onnx_available():
        log.log(logging.WARNING if backend == "onnx" else logging.INFO,
                "onnxruntime is not installed (pip install 'citebot[fast]'); embedding with torch")
        return SentenceTransformerEmbedder(model)
    return OnnxEmbedder(model, cache_dir=cache_dir, on_step=on_step)
