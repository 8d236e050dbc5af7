"""Embedders: the ONNX export agrees with sentence-transformers, and anything missing falls back to torch."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import index.model.onnx_embed as onnx_embed
import index.model.runtime as runtime
from index.model.embed import SentenceTransformerEmbedder
from index.model.onnx_embed import OnnxEmbedder
from index.model.runtime import make_embedder

TEXTS = [
    "01.AI was founded by Kai-Fu Lee in 2023.",
    "The community garden opens on Saturdays from nine until noon, weather permitting, and volunteers bring tools.",
    "Python 3.13 adds an experimental free-threaded build.",
    "Short.",
    "Sora generates video from text prompts. " * 40,  # longer than 256 word pieces: truncated like torch
]


@pytest.fixture(scope="module")
def onnx_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("onnx-cache")


@pytest.fixture(scope="module")
def reference(embedder) -> np.ndarray:
    return embedder.encode(TEXTS)


@pytest.mark.parametrize("quantize, mean, worst", [(False, 0.9999, 0.999), (True, 0.99, 0.97)])
def test_onnx_vectors_agree_with_torch(onnx_cache: Path, reference: np.ndarray, quantize: bool, mean: float, worst: float) -> None:
    e = OnnxEmbedder(quantize=quantize, cache_dir=onnx_cache)
    vecs = e.encode(TEXTS)
    assert e.backend == ("onnx-int8" if quantize else "onnx-fp32")
    assert vecs.shape == reference.shape and vecs.dtype == np.float32
    assert np.allclose(np.linalg.norm(vecs, axis=1), 1, atol=1e-4)
    cos = (vecs * reference).sum(1)
    assert cos.mean() > mean and cos.min() > worst
    # Rows come back in input order although batches are sorted by length. (int8 activations are
    # quantised per batch tensor, so a text alone differs a little from the same text in a batch.)
    single = np.vstack([e.encode([t]) for t in TEXTS[::-1]])[::-1]
    assert ((single * vecs).sum(1) > (0.97 if quantize else 0.99999)).all()
    assert e.encode([]).shape == (0, 384)


def test_export_is_cached_on_disk(onnx_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    OnnxEmbedder(cache_dir=onnx_cache).warm_up()
    monkeypatch.setattr(onnx_embed, "export_onnx", lambda *a, **k: pytest.fail("exported twice"))
    e = OnnxEmbedder(cache_dir=onnx_cache)
    assert e.dim == 384 and e.backend == "onnx-int8"


def test_failed_export_falls_back_to_torch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, reference: np.ndarray,
                                           caplog: pytest.LogCaptureFixture) -> None:
    def broken(*a, **k):
        raise RuntimeError("no exporter here")

    monkeypatch.setattr(onnx_embed, "export_onnx", broken)
    e = OnnxEmbedder(cache_dir=tmp_path)
    assert np.allclose(e.encode(TEXTS[:2]), reference[:2], atol=1e-5)
    assert e.backend == "torch" and e.dim == 384
    assert "using sentence-transformers" in caplog.text
    with pytest.raises(onnx_embed.OnnxExportError):
        OnnxEmbedder(cache_dir=tmp_path / "other", fallback=False).warm_up()


def test_make_embedder_backends(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert isinstance(make_embedder("all-MiniLM-L6-v2", "torch"), SentenceTransformerEmbedder)
    auto = make_embedder("all-MiniLM-L6-v2", "auto", cache_dir=tmp_path)
    assert isinstance(auto, OnnxEmbedder) and auto.cache_dir == tmp_path and auto.name == "all-MiniLM-L6-v2"
    assert isinstance(make_embedder("all-MiniLM-L6-v2", "ONNX"), OnnxEmbedder)
    with pytest.raises(ValueError):
        make_embedder("all-MiniLM-L6-v2", "tensorrt")
    monkeypatch.setattr(runtime, "onnx_available", lambda: False)
    for backend in ("auto", "onnx"):
        assert isinstance(make_embedder("all-MiniLM-L6-v2", backend), SentenceTransformerEmbedder)


def test_unsupported_pipeline_is_refused(tmp_path: Path) -> None:
    (tmp_path / "modules.json").write_text('[{"type": "sentence_transformers.models.Transformer", "path": ""},'
                                           ' {"type": "sentence_transformers.models.Dense", "path": "1_Dense"}]')
    with pytest.raises(onnx_embed.OnnxExportError):
        onnx_embed._check_pipeline(tmp_path)


def test_query_time_texts_are_cached_and_bounded(onnx_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    e = OnnxEmbedder(cache_dir=onnx_cache, cache_size=3)
    first = e.encode(TEXTS[:3])
    monkeypatch.setattr(e, "_encode", lambda texts, batch_size: pytest.fail(f"embedded again: {texts}"))
    assert np.array_equal(e.encode(TEXTS[2::-1]), first[::-1])
    monkeypatch.undo()
    e.encode(TEXTS[3:4])  # evicts the least recently used (TEXTS[2], used before TEXTS[1] and [0] above)
    assert len(e._cache) == 3 and TEXTS[2] not in e._cache


def test_question_time_session_gives_the_vectors_ingest_gives(onnx_cache: Path) -> None:
    # Questions and candidate sentences run on a single-threaded session, ingest on the
    # multi-threaded one: a sentence must get the same vector and token vectors either way, or
    # answers would depend on which path embedded it.
    e = OnnxEmbedder(cache_dir=onnx_cache)
    e.warm_up()
    assert e._query_session is not None and e._query_session is not e._session
    ingest_vecs, ingest_toks = e._run(TEXTS, 32, tokens=True)
    query_vecs, query_toks = e.encode_tokens(TEXTS)
    assert np.allclose(ingest_vecs, query_vecs, atol=1e-5)
    for a, b in zip(ingest_toks, query_toks):
        assert a.pieces == b.pieces and np.allclose(a.vectors, b.vectors, atol=1e-4)


def test_token_vectors_agree_between_backends(onnx_cache: Path, embedder) -> None:
    # The answer composer aligns question words with sentence words: both backends must give the
    # same word pieces, unit vectors that agree, and sentence vectors equal to plain `encode`.
    e = OnnxEmbedder(cache_dir=onnx_cache)
    vecs, toks = e.encode_tokens(TEXTS[:3])
    ref_vecs, ref_toks = embedder.encode_tokens(TEXTS[:3])
    assert np.allclose(vecs, e.encode(TEXTS[:3]), atol=1e-5)
    assert (vecs * ref_vecs).sum(axis=1).min() > 0.97
    for got, ref in zip(toks, ref_toks):
        assert got.pieces == ref.pieces and got.pieces[0] != "[CLS]" and got.pieces[-1] != "[SEP]"
        assert got.vectors.shape == (len(got.pieces), e.dim)
        assert np.allclose(np.linalg.norm(got.vectors, axis=1), 1.0, atol=1e-4)
        assert (got.vectors * ref.vectors).sum(axis=1).min() > 0.9
    assert toks[0].pieces[:3] == ("01", ".", "ai")


def test_token_cache_keeps_what_a_call_returns(onnx_cache: Path) -> None:
    # A call that adds new texts must not evict, before returning it, a cached text it also asked for.
    e = OnnxEmbedder(cache_dir=onnx_cache, cache_size=20)  # room for 2 token entries
    e.encode_tokens(TEXTS[:2])
    vecs, toks = e.encode_tokens([TEXTS[0], TEXTS[2], TEXTS[3]])
    assert len(toks) == 3 and toks[0].pieces[0] == "01" and len(e._tok_cache) == 2
    assert float(vecs[1] @ e.encode([TEXTS[2]])[0]) > 0.99  # int8 activations scale per batch: close, not equal


def test_torch_token_vectors_of_a_question_are_not_computed_twice(embedder, monkeypatch: pytest.MonkeyPatch) -> None:
    # Engine.ask embeds the question with its tokens; the composer asks again with the sentences:
    # only the sentences may reach the model the second time.
    embedder._tok_cache.clear()  # the embedder is shared by the whole session
    first_vecs, _ = embedder.encode_tokens([TEXTS[0]])
    seen: list[list[str]] = []
    real = embedder._run_tokens
    monkeypatch.setattr(embedder, "_run_tokens", lambda texts: seen.append(texts) or real(texts))
    vecs, toks = embedder.encode_tokens([TEXTS[0], TEXTS[2]])
    assert seen == [[TEXTS[2]]] and np.array_equal(vecs[0], first_vecs[0]) and toks[1].pieces[0] == "python"
