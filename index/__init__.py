"""citebot's engine: articles in, cited extractive answers out. Knows nothing about chat platforms.

Three rooms, arrows only downward (tests/test_layering.py):

    __init__ (this front door), engine, sources   the top floor: drives the rooms
    ingest/   articles come in: files and web pages → Article → passages (load, text, html, pdf, meta, chunk, web)
    answer/   questions go out: Query → search → sentence selection → Answer (query, search, select, compose, …)
    store/    the index folder: generations, SQLite metadata, vectors and the BM25 index (answer reads it)
    model/    the embedding model and its runtimes (torch, ONNX)
    types, errors, words   the ground floor every room stands on

This is the engine's one front door: `bot/` and `bench/` import only from here
(`from index import Engine, Answer, ...`; tests/test_layering.py enforces it). Names are loaded
on first use, so importing `index` for an error class or a type does not load the model, FAISS
or the fitted scorer.
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .answer.compose import DEFAULT_MIN_CONFIDENCE, AnswerComposer
    from .answer.followup import Reading, read_in_context
    from .answer.highlight import highlight
    from .answer.pair import ReaderPair
    from .answer.passage import PassageReader
    from .answer.query import build_query, clean_question
    from .answer.reader import ReaderModelError, SentenceReader, reader_input
    from .answer.rerank import CrossEncoderReranker
    from .answer.search import HybridSearcher
    from .answer.select import FittedModelError
    from .engine import Engine
    from .errors import AmbiguousSourceError, CitebotError, IndexBusyError, IndexMismatchError, LoadError, UserError
    from .ingest.chunk import chunk as chunk_article
    from .ingest.chunk import sentences, strip_marks
    from .ingest.load import SUPPORTED_SUFFIXES, load_bytes
    from .ingest.web import BlockedURL, Fetcher, FetchError, FetchPolicy
    from .model.embed import (
        BUNDLED_NAMES,
        Embedder,
        SentenceTransformerEmbedder,
        TokenEmbedder,
        WarmEmbedder,
        resolve_model,
    )
    from .model.onnx_embed import OnnxEmbedder
    from .model.runtime import make_embedder
    from .sources import Source, SourceKind, SyncReport, WebIngester, load_sources
    from .store import IndexReader, IndexWriter
    from .types import (
        DEFAULT_COLLECTION,
        Answer,
        Article,
        Citation,
        Document,
        Hit,
        IngestReport,
        Passage,
        Query,
        SourceInfo,
        TokenVectors,
        Turn,
        display_source,
    )
    from .words import STOPWORDS, tokenize

# Public name -> the module that defines it.
_WHERE = {
    # types
    "DEFAULT_COLLECTION": "types", "Answer": "types", "Article": "types", "Citation": "types", "Document": "types",
    "Hit": "types", "IngestReport": "types", "Passage": "types", "Query": "types", "TokenVectors": "types", "Turn": "types",
    "Reading": "answer.followup", "read_in_context": "answer.followup",
    "display_source": "types", "SourceInfo": "types",
    # errors
    "CitebotError": "errors", "UserError": "errors", "LoadError": "errors", "IndexMismatchError": "errors",
    "IndexBusyError": "errors", "AmbiguousSourceError": "errors", "FetchError": "ingest.web", "BlockedURL": "ingest.web",
    "FittedModelError": "answer.select",
    # the engine and its rooms: articles come in (ingest), are kept (store), questions go out (answer)
    "Engine": "engine",
    "chunk_article": "ingest.chunk", "sentences": "ingest.chunk", "strip_marks": "ingest.chunk",
    "load_bytes": "ingest.load", "SUPPORTED_SUFFIXES": "ingest.load",
    "IndexReader": "store", "IndexWriter": "store",
    "AnswerComposer": "answer.compose", "DEFAULT_MIN_CONFIDENCE": "answer.compose",
    "HybridSearcher": "answer.search", "build_query": "answer.query", "clean_question": "answer.query",
    "CrossEncoderReranker": "answer.rerank", "SentenceReader": "answer.reader", "ReaderModelError": "answer.reader", "reader_input": "answer.reader",
    "PassageReader": "answer.passage", "ReaderPair": "answer.pair", "highlight": "answer.highlight",
    "tokenize": "words", "STOPWORDS": "words",
    # the embedding model and its runtimes
    "Embedder": "model.embed", "TokenEmbedder": "model.embed", "WarmEmbedder": "model.embed",
    "resolve_model": "model.embed", "BUNDLED_NAMES": "model.embed", "SentenceTransformerEmbedder": "model.embed",
    "OnnxEmbedder": "model.onnx_embed", "make_embedder": "model.runtime",
    # web sources
    "Fetcher": "ingest.web", "FetchPolicy": "ingest.web", "Source": "sources", "SourceKind": "sources",
    "SyncReport": "sources", "WebIngester": "sources", "load_sources": "sources",
}

_DEFINED_AS = {"chunk_article": "chunk"}

__all__ = [
    "AmbiguousSourceError", "Answer", "AnswerComposer", "Article", "BUNDLED_NAMES", "BlockedURL", "Citation", "CitebotError",
    "CrossEncoderReranker", "DEFAULT_COLLECTION", "DEFAULT_MIN_CONFIDENCE", "Document", "Embedder", "Engine",
    "FetchError", "FetchPolicy", "Fetcher", "FittedModelError", "Hit", "HybridSearcher", "IndexBusyError",
    "IndexMismatchError", "IndexReader", "IndexWriter", "IngestReport", "LoadError", "OnnxEmbedder", "Passage", "PassageReader", "ReaderModelError", "ReaderPair", "SentenceReader",
    "Query", "STOPWORDS", "SUPPORTED_SUFFIXES", "SentenceTransformerEmbedder", "Source", "SourceInfo",
    "SourceKind", "SyncReport", "TokenEmbedder", "TokenVectors", "Turn", "Reading", "read_in_context", "UserError", "WarmEmbedder", "WebIngester",
    "build_query", "chunk_article", "clean_question", "display_source", "highlight", "load_bytes", "load_sources", "reader_input", "make_embedder", "resolve_model", "sentences", "strip_marks",
    "tokenize",
]


def __getattr__(name: str) -> Any:
    where = _WHERE.get(name)
    if where is None:
        raise AttributeError(f"module 'index' has no attribute {name!r}")
    # A public name never equals a submodule's (index.chunk the module would shadow it once loaded),
    # so a name exported under another one maps back to its defining name here.
    value = getattr(importlib.import_module(f".{where}", __name__), _DEFINED_AS.get(name, name))
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
