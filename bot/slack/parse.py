"""Slack text → what was asked: the inverse of `render` (message and command text, button values).

Slack sends `&lt;` for `<`, `<@U123>` for mentions and `<https://x|x>` for links; a button carries the
question (and answer) as JSON made by `render.button_value`.
"""
from __future__ import annotations

import json
import re
from typing import Any

from index import Turn

from ..thread import ThreadTurn
from .render import ACTION_UP, FEEDBACK_BLOCK


def channel_of(channel: str | None) -> str | None:
    """The channel a question counts as asked in: None for DMs (D…), whose rules never change."""
    return channel if channel and not str(channel).startswith("D") else None


_ANGLE = re.compile(r"<([^<>]*)>")


def plain_question(text: str, bot_user_id: str | None = None) -> str:
    """A question as the user typed it, from Slack's escaped message/command text.

    Slack sends `&lt;` for `<`, `<@U123>` for mentions and `<https://x|x>` for links; the bot's own
    mention is dropped, other references become their readable label.
    """

    def label(m: re.Match[str]) -> str:
        inner = m.group(1)
        target, _, name = inner.partition("|")
        if target.startswith("@"):
            return "" if bot_user_id and target[1:] == bot_user_id else "@" + (name or target[1:])
        if target.startswith("#"):
            return "#" + (name or target[1:])
        if target.startswith("!"):  # <!channel>, <!subteam^S1|@team>, <!date^…|fallback>
            return name or "@" + target[1:].split("^")[0]
        return name or target

    text = _ANGLE.sub(label, text or "")
    text = text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    return " ".join(text.split())


def slack_link(text: str) -> str:
    """The URL of a command's text: Slack may send a link as <https://x|label> or <https://x>."""
    text = (text or "").strip()
    m = re.fullmatch(r"<([^|>]+)(?:\|[^>]*)?>", text)
    return m.group(1).strip() if m else text


def button_asker(value: str) -> str | None:
    """The asker named in a button's value (unasked answers only)."""
    try:
        data = json.loads(value or "{}")
    except ValueError:
        return None
    u = data.get("u") if isinstance(data, dict) else None
    return u if isinstance(u, str) and u else None


def parse_button_value(value: str) -> tuple[str, str | None]:
    """(question, answer) from a button made by `button_value`."""
    try:
        data = json.loads(value or "{}")
    except ValueError:
        return "", None
    if not isinstance(data, dict):
        return "", None
    q, a = data.get("q"), data.get("a")
    return (q if isinstance(q, str) else ""), (a if isinstance(a, str) and a else None)


def turn_of_message(message: dict[str, Any], bot_user_id: str | None = None) -> ThreadTurn | None:
    """The turn one of citebot's own answers carries (its 👍 button, see render.turn_value), or None
    for any other message: a person's, another bot's, or one of ours without an answer."""
    if not message.get("bot_id") or (bot_user_id and message.get("user") not in (None, bot_user_id)):
        return None
    for block in message.get("blocks") or ():
        if block.get("type") != "actions" or block.get("block_id") != FEEDBACK_BLOCK:
            continue
        for element in block.get("elements") or ():
            if element.get("action_id") != ACTION_UP:
                continue
            try:
                data = json.loads(element.get("value") or "{}")
                at = float(message.get("ts") or 0)
            except (TypeError, ValueError):
                return None
            q = data.get("r") or data.get("q") if isinstance(data, dict) else None
            if not isinstance(q, str) or not q:
                return None
            text = {k: v if isinstance(v, str) else None for k, v in data.items()}
            return ThreadTurn(at, Turn(question=q, answer=text.get("a"), title=text.get("t"), source=text.get("s")))
    return None
