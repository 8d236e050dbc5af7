"""The index on disk: FAISS vectors + SQLite metadata + BM25, in immutable generations.

Layout of the index folder:
    CURRENT            name of the live generation (replaced atomically with os.replace)
    gen-000042/        one complete, never-modified-after-publish generation:
        meta.sqlite      articles and passages
        vectors.npy      float16 unit vectors, one row per passage, in passage id order
        ids.npy          passage id of each row (-1: removed, a tombstone until compaction)
        coll.npy         collection code of each row; collections.json names the codes
        ann.faiss        IVF-SQ8 over the rows, only from `exact_below` passages on (ann.json: its
                         training size); below that readers build an exact flat index at open
        lex/             BM25 index and its row → passage id map
    .write.lock        held by the one writer (ingest / forget)

A writer copies the live generation (hard-linking the files it does not change), changes the
copy, writes it completely, fsyncs, then swaps CURRENT. A crash at any point leaves CURRENT naming
the last complete generation, and readers in other processes pick up a new generation on their
next query without a restart.

One module per concern: `layout` (generation folders, atomic publish), `schema` (SQLite tables
and their named, ordered migrations), `vectors` (rows and FAISS), `reader`, `writer`.
"""
from __future__ import annotations

# Every name importable from `index.store` before it became a package stays importable (the
# crash tests patch `store.os.replace` and `store.np.save`, which reach the modules themselves).
# ruff: noqa: F401
import json
import logging
import os
import shutil
import sqlite3
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import IndexBusyError, IndexMismatchError, UserError
from ..types import Article, Hit, Passage, SourceInfo
from .layout import current_name as _current_name
from .layout import fsync_dir as _fsync_dir
from .lexical import LexicalIndex
from .reader import IndexReader
from .schema import FORMAT, MIGRATIONS, SCHEMA, Migration, check_model, migrate
from .schema import PASSAGE_SLICE as _PASSAGE_SLICE
from .schema import PASSAGE_TEXT as _PASSAGE_TEXT
from .schema import has_passage_text as _has_passage_text
from .vectors import DEFAULT_EXACT_BELOW
from .vectors import Rows as _Rows
from .vectors import bitmap as _bitmap
from .vectors import build_ivf as _build_ivf
from .vectors import empty_rows as _empty_rows
from .vectors import load_rows as _load_rows
from .vectors import top as _top
from .writer import IndexWriter

log = logging.getLogger(__name__)

__all__ = [
    "DEFAULT_EXACT_BELOW",
    "FORMAT",
    "MIGRATIONS",
    "SCHEMA",
    "IndexReader",
    "IndexWriter",
    "Migration",
    "SourceInfo",
    "check_model",
    "migrate",
]


def _store_passage_text(conn: sqlite3.Connection) -> None:
    """Bring an index written before format 3 up to it (kept for callers of the old name)."""
    migrate(conn)

