"""`citebot ask -`: one question per line of stdin, one answer each, the model loaded once.

A line is a question, or a JSON object `{"question": "...", "conversation": "ID"}`: lines with the
same ID form one conversation in the order they come (conversations may be interleaved), so a
follow-up ("how long had it been around?") is read with the turns before it. A line that cannot
be answered (a malformed object, an unusable question, a failure while answering) gets an error
line of its own and the run goes on: a batch of a thousand questions never dies on the 17th.
"""
from __future__ import annotations

import json
import logging
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from index import Answer, Turn, UserError

log = logging.getLogger(__name__)

# Bounded, like every conversation citebot keeps: the last few turns of the most recent ids.
TURNS_KEPT = 3
CONVERSATIONS_KEPT = 10_000
OBJECT_HINT = 'a line that starts with "{" must be a JSON object like {"question": "...", "conversation": "ID"}'


class LineError(ValueError):
    """A line citebot cannot take as a question; the message says why."""


def parse_line(line: str) -> tuple[str, str | None]:
    """(question, conversation id or None) from one line of input; LineError when malformed."""
    text = line.strip()
    if not text.startswith("{"):  # a question never opens with "{": such a line is an object, or broken
        return text, None
    try:
        data = json.loads(text)
    except ValueError:
        raise LineError(f"not valid JSON: {OBJECT_HINT}") from None
    if not isinstance(data, dict):
        raise LineError(OBJECT_HINT)
    question, conversation = data.get("question"), data.get("conversation")
    if not isinstance(question, str):
        raise LineError('the object has no "question" string: ' + OBJECT_HINT)
    if conversation is not None and (isinstance(conversation, bool) or not isinstance(conversation, (str, int))):
        raise LineError('"conversation" must be a string (or a number) naming the conversation')
    return question, None if conversation is None else str(conversation)


class Conversations:
    """The recent turns of each conversation id, oldest first; bounded in turns and in ids."""

    def __init__(self, *, turns: int = TURNS_KEPT, ids: int = CONVERSATIONS_KEPT) -> None:
        self.turns, self.ids = turns, ids
        self._by_id: OrderedDict[str, deque[Turn]] = OrderedDict()

    def get(self, cid: str | None) -> list[Turn]:
        """The turns so far of `cid` (none for a standalone question)."""
        return list(self._by_id.get(cid, ())) if cid is not None else []

    def add(self, cid: str | None, turn: Turn) -> None:
        """Record an answered turn of `cid` (a standalone question is not recorded)."""
        if cid is None:
            return
        turns = self._by_id.pop(cid, None) or deque(maxlen=self.turns)
        turns.append(turn)
        self._by_id[cid] = turns
        while len(self._by_id) > self.ids:
            self._by_id.popitem(last=False)


def error_object(message: str, question: str | None = None, conversation: str | None = None) -> dict[str, Any]:
    """The --json line for a line that got no answer (the contract's fields, plus `error`)."""
    out: dict[str, Any] = {"question": question, "found": False, "answer": None, "citations": [], "read_as": None,
                           "error": message}
    if conversation is not None:
        out["conversation"] = conversation
    return out


def answer_lines(lines: Iterable[str], ask: Callable[[str, Sequence[Turn]], Answer],
                 write: Callable[[str], None], *, as_json: bool,
                 render: Callable[[Answer], str]) -> int:
    """Answer every line; returns how many lines got an error instead of an answer."""
    conversations = Conversations()
    errors = 0
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        question: str | None = None
        cid: str | None = None
        try:
            question, cid = parse_line(line)
            answer = ask(question, conversations.get(cid))
        except (LineError, UserError) as exc:
            errors += 1
            message = f"line {n}: {exc}" if isinstance(exc, LineError) else str(exc)
            write(json.dumps(error_object(message, question, cid), ensure_ascii=False) if as_json else f"citebot: {message}")
            continue
        except Exception as exc:  # noqa: BLE001 - one line's failure must not end the run, nor show a traceback
            errors += 1
            log.debug("answering line %d failed", n, exc_info=True)
            message = f"something went wrong while answering this question ({type(exc).__name__}); run again with -v for details"
            write(json.dumps(error_object(message, question, cid), ensure_ascii=False) if as_json else f"citebot: {message}")
            continue
        conversations.add(cid, answer.turn())
        if as_json:
            data = answer.to_json()
            if cid is not None:
                data["conversation"] = cid
            write(json.dumps(data, ensure_ascii=False))
        else:
            write(render(answer) + "\n")
    return errors
