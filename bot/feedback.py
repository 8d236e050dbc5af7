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
    vote INTEGER NOT NULL,  -- +1 up, -1 down, 0 = answered "not found"
    auto INTEGER NOT NULL DEFAULT 0  -- 1: asked in a help channel, not to citebot (vote 0 = left unanswered)
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
    auto: int = 0

    @property
    def kind(self) -> str:
        """'not found', 'unanswered' (a help-channel question citebot stayed silent on), 'down' or 'up'."""
        if self.vote == 0 and self.auto:
            return "unanswered"
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
        columns = {r[1] for r in self._conn.execute("PRAGMA table_info(feedback)")}
        if "auto" not in columns:  # a feedback file from before help channels
            self._conn.execute("ALTER TABLE feedback ADD COLUMN auto INTEGER NOT NULL DEFAULT 0")
            self._conn.commit()

    def record(self, *, platform: str, question: str, vote: int, scope: str | None = None,
               user: str | None = None, answer: str | None = None, auto: bool = False) -> None:
        """Store a vote (+1/-1) or a 'not found' (0); `auto` marks a help-channel question left unanswered.

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
                "INSERT INTO feedback (at, platform, scope, user, question, answer, vote, auto) VALUES (?,?,?,?,?,?,?,?)",
                (time.time(), platform, scope, user, question, answer, vote, int(auto)),
            )
            self._conn.commit()

    def report(self, *, include_up: bool = False, limit: int = 100) -> list[FeedbackRow]:
        """Questions answered 'not found' or left unanswered, answers voted down (and up, if asked), newest first."""
        votes = (0, -1, 1) if include_up else (0, -1)
        with self._lock:
            rows = self._conn.execute(
                f"SELECT at, platform, scope, user, question, answer, vote, auto FROM feedback "
                f"WHERE vote IN ({','.join('?' * len(votes))}) ORDER BY at DESC, id DESC LIMIT ?",
                (*votes, limit),
            ).fetchall()
        return [FeedbackRow(*r) for r in rows]

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            self._conn.close()
