"""Discord text → what was asked: the inverse of `render` (our escaped embeds, mention-prefixed messages)."""
from __future__ import annotations

import re

_ESCAPED = re.compile(r"\\([^\w\s])")


def unrender(text: str) -> str:
    """Undo our markdown escaping and mention neutralizing, to recover a question from an embed."""
    return _ESCAPED.sub(r"\1", text.replace("\u200b", "")).replace("**", "")


def strip_mention(content: str, bot_id: int) -> str:
    """A message's text without the bot's own mention (`<@id>` or the nickname form `<@!id>`)."""
    return re.sub(rf"<@!?{bot_id}>", " ", content or "").strip()
