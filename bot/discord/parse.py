"""Discord text → what was asked: the inverse of `render` (our escaped embeds, mention-prefixed messages)."""
from __future__ import annotations

import re
from typing import Any

from index import Turn

from ..render.common import ELLIPSIS, READ_AS_LABEL
from ..thread import ThreadTurn

_ESCAPED = re.compile(r"\\([^\w\s])")
_LINKED = re.compile(r"^— \[(.+?)\]\((https?://[^)\s]+)\)")
_PLAIN = re.compile(r"^— \*\*(.+?)\*\*")
_FILE = re.compile(r"`([^`]+)`")


def unrender(text: str) -> str:
    """Undo our markdown escaping and mention neutralizing, to recover a question from an embed."""
    return _ESCAPED.sub(r"\1", text.replace("\u200b", "")).replace("**", "")


def strip_mention(content: str, bot_id: int) -> str:
    """A message's text without the bot's own mention (`<@id>` or the nickname form `<@!id>`)."""
    return re.sub(rf"<@!?{bot_id}>", " ", content or "").strip()


def turn_of_embed(embed: dict[str, Any], at: float) -> ThreadTurn | None:
    """The turn one of citebot's answers carries (render.render_answer), read back from its embed: the
    question (its "Reading this as" line, else the title), the quote, the article's title and link
    (or file name). None for an embed that is not an answer."""
    title, lines = embed.get("title"), (embed.get("description") or "").split("\n")
    read = None
    if lines and lines[0].startswith("*" + READ_AS_LABEL) and lines[0].endswith("*"):
        read, lines = unrender(lines[0][1 + len(READ_AS_LABEL):-1]).strip(), lines[1:]
    quote = next((ln[2:] for ln in lines if ln.startswith("> ")), None)
    source_line = next((ln for ln in lines if ln.startswith("— ")), "")
    question = read or (unrender(title) if title else None)
    if not question or quote is None:
        return None
    linked, plain = _LINKED.match(source_line), _PLAIN.match(source_line)
    file = _FILE.search(source_line) if not linked else None
    found = linked or plain
    name = unrender(found.group(1)) if found else None
    return ThreadTurn(at, Turn(question=question, answer=unrender(quote).strip(ELLIPSIS + " ") or None,
                               title=name, source=linked.group(2) if linked else (file.group(1) if file else name)))
