"""Feedback store shared by every adapter: votes on answers and questions answered 'not found'."""
from __future__ import annotations

import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY,
    at REAL NOT NULL,
    platform TEXT NOT NULL,
    scope TEXT,
    user TEXT,
    question TEXT NOT NULL,
    answer TEXT,
    vote INTEGER NOT NULL  -- +1 up, -1 down, 0 = answered "not found"
);
CREATE INDEX IF NOT EXISTS feedback_at ON feedback(at);
"""


@dataclass(frozen=True)
class FeedbackRow:
    """One recorded event, as `citebot feedback` lists it."""

    at: float
    platform: str
    scope: str | None
    user: str | None
    question: str
    answer: str | None
    vote: int

    @property
    def kind(self) -> str:
        """'not found', 'down' or 'up'."""
        return {0: "not found", -1: "down", 1: "up"}[self.vote]


class FeedbackStore:
    """SQLite file beside the index generations (`feedback.sqlite`); safe across threads."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(str(self.path), check_same_thread=False, timeout=10)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.executescript(SCHEMA)

    def record(self, *, platform: str, question: str, vote: int, scope: str | None = None,
               user: str | None = None, answer: str | None = None) -> None:
        """Store a vote (+1/-1) or a 'not found' (0).

        One user has one vote per answer: clicking 👍 again, or changing to 👎, replaces their
        earlier vote on it rather than counting twice.
        """
        if vote not in (-1, 0, 1):
            raise ValueError("vote must be -1, 0 or 1")
        question, answer = question[:4000], (answer or None) and answer[:4000]
        with self._lock:
            if vote and user:
                self._conn.execute(
                    "DELETE FROM feedback WHERE vote != 0 AND platform = ? AND scope IS ? AND user = ? "
                    "AND question = ? AND answer IS ?",
                    (platform, scope, user, question, answer),
                )
            self._conn.execute(
                "INSERT INTO feedback (at, platform, scope, user, question, answer, vote) VALUES (?,?,?,?,?,?,?)",
                (time.time(), platform, scope, user, question, answer, vote),
            )
            self._conn.commit()

    def report(self, *, include_up: bool = False, limit: int = 100) -> list[FeedbackRow]:
        """Questions answered 'not found' and answers voted down (and up, if asked), newest first."""
        votes = (0, -1, 1) if include_up else (0, -1)
        with self._lock:
            rows = self._conn.execute(
                f"SELECT at, platform, scope, user, question, answer, vote FROM feedback "
                f"WHERE vote IN ({','.join('?' * len(votes))}) ORDER BY at DESC, id DESC LIMIT ?",
                (*votes, limit),
            ).fetchall()
        return [FeedbackRow(*r) for r in rows]

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            self._conn.close()
