"""Plain text and Markdown → (title, text, date, url); decoding and the line joining every format shares.

Plain text: the first short line is the title. Markdown: front matter and a leading heading give
the metadata. `join_paragraphs` / `join_wrapped` undo hard wrapping while keeping real line ends
(lists, headings, addresses), so a sentence is never cut at a line end.
"""
from __future__ import annotations

import re

from ..errors import LoadError
from .meta import normalise_date

_FRONT_MATTER = re.compile(r"\A---\s*\n(.*?)\n---\s*\n", re.S)
_MD_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.+?)\s*#*\s*$", re.M)



def decode_text(data: bytes, name: str) -> str:
    """Bytes → text: UTF-16 with a BOM, UTF-8, else cp1252; LoadError for binary or undecodable data."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise LoadError(f"{name}: cannot decode the UTF-16 text") from exc
    if b"\x00" in data[:8192]:
        raise LoadError(f"{name}: looks like a binary file, not text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    # Mixed encodings happen (a Latin-1 quote pasted into UTF-8): tolerate a few bad bytes,
    # refuse text that is mostly undecodable rather than index mojibake.
    text = data.decode("utf-8", errors="replace")
    bad = text.count("\ufffd")
    if bad > max(3, len(text) // 100):
        try:
            text = data.decode("cp1252")
        except UnicodeDecodeError as exc:
            raise LoadError(f"{name}: the text is not UTF-8 and could not be decoded") from exc
        if sum(1 for ch in text if ord(ch) < 32 and ch not in "\n\r\t\f") > len(text) // 100:
            raise LoadError(f"{name}: the text is not UTF-8 and could not be decoded")
    return text


def clean_text(text: str) -> str:
    """Normalise newlines and drop NULs/control characters; offsets are taken on the result."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = re.sub(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", "", text)
    return text.strip("\n")


def read_txt(data: bytes, name: str) -> tuple[str | None, str, str | None, str | None]:
    """Plain text: the first short line is the title when it looks like one."""
    text = decode_text(data, name)
    first = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
    title = first if 0 < len(first) <= 200 and not first.endswith((".", "?", "!", ":")) else None
    date = None
    if title:
        m = re.search(r"(\d\d?/\d\d?/(?:19|20)\d\d|(?:19|20)\d\d-\d\d-\d\d)", title)
        date = normalise_date(m.group(1)) if m else None
    return title, join_paragraphs(text), date, None


def read_markdown(data: bytes, name: str) -> tuple[str | None, str, str | None, str | None]:
    """Markdown: YAML-ish front matter (title, date, url) and the first heading give the metadata."""
    text = decode_text(data, name)
    meta: dict[str, str] = {}
    m = _FRONT_MATTER.match(text)
    if m:
        for line in m.group(1).splitlines():
            key, sep, value = line.partition(":")
            if sep:
                meta[key.strip().lower()] = value.strip().strip("'\"")
        # Blank out the front matter instead of cutting it, so the body keeps its own offsets
        # relative to a text that still reads naturally.
        text = text[m.end():]
    title = meta.get("title")
    h = _MD_HEADING.search(text)
    if h and not text[: h.start()].strip():
        # A leading heading is the title, not a sentence worth citing: keep it out of the text.
        title = title or h.group(1).strip()
        text = text[h.end():]
    elif not title:
        title = h.group(1).strip() if h else None
    url = meta.get("url") or meta.get("link") or meta.get("canonical_url")
    return title, join_paragraphs(text, markdown=True), normalise_date(meta.get("date") or meta.get("published")), url or None


TERMINAL = tuple(".!?:;\"”’)»")
_LIST_MARK = re.compile(r"^\s*(?:[-*•+]\s|\d{1,3}[.)]\s|#{1,6}\s|>|\|)")


_FENCE = re.compile(r"^\s*(```|~~~)")


def join_paragraphs(text: str, *, markdown: bool = False) -> str:
    """`join_wrapped` on every blank-line separated paragraph of a plain-text or Markdown file.

    Markdown code blocks (fenced or indented) and tables keep their lines as written.
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    out: list[str] = []
    in_fence = False
    for block in re.split(r"(\n[ \t]*\n)", text):
        if not block.strip() or block.strip("\n \t") == "":
            out.append(block)
            continue
        lines = block.split("\n")
        fences = sum(1 for ln in lines if _FENCE.match(ln))
        code = markdown and (in_fence or fences or all(ln.startswith(("    ", "\t")) for ln in lines if ln.strip())
                             or any(ln.lstrip().startswith("|") for ln in lines))
        if fences % 2:
            in_fence = not in_fence
        out.append(block if code else join_wrapped(block))
    return "".join(out)


def _line_list(lines: list[str]) -> bool:
    """Whether the lines are a list written line by line (tour dates, an address, a schedule):
    three or more, none starting in lower case and almost none ending on a lower-case word, where
    prose wrapped inside its sentences ends most lines on one ("the", "and", "would")."""
    ls = [ln.strip() for ln in lines if ln.strip()]
    if len(ls) < 3 or any(ln[0].islower() for ln in ls):
        return False
    ends = [ln.split()[-1] for ln in ls[:-1]]
    return sum(1 for w in ends if w[:1].islower()) <= len(ends) // 5


def join_wrapped(block: str) -> str:
    """Join the hard-wrapped lines of one paragraph; keep line ends that are real ones.

    A line end is real before a list item, heading, quote or table line, after a short line that
    ends a sentence (a line of an address, a poem, a one-line paragraph in single-newline text) and
    after a short line without end punctuation followed by a capital (a heading above text).
    Everything else is a wrap inside a sentence, and the lines are joined with a space.
    """
    lines = block.split("\n")
    if len(lines) < 2 or _line_list(lines):
        return block
    longest = max(len(ln.rstrip()) for ln in lines)
    out = [lines[0]]
    for line in lines[1:]:
        prev = out[-1].rstrip()
        nxt = line.strip()
        if not prev or not nxt or _LIST_MARK.match(line) or _LIST_MARK.match(prev.split("\n")[-1]):
            out.append(line)
            continue
        last = prev.split("\n")[-1]
        short = len(last) < 0.7 * longest or longest < 40
        if short and (last.endswith(TERMINAL) or (nxt[:1].isupper() and len(last.split()) <= 8)):
            out.append(line)
        else:
            out[-1] = prev + " " + nxt
    return "\n".join(out)
