"""citebot's engine: articles in, cited extractive answers out. Knows nothing about chat platforms.

This is the engine's one front door: `bot/` and `bench/` import only from here
(`from index import Engine, Answer, ...`; tests/test_layering.py enforces it). Names are loaded
on first use, so importing `index` for an error class or a type does not load the model, FAISS
or the fitted scorer.
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .answer import DEFAULT_MIN_CONFIDENCE, AnswerComposer
    from .chunk import chunk as chunk_article
    from .chunk import sentences, strip_marks
    from .embed import (
        BUNDLED_NAMES,
        Embedder,
        OnnxEmbedder,
        SentenceTransformerEmbedder,
        TokenEmbedder,
        WarmEmbedder,
        make_embedder,
        resolve_model,
    )
    from .engine import Engine
    from .errors import AmbiguousSourceError, CitebotError, IndexBusyError, IndexMismatchError, LoadError, UserError
    from .lexical import STOPWORDS, tokenize
    from .load import SUPPORTED_SUFFIXES, load_bytes
    from .query import build_query, clean_question
    from .reader import ReaderModelError, SentenceReader
    from .rerank import CrossEncoderReranker
    from .search import HybridSearcher
    from .select import FittedModelError
    from .sources import Source, SourceKind, SyncReport, WebIngester, load_sources
    from .store import IndexReader, IndexWriter, SourceInfo
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
        TokenVectors,
        display_source,
    )
    from .web import BlockedURL, Fetcher, FetchError, FetchPolicy

# Public name -> the module that defines it.
_WHERE = {
    # types
    "DEFAULT_COLLECTION": "types", "Answer": "types", "Article": "types", "Citation": "types", "Document": "types",
    "Hit": "types", "IngestReport": "types", "Passage": "types", "Query": "types", "TokenVectors": "types",
    "display_source": "types", "SourceInfo": "store",
    # errors
    "CitebotError": "errors", "UserError": "errors", "LoadError": "errors", "IndexMismatchError": "errors",
    "IndexBusyError": "errors", "AmbiguousSourceError": "errors", "FetchError": "web", "BlockedURL": "web", "FittedModelError": "select",
    # the engine and its stages
    "Engine": "engine", "AnswerComposer": "answer", "DEFAULT_MIN_CONFIDENCE": "answer",
    "HybridSearcher": "search", "build_query": "query", "clean_question": "query",
    "CrossEncoderReranker": "rerank", "SentenceReader": "reader", "ReaderModelError": "reader", "IndexReader": "store", "IndexWriter": "store",
    "chunk_article": "chunk", "sentences": "chunk", "strip_marks": "chunk", "load_bytes": "load", "tokenize": "lexical", "STOPWORDS": "lexical", "SUPPORTED_SUFFIXES": "load",
    # embedders
    "Embedder": "embed", "TokenEmbedder": "embed", "WarmEmbedder": "embed", "make_embedder": "embed",
    "resolve_model": "embed", "BUNDLED_NAMES": "embed", "OnnxEmbedder": "embed",
    "SentenceTransformerEmbedder": "embed",
    # web sources
    "Fetcher": "web", "FetchPolicy": "web", "Source": "sources", "SourceKind": "sources", "SyncReport": "sources",
    "WebIngester": "sources", "load_sources": "sources",
}

_DEFINED_AS = {"chunk_article": "chunk"}

__all__ = [
    "AmbiguousSourceError", "Answer", "AnswerComposer", "Article", "BUNDLED_NAMES", "BlockedURL", "Citation", "CitebotError",
    "CrossEncoderReranker", "DEFAULT_COLLECTION", "DEFAULT_MIN_CONFIDENCE", "Document", "Embedder", "Engine",
    "FetchError", "FetchPolicy", "Fetcher", "FittedModelError", "Hit", "HybridSearcher", "IndexBusyError",
    "IndexMismatchError", "IndexReader", "IndexWriter", "IngestReport", "LoadError", "OnnxEmbedder", "Passage", "ReaderModelError", "SentenceReader",
    "Query", "STOPWORDS", "SUPPORTED_SUFFIXES", "SentenceTransformerEmbedder", "Source", "SourceInfo",
    "SourceKind", "SyncReport", "TokenEmbedder", "TokenVectors", "UserError", "WarmEmbedder", "WebIngester",
    "build_query", "chunk_article", "clean_question", "display_source", "load_bytes", "load_sources", "make_embedder", "resolve_model", "sentences", "strip_marks",
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
