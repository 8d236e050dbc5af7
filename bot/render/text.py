"""Plain-text rendering for the terminal shell and `citebot ask`."""
from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TextIO

from index import Answer, Citation

from .common import (
    CLOSEST_LABEL,
    ELLIPSIS,
    NO_ANSWER_SENTENCE,
    NOT_FOUND,
    READ_AS_LABEL,
    answer_with_highlights,
    citation_heading,
    one_line,
    read_as_text,
    snippet_parts,
)


@dataclass(frozen=True)
class TextStyle:
    """How a terminal shows emphasis: ANSI bold and hyperlinks, colours, or plain `**` marks."""

    ansi: bool = False  # bold as bold, links clickable (OSC 8)
    colors: bool = False  # headings and links coloured

    @property
    def bold(self) -> tuple[str, str]:
        """Markers around a highlighted word."""
        return ("\033[1m", "\033[22m") if self.ansi else ("**", "**")

    def heading(self, text: str) -> str:
        """A citation's `[n] Title (date)` line."""
        if not self.ansi:
            return text
        return f"\033[1;36m{text}\033[0m" if self.colors else f"\033[1m{text}\033[22m"

    def link(self, target: str) -> str:
        """A URL the terminal can open on click (OSC 8); file sources stay plain text."""
        if not self.ansi or not target.startswith(("http://", "https://")):
            return target
        shown = f"\033[4;34m{target}\033[0m" if self.colors else target
        return f"\033]8;;{target}\033\\{shown}\033]8;;\033\\"


PLAIN = TextStyle()


def terminal_style(stream: TextIO, environ: Mapping[str, str] | None = None) -> TextStyle:
    """The style for a stream: plain when it is not a terminal (pipes, files) or TERM=dumb;
    ANSI without colours when NO_COLOR is set (https://no-color.org); else ANSI with colours."""
    env = os.environ if environ is None else environ
    try:
        tty = stream.isatty()
    except (AttributeError, ValueError):
        tty = False
    if not tty or env.get("TERM") == "dumb":
        return PLAIN
    return TextStyle(ansi=True, colors=not env.get("NO_COLOR"))


def render_text(answer: Answer, *, snippet_chars: int = 600, color: bool = False,
                style: TextStyle | None = None) -> str:
    """The answer as a person reads it in chat: the quote, then numbered citations.

    `style` (see `terminal_style`) wins over `color`, which means ANSI with colours.
    """
    style = style or (TextStyle(ansi=True, colors=True) if color else PLAIN)
    read = read_as_text(answer)
    head = f"({READ_AS_LABEL} {read})\n" if read else ""
    if not answer.found and answer.closest:
        return head + render_closest(answer, snippet_chars=min(snippet_chars, 300), style=style)
    if not answer.found:
        lines = [NOT_FOUND]
        if answer.nearest:
            lines.append("Closest articles: " + "; ".join(answer.nearest))
        return head + "\n".join(lines)
    lines = [f"> {one_line(answer_with_highlights(answer, style.bold))}", ""]
    for c in answer.citations:
        lines.extend(render_citation(c, snippet_chars=snippet_chars, style=style))
    return head + "\n".join(lines).rstrip()


def render_citation(c: Citation, *, snippet_chars: int = 600, style: TextStyle = PLAIN) -> list[str]:
    """One citation: heading, link or source, and the snippet with the answer sentence in «»."""
    sn = snippet_parts(c, snippet_chars)
    quote = one_line(
        (ELLIPSIS if sn.cut_start else "")
        + sn.before
        + (f"«{sn.answer}»" if sn.answer else "")
        + sn.after
        + (ELLIPSIS if sn.cut_end else "")
    )
    return [style.heading(citation_heading(c)), f"    {style.link(c.url or c.source)}", f"    \"{quote}\"", ""]




def render_closest(answer: Answer, *, snippet_chars: int = 300, style: TextStyle = PLAIN) -> str:
    """Not found, but passages matched: say so plainly, then up to 3 of them, labelled as not an answer."""
    lines = [NO_ANSWER_SENTENCE, "", CLOSEST_LABEL, ""]
    for c in answer.closest[:3]:
        lines.extend(render_citation(c, snippet_chars=snippet_chars, style=style))
    return "\n".join(lines).rstrip()
