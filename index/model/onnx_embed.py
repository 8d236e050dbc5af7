"""The embedding model run by ONNX Runtime: exported once from the same weights (BERT + mean pooling +
normalisation), cached on disk, int8 by default. When the export or the runtime fails it hands over
to the sentence-transformers embedder, so a setting can never stop the bot from starting.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..types import TokenVectors
from .embed import Lru, SentenceTransformerEmbedder, default_cache_dir, resolve_model, token_vectors

log = logging.getLogger(__name__)

# Bump when the exported graph changes, so stale cached exports are not reused.
_EXPORT_VERSION = "2"  # 2: also outputs per-token vectors


class OnnxExportError(RuntimeError):
    """The model cannot be exported to (or run by) ONNX Runtime; the caller falls back to torch."""


def _model_key(path: Path) -> str:
    """A cache key that changes when the weights or the tokenizer change (size + mtime, no full read)."""
    h = hashlib.sha256(f"{path.resolve()}|{_EXPORT_VERSION}".encode())
    for f in sorted(path.glob("*")):
        if f.is_file() and f.suffix in (".json", ".safetensors", ".bin", ".txt"):
            st = f.stat()
            h.update(f"{f.name}:{st.st_size}:{st.st_mtime_ns}".encode())
    return h.hexdigest()[:16]


def _check_pipeline(path: Path) -> int:
    """The dimension, when the model is Transformer → mean pooling (→ Normalize): what the export reproduces."""
    try:
        modules = json.loads((path / "modules.json").read_text())
    except (OSError, ValueError) as exc:
        raise OnnxExportError(f"{path} is not a sentence-transformers model folder ({exc})") from exc
    kinds = [m.get("type", "").rsplit(".", 1)[-1] for m in modules]
    if kinds[:2] != ["Transformer", "Pooling"] or any(k != "Normalize" for k in kinds[2:]):
        raise OnnxExportError(f"unsupported module pipeline {kinds} (only Transformer + mean Pooling)")
    pool_dir = path / next(m["path"] for m in modules if m.get("type", "").endswith("Pooling"))
    pool = json.loads((pool_dir / "config.json").read_text())
    if not pool.get("pooling_mode_mean_tokens") or any(
        pool.get(k) for k in ("pooling_mode_cls_token", "pooling_mode_max_tokens", "pooling_mode_mean_sqrt_len_tokens")
    ):
        raise OnnxExportError("only mean pooling is exported")
    return int(pool["word_embedding_dimension"])


def _max_seq_length(path: Path) -> int:
    try:
        return int(json.loads((path / "sentence_bert_config.json").read_text())["max_seq_length"])
    except (OSError, ValueError, KeyError):
        return 256


def _publish(tmp: Path, dest: Path) -> None:
    # Written under a private name, then renamed: two processes exporting at once never see half a file.
    os.replace(tmp, dest)


def export_onnx(path: Path, dest: Path) -> None:
    """Export BERT + mean pooling + L2 normalisation (fp32) from a sentence-transformers folder to `dest`."""
    import torch
    from transformers import AutoModel

    class Pooled(torch.nn.Module):
        def __init__(self, bert: torch.nn.Module) -> None:
            super().__init__()
            self.bert = bert

        def forward(self, input_ids, attention_mask, token_type_ids):  # type: ignore[no-untyped-def]
            out = self.bert(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)[0]
            m = attention_mask.unsqueeze(-1).to(out.dtype)
            pooled = (out * m).sum(1) / m.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, p=2.0, dim=1), out

    bert = AutoModel.from_pretrained(str(path), attn_implementation="eager").eval()
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.tmp")
    dummy = torch.ones((2, 8), dtype=torch.long)
    try:
        # The tracer warns about Python booleans and index ops ("…will produce incorrect results"
        # for negative indices): this graph has neither case, and a user cannot act on them.
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                Pooled(bert), (dummy, dummy, torch.zeros_like(dummy)), str(tmp),
                input_names=["input_ids", "attention_mask", "token_type_ids"], output_names=["embedding", "tokens"],
                dynamic_axes={n: {0: "batch", 1: "seq"} for n in ("input_ids", "attention_mask", "token_type_ids", "tokens")}
                | {"embedding": {0: "batch"}},
                opset_version=17, dynamo=False,
            )
        _publish(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)


def quantize_onnx(src: Path, dest: Path) -> None:
    """Dynamic int8 quantisation with per-channel weights (per-tensor loses too much: cosine min 0.91)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.tmp")
    # onnxruntime logs advice for model authors ("consider pre-processing") on the root logger.
    root = logging.getLogger()
    advice = _DropFrom("onnxruntime")
    root.addFilter(advice)
    try:
        quantize_dynamic(str(src), str(tmp), per_channel=True, weight_type=QuantType.QInt8)
        _publish(tmp, dest)
    finally:
        root.removeFilter(advice)
        tmp.unlink(missing_ok=True)


def question_threads() -> int:
    """Threads for a question-time model run (a few short rows): two where there are two cores.

    Measured side by side on an idle 2-core host (bench/reader_speed.py, bench/RESULTS.md): two
    threads answer faster cold than one; one wins only while the other core is busy, and a bot
    host is mostly idle between questions. More than two split such small matrices too finely.
    """
    return max(1, min(2, os.cpu_count() or 1))


class _DropFrom(logging.Filter):
    """Drops records logged from code under a package's folder (for libraries that log on the root logger)."""

    def __init__(self, package: str) -> None:
        super().__init__()
        self.marker = f"{os.sep}{package}{os.sep}"

    def filter(self, record: logging.LogRecord) -> bool:
        return self.marker not in record.pathname


class OnnxEmbedder:
    """The same model run by ONNX Runtime (int8 by default): ~3× the passages/s and ~7× faster queries.

    The first `warm_up()` exports the model into `cache_dir` (a few seconds, once per model);
    later starts only load the file and never import torch. With `fallback=True` any failure to
    export or load logs a warning and hands over to `SentenceTransformerEmbedder`.
    """

    def __init__(
        self,
        model: str = "sentence-transformers/all-MiniLM-L6-v2",
        *,
        quantize: bool = True,
        cache_dir: Path | None = None,
        threads: int | None = None,
        query_threads: int | None = None,
        fallback: bool = True,
        cache_size: int = 20_000,
        on_step: Callable[[str, int, int], None] | None = None,
    ) -> None:
        if not model:
            raise ValueError("model name must not be empty")
        if (threads is not None and threads < 1) or (query_threads is not None and query_threads < 1):
            raise ValueError("threads must be at least 1")
        if cache_size < 0:
            raise ValueError("cache_size must not be negative")
        self.name = model
        self.quantize = quantize
        self.cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
        self.threads = threads
        self.query_threads = query_threads or question_threads()
        self.fallback = fallback
        # Told (label, step, steps) around the one-time export, which takes a few seconds: the
        # CLI shows a progress bar with it. Not called when the exported model is already cached.
        self.on_step = on_step
        # Small (query-time) calls go through LRU caches: vectors ~1.5 kB a text (30 MB when
        # full); per-token vectors ~60 kB a text, so a tenth as many entries.
        self.cache_size = cache_size
        self._cache = Lru(cache_size)
        self._tok_cache = Lru(cache_size // 10)
        self._session: Any = None  # an onnxruntime InferenceSession once loaded (ingest: all threads)
        self._query_session: Any = None  # the question-time session (one thread: small batches)
        self._tokenizer: Any = None  # a tokenizers.Tokenizer once loaded
        self._torch: SentenceTransformerEmbedder | None = None
        self._dim: int | None = None
        self._lock = threading.Lock()

    @property
    def backend(self) -> str:
        """What actually runs: onnx-int8, onnx-fp32, torch (after a fallback) or unloaded."""
        if self._torch is not None:
            return "torch"
        if self._session is None:
            return "unloaded"
        return "onnx-int8" if self.quantize else "onnx-fp32"

    def warm_up(self) -> None:
        """Export (first time only) and load the ONNX model, or fall back to torch."""
        with self._lock:
            if self._session is not None or self._torch is not None:
                return
            try:
                self._load()
            except Exception as exc:  # noqa: BLE001 - any failure here must not stop the bot
                if not self.fallback:
                    raise
                log.warning("ONNX embedding backend unavailable (%s); using sentence-transformers (torch)", exc)
                self._torch = SentenceTransformerEmbedder(self.name)
        if self._torch is not None:
            self._torch.warm_up()

    def _load(self) -> None:
        path = Path(resolve_model(self.name))
        if not path.is_dir():
            raise OnnxExportError(f"'{self.name}' is not a local model folder; only local models are exported")
        dim = _check_pipeline(path)
        import onnxruntime as ort
        from tokenizers import Tokenizer

        folder = self.cache_dir / _model_key(path)
        fp32, int8 = folder / "model.onnx", folder / "model-int8.onnx"
        onnx_file = int8 if self.quantize else fp32
        if not onnx_file.exists():
            log.info("exporting %s to ONNX (%s), once, into %s", self.name, self.backend_name, folder)
            step = self.on_step or (lambda label, i, n: None)
            try:
                step("exporting the model to ONNX (once)", 0, 2)
                if not fp32.exists():
                    export_onnx(path, fp32)
                step("quantizing to int8 (once)", 1, 2)
                if self.quantize:
                    quantize_onnx(fp32, int8)
                step("model ready", 2, 2)
            except Exception as exc:
                raise OnnxExportError(f"export failed: {exc}") from exc
        opts = ort.SessionOptions()
        if self.threads:
            opts.intra_op_num_threads = self.threads
        opts.inter_op_num_threads = 1
        # Idle ORT threads spin by default; on a small shared box (or beside FAISS/BM25 in a bot)
        # the spinning steals the cores the next request needs: measured 2x slower answers.
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.log_severity_level = 3  # errors only: ORT's graph-optimisation notes are not the user's concern
        session = ort.InferenceSession(str(onnx_file), opts, providers=["CPUExecutionProvider"])
        # Query-time runs (the question, a handful of short rows) get their own session with
        # `question_threads()` threads; ingest keeps the one with every core.
        opts.intra_op_num_threads = self.query_threads
        query_session = ort.InferenceSession(str(onnx_file), opts, providers=["CPUExecutionProvider"])
        tok = Tokenizer.from_file(str(path / "tokenizer.json"))
        # tokenizer.json ships with truncation at 128 and fixed padding; sentence-transformers uses
        # max_seq_length (256 for MiniLM) and pads to the longest text of the batch.
        tok.enable_truncation(max_length=_max_seq_length(path))
        tok.no_padding()
        self._tokenizer, self._session, self._query_session, self._dim = tok, session, query_session, dim
        self._pad_id = tok.token_to_id("[PAD]") or 0
        log.info("embedding model %s loaded (%s)", self.name, self.backend_name)

    @property
    def backend_name(self) -> str:
        """onnx-int8 or onnx-fp32, as configured."""
        return "onnx-int8" if self.quantize else "onnx-fp32"

    @property
    def dim(self) -> int:
        """Vector dimension (loads the model if needed)."""
        self.warm_up()
        if self._torch is not None:
            return self._torch.dim
        assert self._dim is not None
        return self._dim

    def encode(self, texts: Sequence[str], *, batch_size: int = 32) -> np.ndarray:
        """Embed texts, shortest first so batches carry little padding; returns rows in input order."""
        self.warm_up()
        if self._torch is not None:
            return self._torch.encode(texts, batch_size=batch_size)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        if self.cache_size and len(texts) <= 64:  # query time; ingest batches are deduplicated upstream
            return np.vstack(self._cache.get_many(texts, lambda missing: self._encode(missing, batch_size, query=True)))
        return self._encode(texts, batch_size)

    def encode_tokens(self, texts: Sequence[str]) -> tuple[np.ndarray, list[TokenVectors]]:
        """Sentence vectors and per-token vectors from one run of the model (query time, a few texts)."""
        self.warm_up()
        if self._torch is not None:
            return self._torch.encode_tokens(texts)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32), []
        got = self._tok_cache.get_many(texts, lambda missing: list(zip(*self._run(missing, 32, tokens=True, query=True))))
        return np.vstack([g[0] for g in got]), [g[1] for g in got]

    def _encode(self, texts: Sequence[str], batch_size: int, *, query: bool = False) -> np.ndarray:
        return self._run(texts, batch_size, tokens=False, query=query)[0]

    def _run(self, texts: Sequence[str], batch_size: int, *, tokens: bool,
             query: bool = False) -> tuple[np.ndarray, list[TokenVectors]]:
        assert self._tokenizer is not None and self._session is not None
        session = self._query_session if query and self._query_session is not None else self._session
        encs = self._tokenizer.encode_batch(list(texts))
        order = np.argsort([len(e.ids) for e in encs], kind="stable")
        out = np.empty((len(encs), self.dim), dtype=np.float32)
        toks: list[TokenVectors | None] = [None] * len(encs)
        wanted = ["embedding", "tokens"] if tokens else ["embedding"]
        for b in range(0, len(order), batch_size):
            rows = order[b: b + batch_size]
            width = max(len(encs[i].ids) for i in rows)
            ids = np.full((len(rows), width), self._pad_id, dtype=np.int64)
            mask = np.zeros((len(rows), width), dtype=np.int64)
            types = np.zeros((len(rows), width), dtype=np.int64)
            for j, i in enumerate(rows):
                e = encs[i]
                n = len(e.ids)
                ids[j, :n], mask[j, :n], types[j, :n] = e.ids, 1, e.type_ids
            res = session.run(wanted, {"input_ids": ids, "attention_mask": mask, "token_type_ids": types})
            out[rows] = res[0]
            if tokens:
                for j, i in enumerate(rows):
                    toks[i] = token_vectors(encs[i].tokens, res[1][j, : len(encs[i].ids)])
        return out, [t for t in toks if t is not None]
