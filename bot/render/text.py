"""Plain-text rendering for the terminal shell and `citebot ask`."""
from __future__ import annotations

from index.types import Answer, Citation

from .common import ELLIPSIS, NOT_FOUND, answer_with_highlights, citation_heading, one_line, snippet_parts


def render_text(answer: Answer, *, snippet_chars: int = 600, color: bool = False) -> str:
    """The answer as a person reads it in chat: the quote, then numbered citations."""
    if not answer.found and answer.closest:
        return render_closest(answer, snippet_chars=min(snippet_chars, 300))
    if not answer.found:
        lines = [NOT_FOUND]
        if answer.nearest:
            lines.append("Closest articles: " + "; ".join(answer.nearest))
        return "\n".join(lines)
    bold = ("\033[1m", "\033[0m") if color else ("**", "**")
    lines = [f"> {one_line(answer_with_highlights(answer, bold))}", ""]
    for c in answer.citations:
        lines.extend(render_citation(c, snippet_chars=snippet_chars))
    return "\n".join(lines).rstrip()


def render_citation(c: Citation, *, snippet_chars: int = 600) -> list[str]:
    """One citation: heading, link or source, and the snippet with the answer sentence in «»."""
    sn = snippet_parts(c, snippet_chars)
    quote = one_line(
        (ELLIPSIS if sn.cut_start else "")
        + sn.before
        + (f"«{sn.answer}»" if sn.answer else "")
        + sn.after
        + (ELLIPSIS if sn.cut_end else "")
    )
    return [citation_heading(c), f"    {c.url or c.source}", f"    \"{quote}\"", ""]


NO_ANSWER_SENTENCE = "I couldn't find a sentence that answers that."
CLOSEST_LABEL = "Closest passages (not an answer):"


def render_closest(answer: Answer, *, snippet_chars: int = 300) -> str:
    """Not found, but passages matched: say so plainly, then up to 3 of them, labelled as not an answer."""
    lines = [NO_ANSWER_SENTENCE, "", CLOSEST_LABEL, ""]
    for c in answer.closest[:3]:
        lines.extend(render_citation(c, snippet_chars=snippet_chars))
    return "\n".join(lines).rstrip()
