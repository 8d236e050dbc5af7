"""Rendering helpers shared by every platform: snippet trimming that keeps quotes honest."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol

from index import Answer, Citation

NOT_FOUND = "I couldn't find that in the indexed articles."
# Passages matched but no sentence answers: said plainly, the passages shown as not an answer.
NO_ANSWER_SENTENCE = "I couldn't find a sentence that answers that."
CLOSEST_LABEL = "Closest passages (not an answer):"
ELLIPSIS = "…"
# A follow-up read with the conversation before it says how it was read, in one short line, so a
# wrong reading is seen at once (and the question can be asked again in full).
READ_AS_LABEL = "Reading this as:"
READ_AS_CHARS = 300

_MASS = re.compile(r"@(everyone|here)\b", re.I)
_USER = re.compile(r"<(@[!&]?\d+|#\d+)>")


def neutralize_mentions(text: str) -> str:
    """Break @everyone/@here and <@id> mentions with a zero-width space, so they never ping."""
    text = _MASS.sub("@\u200b\\1", text)
    return _USER.sub(lambda m: "<\u200b" + m.group(1) + ">", text)


def one_line(text: str) -> str:
    """Collapse whitespace (newlines inside a quote) to single spaces; the words stay the same."""
    return " ".join(text.split())


def read_as_text(answer: Answer) -> str | None:
    """The question as citebot read it (one line, at most READ_AS_CHARS), or None when read alone."""
    if not answer.read_as:
        return None
    text = one_line(answer.read_as)
    return text if len(text) <= READ_AS_CHARS else text[: READ_AS_CHARS - 1].rstrip() + ELLIPSIS


@dataclass(frozen=True)
class Snippet:
    """A citation's snippet cut into (before, answer, after), each an exact piece of the source.

    `cut_start` / `cut_end` say whether text was left out at either end (shown as …).
    """

    before: str
    answer: str
    after: str
    cut_start: bool = False
    cut_end: bool = False

    @property
    def length(self) -> int:
        """Characters of quoted text."""
        return len(self.before) + len(self.answer) + len(self.after)


def snippet_parts(c: Citation, limit: int | None = None) -> Snippet:
    """Split a citation's snippet around its answer sentence and trim it to `limit` characters.

    Trimming happens at word boundaries and is always marked with an ellipsis, so a reader never
    takes a shortened quote for the whole passage; the answer sentence is kept whole when it fits.
    """
    s = c.snippet
    if c.answer_start is not None and c.answer_end is not None:
        before, answer, after = s[: c.answer_start], s[c.answer_start: c.answer_end], s[c.answer_end:]
    else:
        before, answer, after = "", "", s
    snip = Snippet(before, answer, after)
    if limit is None or snip.length <= limit:
        return snip
    cut_start = cut_end = False
    budget = limit - len(answer)
    if budget < 0:  # even the answer sentence is too long: keep its start
        return Snippet("", _cut_end(answer, limit), "", cut_start=bool(before), cut_end=True)
    if len(after) > budget // 2 and len(before) + len(after) > budget:
        keep_after = max(budget // 2, budget - len(before))
        after, cut_end = _cut_end(after, keep_after), True
    if len(before) + len(after) > budget:
        before, cut_start = _cut_start(before, budget - len(after)), True
    return Snippet(before, answer, after, cut_start=cut_start, cut_end=cut_end)


def _cut_end(text: str, n: int) -> str:
    if len(text) <= n:
        return text
    if n <= 0:
        return ""
    cut = text.rfind(" ", 0, n + 1)
    return text[: cut if cut > 0 else n].rstrip()


def _cut_start(text: str, n: int) -> str:
    if len(text) <= n:
        return text
    if n <= 0:
        return ""
    cut = text.find(" ", len(text) - n - 1)
    return text[cut + 1 if cut >= 0 else len(text) - n:].lstrip()


class _Dated(Protocol):
    """A citation or a source row (both frozen: read-only attributes)."""

    @property
    def date(self) -> str | None: ...
    @property
    def updated(self) -> str | None: ...
    @property
    def date_estimated(self) -> bool: ...


def date_label(x: _Dated) -> str:
    """How a citation or source shows its date: `2024-03-04`, `2024-03-04, updated 2024-05-01`,
    `2023, estimated` (a stand-in from outside the article), `updated 2024-05-01` (no date stated)."""
    label = (x.date or "") + (", estimated" if x.date and x.date_estimated else "")
    if x.updated:
        label += (", " if label else "") + f"updated {x.updated}"
    return label


def citation_heading(c: Citation) -> str:
    """`[n] Title (date)`."""
    label = date_label(c)
    return f"[{c.n}] {c.title}" + (f" ({label})" if label else "")


def answer_with_highlights(answer: Answer, bold: tuple[str, str]) -> str:
    """The answer sentence with the highlighted words wrapped in `bold` markers; the words stay exact."""
    text = answer.answer or ""
    out, pos = [], 0
    for s, e in sorted(answer.highlights):
        if s < pos or e > len(text) or s >= e:
            continue
        out += [text[pos:s], bold[0], text[s:e], bold[1]]
        pos = e
    out.append(text[pos:])
    return "".join(out)


# --- compact replies: the quote, its source on one line, other sources one line per article -------

SEP = " · "


def display_source(c: Citation) -> str:
    """A citation's source as a reader may see it: its URL, else the file name, never a server path."""
    return c.display_source


def quoted_citation(answer: Answer) -> Citation | None:
    """The citation whose passage holds the quoted answer sentence (else the first one)."""
    cites = answer.citations + answer.more
    return next((c for c in cites if c.answer_start is not None), cites[0] if cites else None)


def other_articles(answer: Answer) -> list[list[Citation]]:
    """The other cited articles, one group per article in citation order (the quote's article left out)."""
    first = quoted_citation(answer)
    groups: dict[str, list[Citation]] = {}
    for c in answer.citations + answer.more:
        if first is not None and c.source == first.source:
            continue
        groups.setdefault(c.source, []).append(c)
    return list(groups.values())


def passages_of(answer: Answer) -> list[Citation]:
    """Every cited passage, the quote's own first: what "Show passages" lists."""
    first = quoted_citation(answer)
    rest = [c for c in answer.citations + answer.more if c is not first]
    return ([first] if first is not None else []) + rest
