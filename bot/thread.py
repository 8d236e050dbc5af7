"""A chat thread's conversation, rebuilt from what the thread shows: each of citebot's own answers
carries the question it answered (as it was read) and where the quote came from.

Context lives in the platform, not in one process: any Slack HTTP replica, Discord shard or a bot
just restarted reads the same thread history and asks with the same turns. It is bounded: the last
`MAX_TURNS` answers, none older than the surface's time window, each turn's text capped.
"""
from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from index import Answer, Turn, display_source

MAX_TURNS = 3
TURN_CHARS = 600  # question, quote and title each, as carried and as read back
THREAD_WINDOW = 24 * 3600.0  # a thread's earlier answers count for a day
DM_WINDOW = 30 * 60.0  # a DM's for half an hour: a DM is one long stream, a new topic usually starts fresh
HISTORY_MESSAGES = 30  # messages read back from a thread or DM to find citebot's last answers


@dataclass(frozen=True)
class ThreadTurn:
    """One answer citebot posted in a thread: when, and the turn it carries."""

    at: float  # unix seconds
    turn: Turn


def turn_for_chat(answer: Answer) -> Turn:
    """What an answer posted in chat carries for the next question: no server path (a file's name
    stands in), every text capped."""
    t = answer.turn()
    quoted = next((c for c in answer.citations if c.answer_start is not None), answer.citations[0] if answer.citations else None)
    source = display_source(quoted.source, quoted.url, quoted.title) if quoted else None
    return cap(replace(t, source=source))


def cap(turn: Turn) -> Turn:
    """The turn with each text cut to TURN_CHARS (a memory cap on what is read back)."""
    def cut(s: str | None) -> str | None:
        return s[:TURN_CHARS] if s else s
    return Turn(question=turn.question[:TURN_CHARS], answer=cut(turn.answer), title=cut(turn.title), source=cut(turn.source))


def recent(turns: Iterable[ThreadTurn], *, window: float, now: float | None = None, limit: int = MAX_TURNS) -> list[Turn]:
    """The last `limit` turns posted within `window` seconds of `now`, oldest first."""
    now = time.time() if now is None else now
    kept = sorted((t for t in turns if now - t.at <= window), key=lambda t: t.at)
    return [cap(t.turn) for t in kept[-limit:]]


def bounded(conversation: Sequence[Turn]) -> list[Turn]:
    """At most MAX_TURNS turns, each capped: whatever an adapter hands over."""
    return [cap(t) for t in list(conversation)[-MAX_TURNS:]]
