"""Answer → Discord message parts (content + embed dicts). Pure: no discord import, no I/O.

Discord rejects a whole message when any limit is exceeded (content 2,000; embed title 256,
description 4,096, field name 256, field value 1,024, footer 2,048, 6,000 per message, 25 fields),
so every string is cut here, at word boundaries, and a cut is always shown with an ellipsis.
Quoted article text is markdown-escaped (the backslashes are invisible, the words stay exact) and
mentions are neutralized; the adapter also sends everything with `AllowedMentions.none()`.
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from index import DEFAULT_COLLECTION, Answer, Citation

from ..render.common import (
    CLOSEST_LABEL,
    ELLIPSIS,
    NO_ANSWER_SENTENCE,
    NOT_FOUND,
    READ_AS_LABEL,
    SEP,
    answer_with_highlights,
    citation_heading,
    date_label,
    display_source,
    neutralize_mentions,
    one_line,
    other_articles,
    passages_of,
    quoted_citation,
    read_as_text,
    snippet_parts,
)

if TYPE_CHECKING:  # the renderer only reads attributes; importing the store would load FAISS
    from index import SourceInfo

CONTENT_LIMIT = 2000
TITLE_LIMIT = 256
DESCRIPTION_LIMIT = 4096
FIELD_NAME_LIMIT = 256
FIELD_VALUE_LIMIT = 1024
FOOTER_LIMIT = 2048
TOTAL_LIMIT = 6000
MAX_FIELDS = 25

# Longest quoted snippet per citation; Discord shows long embeds collapsed and hard to read.
SNIPPET_CHARS = 700
COLOR = 0x5865F2
NO_MORE = "There are no further sources for this question."
PASSAGES_TITLE = "Passages"
# Compact replies: one line per other article, at most this many (the rest are counted).
OTHER_ARTICLES = 4
SOURCE_LINE_CHARS = 300
TRIMMED_NOTE = "… marks where a quote was shortened to fit Discord."
SOURCES_PAGE_SIZE = 10

# Markdown that could restyle or break out of a quote: emphasis, code, spoilers, links, escapes.
_INLINE = re.compile(r"([\\*_~`|\[\]()<>])")
# Line-leading syntax (headings, lists, quotes); our quotes are one line, so only the start counts.
_LEADING = re.compile(r"^(\s*)(?:(#{1,3}|-#?|\+)(?=\s)|(\d+)\.(?=\s))")
# Private-use sentinels for bold markers, so escaping the text never escapes our own `**`.
_B0, _B1 = "\ue000", "\ue001"


@dataclass(frozen=True)
class DiscordReply:
    """What to send: message content and embeds as Discord JSON dicts (`discord.Embed.from_dict`)."""

    content: str = ""
    embeds: list[dict[str, Any]] = field(default_factory=list)
    # True when the answer has further citations worth a "More sources" button.
    has_more: bool = False


def escape_markdown(text: str) -> str:
    """Backslash-escape Discord markdown; the rendered words are unchanged."""
    text = _INLINE.sub(r"\\\1", text)
    # A backslash before a letter or digit would show, so a list number gets its period escaped.
    return _LEADING.sub(lambda m: m.group(1) + ("\\" + m.group(2) if m.group(2) else m.group(3) + "\\."), text)


def safe_text(text: str) -> str:
    """One line of user or article text, safe to show: no pings, no markdown, whitespace collapsed."""
    return escape_markdown(neutralize_mentions(one_line(text)))


def truncate(text: str, limit: int) -> str:
    """`text` cut to `limit` characters at a word boundary, ending in … when cut."""
    if len(text) <= limit:
        return text
    cut = text.rfind(" ", 0, limit)
    if cut < limit // 2:
        cut = limit - 1
    head = text[:cut].rstrip()
    # Never leave a dangling escape backslash that would swallow the ellipsis.
    while head.endswith("\\") and (len(head) - len(head.rstrip("\\"))) % 2:
        head = head[:-1]
    return head + ELLIPSIS


def quote_answer(answer: Answer) -> str:
    """The answer sentence as a one-line block quote, highlighted words in bold."""
    marked = one_line(answer_with_highlights(answer, (_B0, _B1)))
    return "> " + safe_text(marked).replace(_B0, "**").replace(_B1, "**")


def quote_snippet(c: Citation, limit: int) -> tuple[str, bool]:
    """A citation's snippet as a block quote with its answer sentence in bold; (text, was_trimmed)."""
    sn = snippet_parts(c, limit)
    raw = sn.before + (_B0 + sn.answer + _B1 if sn.answer else "") + sn.after
    body = safe_text(raw).replace(_B0 + " ", " " + _B0).replace(" " + _B1, _B1 + " ")
    body = body.replace(_B0, "**").replace(_B1, "**")
    return "> " + (ELLIPSIS if sn.cut_start else "") + body + (ELLIPSIS if sn.cut_end else ""), sn.cut_start or sn.cut_end


def citation_block(c: Citation, snippet_chars: int) -> tuple[str, bool]:
    """`[n] Title (date)` (a link when the article has a URL), the source, then the quote."""
    heading = safe_text(citation_heading(c))
    if c.url and _is_http(c.url):
        head = f"**[{heading}]({_link(c.url)})**"
    else:
        head = f"**{heading}**\n`{_code(c.display_source)}`"
    quote, trimmed = quote_snippet(c, snippet_chars)
    return head + "\n" + quote, trimmed


def _is_http(url: str) -> bool:
    return url.startswith(("https://", "http://")) and not any(ch.isspace() for ch in url)


def _link(url: str) -> str:
    # A ')' would end the masked link early.
    return url.replace(")", "%29").replace("(", "%28")


def _code(text: str) -> str:
    return one_line(text).replace("`", "ˋ")[:300]


def render_citations(citations: Sequence[Citation], budget: int, *, snippet_chars: int = SNIPPET_CHARS) -> tuple[str, bool]:
    """Citations for an embed description within `budget` characters; (text, anything_trimmed)."""
    blocks: list[str] = []
    trimmed = False
    remaining = budget
    for i, c in enumerate(citations):
        share = remaining // (len(citations) - i) - 2
        limit = min(snippet_chars, max(share, 0))
        block, cut = citation_block(c, limit)
        while len(block) > share:
            # Escaping and the heading made it longer than its share: quote less, never overflow.
            limit = limit * share // len(block) - 10
            if limit < 40:
                block, cut = truncate(block, max(share, 1)), True
                break
            block, cut = citation_block(c, limit)
        blocks.append(block)
        trimmed = trimmed or cut
        remaining -= len(block) + 2
    return "\n\n".join(blocks), trimmed


def source_line(c: Citation, *, passages: int = 1) -> str:
    """One line naming an article: title (linked when it has a URL) · date · file name when no link."""
    title = truncate(safe_text(c.title), 200)
    parts = [f"[{title}]({_link(c.url)})" if c.url and _is_http(c.url) else f"**{title}**"]
    if date_label(c):
        parts.append(safe_text(date_label(c)[:80]))
    if not (c.url and _is_http(c.url)):
        parts.append(f"`{_code(display_source(c))[:100]}`")
    if passages > 1:
        parts.append(f"{passages} passages")
    return SEP.join(parts)


def render_answer(answer: Answer, *, question: str | None = None, snippet_chars: int = SNIPPET_CHARS) -> DiscordReply:
    """A found answer, compact: the quote (answer words bold), its source on one line, other articles one line each.

    The passages themselves sit behind the "Show passages" button (`render_passages`).
    """
    if not answer.found:
        return DiscordReply(content=render_not_found(answer))
    title = truncate(safe_text(question or answer.question), TITLE_LIMIT) if (question or answer.question) else None
    lines = [read_as_line(answer)] if answer.read_as else []
    lines.append(truncate(quote_answer(answer), DESCRIPTION_LIMIT // 2))
    first = quoted_citation(answer)
    if first is not None:
        same = sum(1 for c in answer.citations + answer.more if c.source == first.source)
        lines.append("— " + truncate(source_line(first, passages=same), SOURCE_LINE_CHARS))
    others = other_articles(answer)
    if others:
        lines.append("")
        lines += [truncate("• " + source_line(g[0], passages=len(g)), SOURCE_LINE_CHARS) for g in others[:OTHER_ARTICLES]]
        if len(others) > OTHER_ARTICLES:
            lines.append(f"… and {len(others) - OTHER_ARTICLES} more (Show passages)")
    embed: dict[str, Any] = {"type": "rich", "color": COLOR, "description": "\n".join(lines).strip()}
    if title:
        embed["title"] = title
    return DiscordReply(embeds=[_fit(embed)], has_more=bool(answer.citations or answer.more))


def read_as_line(answer: Answer) -> str:
    """How a follow-up was read, one italic line ("" when it was read alone); bot/discord/parse.py reads it back."""
    read = read_as_text(answer)
    return f"*{READ_AS_LABEL} {truncate(safe_text(read), 400)}*" if read else ""


def render_passages(answer: Answer, *, snippet_chars: int = SNIPPET_CHARS) -> DiscordReply:
    """Every cited passage, the quote's own first, quoted with the answer sentence in bold ("Show passages")."""
    cites = passages_of(answer)[:10] if answer.found else []
    if not cites:
        return DiscordReply(content=NO_MORE)
    text, trimmed = render_citations(cites, DESCRIPTION_LIMIT, snippet_chars=snippet_chars)
    embed: dict[str, Any] = {"type": "rich", "color": COLOR, "title": PASSAGES_TITLE, "description": text}
    if trimmed:
        embed["footer"] = {"text": TRIMMED_NOTE}
    return DiscordReply(embeds=[_fit(embed)])


def render_more(answer: Answer, *, snippet_chars: int = SNIPPET_CHARS) -> DiscordReply:
    """The further citations of an answer (for the "More sources" button)."""
    if not answer.found or not answer.more:
        return DiscordReply(content=NO_MORE)
    cites, trimmed = render_citations(answer.more[:10], DESCRIPTION_LIMIT, snippet_chars=snippet_chars)
    embed: dict[str, Any] = {"type": "rich", "color": COLOR, "title": "More sources", "description": cites}
    if trimmed:
        embed["footer"] = {"text": TRIMMED_NOTE}
    return DiscordReply(embeds=[_fit(embed)])


def render_not_found(answer: Answer) -> str:
    """'Not found', said plainly, with the closest articles when there are some."""
    head = read_as_line(answer) + "\n" if answer.read_as else ""
    if answer.closest:
        return truncate(head + render_closest(answer), CONTENT_LIMIT)
    text = NOT_FOUND
    if answer.nearest:
        text += "\nClosest articles: " + "; ".join(safe_text(t) for t in answer.nearest)
    return truncate(head + text, CONTENT_LIMIT)




def render_closest(answer: Answer, *, snippet_chars: int = 300) -> str:
    """Not found, but passages matched: the plain sentence, then up to 3 of them labelled as not
    an answer, as message content (links in <> so Discord shows no preview), within 2,000 characters."""
    parts = [NO_ANSWER_SENTENCE, f"**{CLOSEST_LABEL}**"]
    share = (CONTENT_LIMIT - 120) // max(1, len(answer.closest[:3]))
    for c in answer.closest[:3]:
        head = safe_text(citation_heading(c)) + (f" <{_link(c.url)}>" if c.url and _is_http(c.url) else "")
        quote, _ = quote_snippet(c, max(40, min(snippet_chars, share - len(head) - 10)))
        parts.append(truncate(head + "\n" + quote, share))
    return truncate("\n".join(parts), CONTENT_LIMIT)


def render_notice(text: str) -> str:
    """A plain reply (an error's reason, a notice) as safe message content."""
    return truncate(neutralize_mentions(text), CONTENT_LIMIT)


def sources_pages(rows: Sequence[SourceInfo], *, page_size: int = SOURCES_PAGE_SIZE) -> int:
    """How many pages `render_sources` has for these rows (at least 1)."""
    return max(1, -(-len(rows) // page_size))


def render_sources(rows: Sequence[SourceInfo], page: int, *, page_size: int = SOURCES_PAGE_SIZE) -> DiscordReply:
    """One page of what this server can be answered from, as an embed."""
    if not rows:
        return DiscordReply(content="No articles are indexed yet.")
    pages = sources_pages(rows, page_size=page_size)
    page = min(max(page, 0), pages - 1)
    lines = []
    for r in rows[page * page_size:(page + 1) * page_size]:
        name = safe_text(r.title + (f" ({date_label(r)})" if date_label(r) else ""))
        shown = f"[{name}]({_link(r.url)})" if r.url and _is_http(r.url) else name
        where = "" if r.collection == DEFAULT_COLLECTION else " · uploaded here"
        lines.append(truncate(f"• {shown}{where}\n  `{_code(r.source.rsplit('/', 1)[-1])}`", 380))
    embed = {
        "type": "rich", "color": COLOR, "title": f"Sources ({len(rows)})",
        "description": "\n".join(lines), "footer": {"text": f"Page {page + 1} of {pages}"},
    }
    return DiscordReply(embeds=[_fit(embed)])


def embed_length(embed: dict[str, Any]) -> int:
    """Characters Discord counts toward the 6,000 per-message total."""
    n = len(embed.get("title") or "") + len(embed.get("description") or "")
    n += len((embed.get("footer") or {}).get("text") or "") + len((embed.get("author") or {}).get("name") or "")
    for f in embed.get("fields") or ():
        n += len(f.get("name") or "") + len(f.get("value") or "")
    return n


def _fit(embed: dict[str, Any]) -> dict[str, Any]:
    """Enforce every per-embed limit as a last line of defence."""
    if "title" in embed:
        embed["title"] = truncate(embed["title"], TITLE_LIMIT)
    if "footer" in embed:
        embed["footer"]["text"] = truncate(embed["footer"]["text"], FOOTER_LIMIT)
    fields = (embed.get("fields") or [])[:MAX_FIELDS]
    for f in fields:
        f["name"] = truncate(f["name"], FIELD_NAME_LIMIT)
        f["value"] = truncate(f["value"], FIELD_VALUE_LIMIT)
    if fields:
        embed["fields"] = fields
    desc = truncate(embed.get("description") or "", DESCRIPTION_LIMIT)
    over = embed_length({**embed, "description": desc}) - TOTAL_LIMIT
    if over > 0:
        desc = truncate(desc, max(1, len(desc) - over))
    embed["description"] = desc
    return embed
