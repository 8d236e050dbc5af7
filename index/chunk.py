"""Article text → sentences and passages with character offsets; pure functions."""
from __future__ import annotations

import re
from collections.abc import Iterator

from .types import Passage

# A sentence ends at . ! ? (plus closing quotes/brackets) followed by whitespace and a likely
# sentence start. Abbreviations that commonly end in a dot are not sentence ends.
_END = re.compile(r"[.!?…]+[\"'”’)\]]*(?=\s+[\"'“‘(\[]?[A-Z0-9À-ÖØ-Þ])")
_ABBREV = {
    "mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "vs", "etc", "inc", "ltd", "co", "corp",
    "u.s", "u.k", "e.g", "i.e", "no", "fig", "jan", "feb", "mar", "apr", "jun", "jul", "aug",
    "sep", "sept", "oct", "nov", "dec", "gen", "gov", "sen", "rep", "rev", "col", "lt", "mt",
    "a.m", "p.m", "approx", "dept", "est", "vol",
    # "FCC v. Pacifica", "c. 1500", "et al.", "cf.", "pp. 3": rarely the last word of a sentence.
    "v", "c", "ca", "cf", "al", "viz", "pp", "nos", "ft", "bros", "ave", "blvd",
}
# "J.I. Pontanus": initials written together, unless a word that starts sentences follows
# ("... the series S.W.A.T. That same year").
_INITIALS = re.compile(r"(?:[A-Z]\.)+[A-Z]")
_STARTERS = frozenset(
    "the that this these those it its in on at a an he she his her they their we there then "
    "after before however but and when as by for from".split()
)
# "(Ps. 31:5)", "Ch. 3", "Art. 5": a short capitalised word before a number is a reference.
_REFERENCE = re.compile(r"[A-Z][a-z]{0,2}")
_PARA = re.compile(r"\n[ \t]*\n\s*")

# Lines that are never worth citing: ad markers, "Source link", share/subscribe chrome.
_BOILERPLATE = re.compile(
    r"^\s*(\[ad_\d+\]|source\s+link|read more|advertisement|share (this|on).*|subscribe.*|"
    r"click here.*|related( articles| posts)?:?|sign up.*|follow us.*|\W*)\s*$",
    re.I,
)


def is_boilerplate(line: str) -> bool:
    """Whether a line is site chrome rather than article content."""
    return bool(_BOILERPLATE.match(line))


def paragraphs(text: str) -> Iterator[tuple[int, int]]:
    """(start, end) of each non-empty paragraph (blank-line separated), whitespace trimmed."""
    pos = 0
    for m in _PARA.finditer(text):
        yield from _trim(text, pos, m.start())
        pos = m.end()
    yield from _trim(text, pos, len(text))


def _trim(text: str, start: int, end: int) -> Iterator[tuple[int, int]]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if end > start:
        yield start, end


def sentences(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """Split text[start:end] into sentences; returns (start, end) offsets into `text`."""
    end = len(text) if end is None else end
    out: list[tuple[int, int]] = []
    for ls, le in _lines(text, start, end):
        s = ls
        for m in _END.finditer(text, ls, le):
            word = re.search(r"([\w.]+)[.!?…]*[\"'”’)\]]*$", text[s:m.end()])
            raw = word.group(1).rstrip(".") if word else ""
            token = raw.lower()
            if token in _ABBREV:
                continue
            if len(token) == 1 and text[m.start() - 1].isupper():  # an initial, e.g. "John F. Kennedy"
                continue
            after = text[m.end():m.end() + 40].split(maxsplit=1)
            nxt = after[0] if after else ""
            if _INITIALS.fullmatch(raw) and nxt.lower() not in _STARTERS:
                continue
            if _REFERENCE.fullmatch(raw) and nxt[:1].isdigit():
                continue
            out.extend(_trim(text, s, m.end()))
            s = m.end()
        out.extend(_trim(text, s, le))
    return _split_long(text, out)


def _lines(text: str, start: int, end: int) -> Iterator[tuple[int, int]]:
    """Break a paragraph at newlines that end a heading or list item, not at wrapped lines."""
    s = start
    i = text.find("\n", start, end)
    while i != -1:
        prev = text[s:i].rstrip()
        nxt = text[i + 1:end].lstrip()[:1]
        if prev and (prev[-1] in ".!?:;\"”’" or len(prev) < 80 or not nxt or not nxt.islower()):
            yield s, i
            s = i + 1
        i = text.find("\n", i + 1, end)
    yield s, end


_MAX_SENTENCE = 1000


def _split_long(text: str, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """A 'sentence' without punctuation can be megabytes long: cut it at word boundaries."""
    out: list[tuple[int, int]] = []
    for s, e in spans:
        while e - s > _MAX_SENTENCE:
            cut = text.rfind(" ", s + _MAX_SENTENCE // 2, s + _MAX_SENTENCE)
            cut = cut if cut > s else s + _MAX_SENTENCE
            out.extend(_trim(text, s, cut))
            s = cut
        out.extend(_trim(text, s, e))
    return out


def chunk(
    text: str,
    *,
    title: str | None = None,
    max_words: int = 140,
    max_sentences: int = 6,
    overlap: int = 1,
) -> list[Passage]:
    """Group whole sentences into passages of a few sentences, overlapping by `overlap` sentences.

    Passages never cross a paragraph boundary, so a citation stays inside one paragraph; very
    short paragraphs are merged with the next one of the same block. Boilerplate lines and a
    repeat of the title are left out.
    """
    units: list[list[tuple[int, int]]] = []
    norm_title = _norm(title) if title else None
    for ps, pe in paragraphs(text):
        sents = [
            (s, e)
            for s, e in sentences(text, ps, pe)
            if not is_boilerplate(text[s:e]) and (norm_title is None or _norm(text[s:e]) != norm_title)
        ]
        if sents:
            units.append(sents)

    passages: list[Passage] = []
    for sents in units:
        i = 0
        while i < len(sents):
            j = i
            words = 0
            while j < len(sents) and (j == i or (j - i < max_sentences and words + _words(text, sents[j]) <= max_words)):
                words += _words(text, sents[j])
                j += 1
            group = sents[i:j]
            passages.append(Passage(start=group[0][0], end=group[-1][1], text=text[group[0][0]:group[-1][1]], sentences=tuple(group)))
            if j >= len(sents):
                break
            i = max(i + 1, j - overlap)
    return passages


def _words(text: str, span: tuple[int, int]) -> int:
    return len(text[span[0]:span[1]].split())


def _norm(s: str) -> str:
    return re.sub(r"\W+", " ", s).strip().lower()
