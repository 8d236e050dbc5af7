"""The SQLite side of a generation: its schema, the named ordered migrations that upgrade older indexes, the model check."""
from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..errors import IndexMismatchError

# Written to info.format on every generation. 1: vectors in an IndexIDMap2 (vectors.faiss);
# 2: vectors as .npy rows; 3: passages carry their own text (2 sliced it out of the article's).
FORMAT = "3"

# m001: the tables every index has had since the first format.
M001_SCHEMA = """
CREATE TABLE IF NOT EXISTS info (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS articles (
    id INTEGER PRIMARY KEY,
    source TEXT NOT NULL,
    collection TEXT NOT NULL,
    title TEXT NOT NULL,
    date TEXT,
    url TEXT,
    digest TEXT NOT NULL,
    text TEXT NOT NULL,
    added_at REAL NOT NULL,
    UNIQUE (collection, source)
);
CREATE TABLE IF NOT EXISTS passages (
    id INTEGER PRIMARY KEY,
    article_id INTEGER NOT NULL REFERENCES articles(id),
    start INTEGER NOT NULL,
    end INTEGER NOT NULL,
    sentences TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS passages_article ON passages(article_id);
"""

# The current layout, what a new index is created with: every migration below already applied.
# (Created in one statement rather than replayed so a new index's schema text stays byte-for-byte
# what it has always been.)
SCHEMA = """
CREATE TABLE IF NOT EXISTS info (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS articles (
    id INTEGER PRIMARY KEY,
    source TEXT NOT NULL,
    collection TEXT NOT NULL,
    title TEXT NOT NULL,
    date TEXT,
    url TEXT,
    digest TEXT NOT NULL,
    text TEXT NOT NULL,
    added_at REAL NOT NULL,
    UNIQUE (collection, source)
);
CREATE TABLE IF NOT EXISTS passages (
    id INTEGER PRIMARY KEY,
    article_id INTEGER NOT NULL REFERENCES articles(id),
    start INTEGER NOT NULL,
    end INTEGER NOT NULL,
    sentences TEXT NOT NULL,
    text TEXT
);
CREATE INDEX IF NOT EXISTS passages_article ON passages(article_id);
"""
# Second locations of an indexed file (a copy in another folder, a second URL): indexed once.
M004_ALIASES = """
CREATE TABLE IF NOT EXISTS aliases (
    source TEXT NOT NULL,
    collection TEXT NOT NULL,
    article_source TEXT NOT NULL,
    added_at REAL NOT NULL,
    PRIMARY KEY (collection, source)
);
CREATE INDEX IF NOT EXISTS articles_digest ON articles(digest);
"""
SCHEMA += M004_ALIASES

# Issue 24: the day the page says it was updated, where the date came from (index.ingest.dates.DateSource)
# and whether it is a stand-in from outside the article. Older rows keep NULL / 0 until re-read.
M005_ARTICLE_DATES = """
ALTER TABLE articles ADD COLUMN updated TEXT;
ALTER TABLE articles ADD COLUMN date_source TEXT;
ALTER TABLE articles ADD COLUMN date_estimated INTEGER NOT NULL DEFAULT 0;
"""
SCHEMA += M005_ARTICLE_DATES

# A passage's text. Stored in its own row (format 3): slicing it out of the article's text made
# SQLite read the whole article (its overflow pages), the largest cold-cache cost of a question at
# 1M passages. Indexes written before keep working through the slice.
PASSAGE_TEXT = "COALESCE(p.text, substr(a.text, p.start + 1, p.end - p.start))"
PASSAGE_SLICE = "substr(a.text, p.start + 1, p.end - p.start)"


def has_passage_text(conn: sqlite3.Connection) -> bool:
    """Whether the passages table has its own text column (format 3 on)."""
    return any(r[1] == "text" for r in conn.execute("PRAGMA table_info(passages)"))


def _has_table(conn: sqlite3.Connection, name: str) -> bool:
    return conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)).fetchone() is not None


@dataclass(frozen=True)
class Migration:
    """One named schema step: `applied` tells whether a database already has it, `apply` brings it there."""

    name: str
    applied: Callable[[sqlite3.Connection], bool]
    apply: Callable[[sqlite3.Connection], None]


def _m001_initial(conn: sqlite3.Connection) -> None:
    """The first format's tables."""
    conn.executescript(M001_SCHEMA)


def _m002_vector_rows(conn: sqlite3.Connection) -> None:
    """Format 2 changed only the vector files (`vectors.load_rows` reads format 1's); SQLite is untouched."""


def _m003_passage_text(conn: sqlite3.Connection) -> None:
    """Bring an index written before format 3 up to it: give every passage its text."""
    conn.execute("ALTER TABLE passages ADD COLUMN text TEXT")
    conn.execute(
        "UPDATE passages SET text = (SELECT substr(a.text, passages.start + 1, passages.end - passages.start) "
        "FROM articles a WHERE a.id = passages.article_id)"
    )


def _m004_aliases(conn: sqlite3.Connection) -> None:
    """Indexes before issue 13 had no record of a second location of the same file: add it."""
    conn.executescript(M004_ALIASES)


def has_article_dates(conn: sqlite3.Connection) -> bool:
    """Whether the articles table records `updated`, `date_source`, `date_estimated` (m005 on)."""
    return any(r[1] == "date_source" for r in conn.execute("PRAGMA table_info(articles)"))


def _m005_article_dates(conn: sqlite3.Connection) -> None:
    """Indexes before issue 24 kept one date per article: add the update day and the date's provenance."""
    conn.executescript(M005_ARTICLE_DATES)


def has_table(conn: sqlite3.Connection, name: str) -> bool:
    """Whether the database has this table (older generations may lack the newest ones)."""
    return _has_table(conn, name)


# In order. Each checks for itself whether it is needed, so upgrading a database that already has
# a step costs one PRAGMA, not a scan (every write starts from a copy of the live generation).
MIGRATIONS: tuple[Migration, ...] = (
    Migration("m001_initial", lambda c: _has_table(c, "passages"), _m001_initial),
    Migration("m002_vector_rows", lambda c: True, _m002_vector_rows),
    Migration("m003_passage_text", has_passage_text, _m003_passage_text),
    Migration("m004_aliases", lambda c: _has_table(c, "aliases"), _m004_aliases),
    Migration("m005_article_dates", has_article_dates, _m005_article_dates),
)


def migrate(conn: sqlite3.Connection) -> list[str]:
    """Apply, in order, the migrations a copied older generation lacks; returns their names."""
    done = []
    for m in MIGRATIONS:
        if not m.applied(conn):
            m.apply(conn)
            done.append(m.name)
    return done


def create(conn: sqlite3.Connection, model: str, dim: int) -> None:
    """Give a new, empty database the current schema and record the model its vectors come from."""
    conn.executescript(SCHEMA)
    conn.executemany(
        "INSERT OR REPLACE INTO info VALUES (?, ?)",
        [("model", model), ("dim", str(dim)), ("format", FORMAT)],
    )


def stamp_format(conn: sqlite3.Connection) -> None:
    """Record that this generation is written in the current format."""
    conn.execute("INSERT OR REPLACE INTO info VALUES ('format', ?)", (FORMAT,))


def read_info(conn: sqlite3.Connection) -> dict[str, str]:
    """The info table as a dict (model, dim, format)."""
    return {str(k): str(v) for k, v in conn.execute("SELECT key, value FROM info")}


def check_model(info: dict[str, str], model: str, dim: int, root: Path) -> None:
    """Refuse to mix vectors of two models in one index."""
    have_model, have_dim = info.get("model"), int(info.get("dim", "0") or 0)
    if have_model != model or (dim and have_dim != dim):
        raise IndexMismatchError(
            f"the index in {root} was built with the embedding model '{have_model}' ({have_dim} dimensions), "
            f"but citebot is set to use '{model}'. Set CITEBOT_EMBEDDING_MODEL={have_model} to use this index, "
            f"or rebuild it for the new model: move {root} aside and run `citebot ingest` again."
        )
