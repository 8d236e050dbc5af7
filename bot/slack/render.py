"""Answer → Slack Block Kit blocks plus fallback text. Pure functions: escaped, length-limited, never pinging.

Slack parses `<…>` in mrkdwn as links and mentions (`<!channel>`, `<@U123>`, `<https://x|y>`), so every
piece of user or article text goes through `escape` (`&`, `<`, `>` → entities, as Slack's own
formatting guide asks). Text objects are sent with `verbatim: true` so Slack does not auto-link bare
URLs or `#channel` names inside quotes, and `@here`-style words get a zero-width space for good measure.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlsplit

from index import Answer, Citation

from ..render.common import (
    CLOSEST_LABEL,
    ELLIPSIS,
    NO_ANSWER_SENTENCE,
    NOT_FOUND,
    READ_AS_LABEL,
    SEP,
    answer_with_highlights,
    date_label,
    display_source,
    one_line,
    other_articles,
    passages_of,
    quoted_citation,
    read_as_text,
    snippet_parts,
)
from ..thread import TURN_CHARS, turn_for_chat

# Block Kit limits (https://api.slack.com/reference/block-kit/blocks).
SECTION_TEXT_LIMIT = 3000
CONTEXT_TEXT_LIMIT = 2000
MAX_BLOCKS = 50
BUTTON_VALUE_LIMIT = 2000
FALLBACK_LIMIT = 3000
SNIPPET_CHARS = 600
# Compact replies: one line per other article, at most this many (the rest are counted).
OTHER_ARTICLES = 4

ACTION_MORE = "citebot_more_sources"
ACTION_UP = "citebot_vote_up"
ACTION_DOWN = "citebot_vote_down"
FEEDBACK_BLOCK = "citebot_feedback"

Block = dict[str, Any]

_MASS = re.compile(r"@(channel|here|everyone)\b", re.I)


@dataclass(frozen=True)
class SlackMessage:
    """What is posted: Block Kit blocks and the plain `text` Slack shows in notifications."""

    text: str
    blocks: list[Block]

    def to_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for `chat.postMessage` / `respond()`."""
        return {"text": self.text, "blocks": self.blocks}


def escape(text: str) -> str:
    """Text safe inside mrkdwn: `&<>` become entities and `@here`-like words cannot notify anyone."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MASS.sub("@\u200b\\1", text)


def mrkdwn(text: str) -> dict[str, Any]:
    """A mrkdwn text object that Slack will not auto-link or parse further."""
    return {"type": "mrkdwn", "text": text, "verbatim": True}


def _cut(text: str, n: int) -> str:
    """`text` shortened to at most `n` characters at a word boundary, marked with an ellipsis."""
    if len(text) <= n:
        return text
    cut = text.rfind(" ", 0, max(0, n - 1))
    return text[: cut if cut > 0 else max(0, n - 1)].rstrip() + ELLIPSIS


def _fit_escaped(text: str, n: int) -> str:
    """`escape(text)` in at most `n` characters; the plain text is trimmed, so no entity is split."""
    out = escape(text)
    while len(out) > n and text:
        keep = len(text) - (len(out) - n) - 1
        text = _cut(text, keep) if keep > 1 else ""
        out = escape(text)
    return out


def linkable(url: str | None) -> bool:
    """Only http(s) URLs of sane length become links (never `javascript:` or `file:`)."""
    try:
        return bool(url) and len(url) <= 1500 and urlsplit(url).scheme.lower() in ("http", "https")  # type: ignore[arg-type]
    except ValueError:
        return False


def link(url: str | None, label: str) -> str:
    """`<url|label>` for http(s) URLs; anything else is shown as escaped text, never as a link."""
    label = _fit_escaped(one_line(label), 300)
    if url is None or not linkable(url):
        return label
    safe = url.replace("&", "&amp;").replace("<", "%3C").replace(">", "%3E").replace("|", "%7C")
    safe = "".join(ch for ch in safe if not ch.isspace())
    return f"<{safe}|{label}>"


def citation_text(c: Citation, *, snippet_chars: int = SNIPPET_CHARS) -> str:
    """One citation: `*[n]* <url|Title> (date)` and the snippet as a `>` quote, answer sentence in bold."""
    heading = f"*[{c.n}]* {link(c.url, c.title)}"
    if date_label(c):
        heading += f" ({escape(date_label(c)[:80])})"
    if not linkable(c.url):
        # Only the file name: a server path means nothing to a reader and needn't be shown.
        heading += f"\n_{_fit_escaped(c.display_source, 300)}_"
    limit = snippet_chars
    while True:
        sn = snippet_parts(c, limit)
        answer = escape(one_line(sn.answer))
        quote = (
            (ELLIPSIS if sn.cut_start else "")
            + escape(one_line(sn.before))
            + (" " if sn.before and sn.answer else "")
            + (f"*{answer}*" if answer else "")
            + (" " if sn.after and sn.answer else "")
            + escape(one_line(sn.after))
            + (ELLIPSIS if sn.cut_end else "")
        )
        text = f"{heading}\n>{quote.strip()}"
        if len(text) <= SECTION_TEXT_LIMIT or limit <= 20:
            return text[:SECTION_TEXT_LIMIT]
        limit = limit * 3 // 4


def answer_text(answer: Answer) -> str:
    """The answer sentence as a `>` quote, the words that answer the question in bold."""
    text = answer.answer or ""
    spans = []
    for s, e in answer.highlights:
        # Slack only bolds `*x*` when the stars hug the words: keep spaces outside the span.
        while s < e and text[s:s + 1].isspace():
            s += 1
        while e > s and text[e - 1:e].isspace():
            e -= 1
        if s < e:
            spans.append((s, e))
    ans = replace(answer, answer=text, highlights=tuple(spans))
    while len(escape(answer_with_highlights(ans, ("*", "*")))) > SECTION_TEXT_LIMIT - 10 and ans.answer:
        shorter = _cut(ans.answer, len(ans.answer) * 3 // 4)
        kept = len(shorter) - len(ELLIPSIS)
        ans = replace(ans, answer=shorter, highlights=tuple((s, e) for s, e in ans.highlights if e <= kept))
    return ">" + escape(one_line(answer_with_highlights(ans, ("*", "*"))))


def button_value(question: str, answer: str | None = None, asker: str | None = None) -> str:
    """A button's `value` carrying the question (and answer) so any replica can handle the click.

    Under an unasked answer it also names the asker (`u`), whose 👎 removes the answer.
    """
    q = question[:1500]
    a = answer or ""
    extra = {"u": asker[:40]} if asker else {}
    while True:
        value = json.dumps(({"q": q, "a": a} if a else {"q": q}) | extra, ensure_ascii=False)
        if len(value) <= BUTTON_VALUE_LIMIT:
            return value
        if a:
            a = _cut(a, max(0, len(a) - (len(value) - BUTTON_VALUE_LIMIT) - 2)) if len(a) > 10 else ""
        else:
            q = q[: len(q) - (len(value) - BUTTON_VALUE_LIMIT) - 1]


def turn_value(answer: Answer, question: str) -> str:
    """The 👍 button's value: the vote's question and answer, plus what the next question in the
    thread needs (bot/thread.py): the question as read (`r`), the quoted article's title (`t`) and
    its URL or file name (`s`, never a server path). Any replica reads it back from the thread."""
    turn = turn_for_chat(answer)
    extra = {k: v for k, v in (("r", answer.read_as), ("t", turn.title), ("s", turn.source)) if v}
    base = json.loads(button_value(question, (answer.answer or "")[:TURN_CHARS] or None))
    value = json.dumps(base | extra, ensure_ascii=False)
    return value if len(value) <= BUTTON_VALUE_LIMIT else button_value(question, answer.answer)


def _buttons(answer: Answer, question: str, asker: str | None = None) -> Block:
    elements: list[Block] = []
    if answer.citations or answer.more:
        elements.append({"type": "button", "action_id": ACTION_MORE, "value": button_value(question),
                         "text": {"type": "plain_text", "text": "Show passages"}})
    vote = turn_value(answer, question)
    elements.append({"type": "button", "action_id": ACTION_UP, "value": vote,
                     "text": {"type": "plain_text", "text": "👍", "emoji": True}})
    elements.append({"type": "button", "action_id": ACTION_DOWN, "value": button_value(question, answer.answer, asker),
                     "text": {"type": "plain_text", "text": "👎", "emoji": True}})
    return {"type": "actions", "block_id": FEEDBACK_BLOCK, "elements": elements}


def source_line(c: Citation, *, passages: int = 1) -> str:
    """One line naming an article: <url|Title> · date (· file name when it has no link) (· n passages)."""
    parts = [link(c.url, c.title) if linkable(c.url) else f"*{_fit_escaped(one_line(c.title), 300)}*"]
    if date_label(c):
        parts.append(escape(date_label(c)[:80]))
    if not linkable(c.url):
        parts.append(f"_{_fit_escaped(display_source(c), 200)}_")
    if passages > 1:
        parts.append(f"{passages} passages")
    return SEP.join(parts)


def render_answer(answer: Answer, *, question: str | None = None, show_question: bool = False,
                  snippet_chars: int = SNIPPET_CHARS, asker: str | None = None) -> SlackMessage:
    """A found answer, compact: (the question,) the quote, its source on one line, other articles one line each.

    The passages sit behind "Show passages" (`render_passages`); `asker` marks an unasked answer.
    """
    if not answer.found:
        return render_not_found(answer)
    question = question if question is not None else answer.question
    blocks: list[Block] = []
    if show_question:
        blocks.append({"type": "context", "elements": [mrkdwn("*Q:* " + _fit_escaped(one_line(question), CONTEXT_TEXT_LIMIT - 10))]})
    read = read_as_text(answer)
    if read:
        blocks.append({"type": "context", "elements": [mrkdwn(f"_{READ_AS_LABEL} {_fit_escaped(read, CONTEXT_TEXT_LIMIT - 30)}_")]})
    blocks.append({"type": "section", "text": mrkdwn(answer_text(answer))})
    lines = []
    first = quoted_citation(answer)
    if first is not None:
        same = sum(1 for c in answer.citations + answer.more if c.source == first.source)
        lines.append("— " + source_line(first, passages=same))
    others = other_articles(answer)
    lines += ["• " + source_line(g[0], passages=len(g)) for g in others[:OTHER_ARTICLES]]
    if len(others) > OTHER_ARTICLES:
        lines.append(f"… and {len(others) - OTHER_ARTICLES} more (Show passages)")
    if lines:
        text = "\n".join(lines)
        while len(text) > CONTEXT_TEXT_LIMIT and len(lines) > 1:
            lines.pop()
            text = "\n".join(lines)
        blocks.append({"type": "context", "elements": [mrkdwn(text[:CONTEXT_TEXT_LIMIT])]})
    blocks.append(_buttons(answer, question, asker))
    return SlackMessage(text=fallback_text(answer), blocks=blocks)


def render_passages(answer: Answer, *, snippet_chars: int = SNIPPET_CHARS) -> SlackMessage:
    """Every cited passage, the quote's own first, with the answer sentence in bold ("Show passages")."""
    cites = passages_of(answer) if answer.found else []
    if not cites:
        return render_notice("I have no passages to show for that question.")
    blocks: list[Block] = [{"type": "context", "elements": [mrkdwn("Passages for: " + _fit_escaped(one_line(answer.question), 1500))]}]
    for c in cites[: MAX_BLOCKS - 1]:
        blocks.append({"type": "section", "text": mrkdwn(citation_text(c, snippet_chars=snippet_chars))})
    text = "; ".join(f"[{c.n}] {one_line(c.title)}" for c in cites)
    return SlackMessage(text=_fit_escaped(text, FALLBACK_LIMIT), blocks=blocks)


def render_more(answer: Answer, *, snippet_chars: int = SNIPPET_CHARS) -> SlackMessage:
    """The citations beyond the first page, for the "More sources" button."""
    if not answer.found or not answer.more:
        return render_notice("I have no further sources for that question.")
    blocks: list[Block] = [{"type": "context", "elements": [mrkdwn("More sources for: " + _fit_escaped(one_line(answer.question), 1500))]}]
    for c in answer.more[: MAX_BLOCKS - 1]:
        blocks.append({"type": "section", "text": mrkdwn(citation_text(c, snippet_chars=snippet_chars))})
    text = "; ".join(f"[{c.n}] {one_line(c.title)}" for c in answer.more)
    return SlackMessage(text=_fit_escaped(text, FALLBACK_LIMIT), blocks=blocks)


def render_not_found(answer: Answer) -> SlackMessage:
    """'Not found', said plainly, with the nearest articles when there are some (and how a follow-up was read)."""
    if answer.closest:
        msg = render_closest(answer)
    else:
        text = NOT_FOUND
        if answer.nearest:
            text += " Closest articles: " + "; ".join(one_line(t) for t in answer.nearest)
        msg = render_notice(text)
    read = read_as_text(answer)
    if read:
        line = {"type": "context", "elements": [mrkdwn(f"_{READ_AS_LABEL} {_fit_escaped(read, CONTEXT_TEXT_LIMIT - 30)}_")]}
        msg = SlackMessage(text=msg.text, blocks=[line, *msg.blocks])
    return msg




def render_closest(answer: Answer, *, snippet_chars: int = 300) -> SlackMessage:
    """Not found, but passages matched: the plain sentence, then up to 3 of them labelled as not an answer."""
    blocks: list[Block] = [{"type": "section", "text": mrkdwn(escape(NO_ANSWER_SENTENCE))},
                           {"type": "context", "elements": [mrkdwn(CLOSEST_LABEL)]}]
    blocks += [{"type": "section", "text": mrkdwn(citation_text(c, snippet_chars=snippet_chars))} for c in answer.closest[:3]]
    return SlackMessage(text=escape(NO_ANSWER_SENTENCE), blocks=blocks)


def render_notice(text: str) -> SlackMessage:
    """A short message (an error's reason, an apology, a thank-you) as one escaped section."""
    body = _fit_escaped(text, SECTION_TEXT_LIMIT)
    return SlackMessage(text=body, blocks=[{"type": "section", "text": mrkdwn(body)}])


def fallback_text(answer: Answer) -> str:
    """The notification / screen-reader text: the answer sentence and the cited titles."""
    if not answer.found:
        return escape(NOT_FOUND)
    titles = "; ".join(dict.fromkeys(f"{one_line(c.title)}" for c in answer.citations))
    return _fit_escaped(f"{one_line(answer.answer or '')} (sources: {titles})", FALLBACK_LIMIT)
