"""The SQLite schema's named migrations: ordered, idempotent, and ending where a new index starts."""
from __future__ import annotations

import re
import sqlite3

from index.store import FORMAT, MIGRATIONS, migrate
from index.store.schema import M001_SCHEMA, create, read_info


def _columns(conn: sqlite3.Connection) -> dict[str, list[tuple[str, str]]]:
    tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
    return {t: [(r[1], r[2]) for r in conn.execute(f"PRAGMA table_info({t})")] for t in tables}


def test_migrations_are_named_and_numbered_in_order() -> None:
    numbers = []
    for m in MIGRATIONS:
        match = re.fullmatch(r"m(\d{3})_[a-z0-9_]+", m.name)
        assert match, m.name
        numbers.append(int(match.group(1)))
    assert numbers == list(range(1, len(MIGRATIONS) + 1))


def test_first_format_database_is_upgraded_once_and_keeps_its_passages() -> None:
    old = sqlite3.connect(":memory:")
    old.executescript(M001_SCHEMA)
    old.execute("INSERT INTO articles VALUES (1, 's', 'c', 'T', NULL, NULL, 'd', 'Alpha beta. Gamma delta.', 0)")
    old.execute("INSERT INTO passages VALUES (1, 1, 12, 24, '[[12, 24]]')")
    assert migrate(old) == ["m003_passage_text", "m004_aliases", "m005_article_dates"]
    assert old.execute("SELECT text FROM passages").fetchone()[0] == "Gamma delta."
    assert migrate(old) == []  # every write copies the live generation: a second pass changes nothing

    new = sqlite3.connect(":memory:")
    create(new, "model-x", 8)
    assert migrate(new) == []
    assert _columns(old) == _columns(new)
    assert read_info(new) == {"model": "model-x", "dim": "8", "format": FORMAT}
