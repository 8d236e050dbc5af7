"""Article text → sentences and passages with character offsets; pure functions."""
from __future__ import annotations

import re
from collections.abc import Iterator
from enum import Enum

from ..types import Passage

# A sentence ends at . ! ? (plus closing quotes/brackets) followed by whitespace and a likely
# sentence start: a capital (Latin, Greek, Cyrillic), a digit, or a letter of a script without
# capitals (Hebrew, Arabic, Indic, Thai, Hangul, kana, CJK). A CJK full stop needs no space.
# Abbreviations that commonly end in a dot are not sentence ends.
_STARTS = "A-Z0-9À-ÖØ-ÞΆ-ΏΑ-ΩЀ-Я\u0590-\u06ff\u0900-\u0e7f\u1100-\u11ff\u3040-\u30ff\u3130-\u318f\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af"
_END = re.compile(r"[.!?…]+[\"'”’)\]]*(?=\s+[\"'“‘(\[«„「『]?[" + _STARTS + r"])|[。！？]+[」』）”’\"']*(?=\s*[^\s」』）”’\"'])")
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


# Short lines that are page furniture, not the article: newsletter and subscription boxes,
# share / cookie prompts, comment-section chrome, related-article headers. Only lines of a few
# words are judged, so a sentence of the article that mentions a newsletter is kept.
_FURNITURE = re.compile(
    r"newsletter|\bsubscri(be|ption)\b|^(sign|log) (up|in)\b|\bsign up (for|to|now|here)|register now|"
    r"\b(use|accept|allow|our|manage|about) cookies\b|\bcookie (policy|settings|preferences)|"
    r"^share (this|on|via|the)\b|^(tweet|email|print|whatsapp|facebook|twitter|linkedin|pinterest|share)\W*$|"
    r"follow us\b|^\d+\s+comments?\W*$|^(show|view|load|hide|post|add|leave|read|see)\s+(\w+\s+)?(comments?|a reply|replies)|"
    r"comments are closed|join the (conversation|discussion)|"
    r"^(related|more) (stories|articles|posts|content|coverage|reading|news)\b|^read (more|next|also)\b|^see also\b|"
    r"you (may|might) (also )?(like|enjoy)|^recommended( for you)?\W*$|^most (popular|read|viewed|shared)\b|"
    r"^trending( now)?\W*$|all rights reserved|^copyright\b|©|^advertisement\W*$|^sponsored\W*$|download (the|our) app",
    re.I,
)
_FURNITURE_WORDS = 12
# "By Jane Doe", "Von Max Muster", "Por João Silva": the byline above an article.
_BYLINE = re.compile(r"^(?i:by|von|por|par|door|di|av|af)\s+\W*[A-ZÀ-Þ]\w*(\s+[A-ZÀ-Þ][\w.'-]*|\s+(and|und|y|et|e|&)\s+[A-ZÀ-Þ][\w.'-]*|,)*\s*([,|/–—-].*)?$")
# "Published 10 June 2013", "Updated: Nov. 18, 2019 9:30 a.m. ET", "18/11/2019": a dateline.
_DATELINE = re.compile(
    r"^(\W*(published|updated|posted|last (updated|modified)|modified|created|date)\b.*\d|"
    r"[\W\d]*(\d{1,4}[./-]\d{1,2}[./-]\d{1,4})[\W\d:apmAPMUTCEST]*|"
    r"(mon|tue|wed|thu|fri|sat|sun)?\w*\W*(\d{1,2}\W+)?(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)\w*\.?\s+\d{1,2}(st|nd|rd|th)?,?\s+\d{4}\b.{0,20}|"
    r"\d{1,2}\s+(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)\w*\.?,?\s+\d{4}\b.{0,20})$",
    re.I,
)
# "Photo: Reuters", "(AP Photo/Jane Doe)", "Image credit: NASA", "Getty Images": a caption or credit.
_CAPTION = re.compile(
    r"^\W*(photo|image|picture|caption|credit|foto|bild|illustration)s?(\s+(credit|by|courtesy)\b[^:]{0,40})?\s*:|"
    r"(\((\w+ )?(photo|image|credit)[^)]*\)|getty images|shutterstock|/ ?(ap|afp|reuters))\W*$",
    re.I,
)
_HEADING = re.compile(r"^#{1,6}[ \t]+\S")
_LIST_ITEM = re.compile(r"^(?:[-*•+][ \t]+|\d{1,3}[.)][ \t]+)\S")


class Kind(str, Enum):
    """What a line of an article is; only BODY and LIST lines can be quoted as the answer."""

    BODY = "body"
    LIST = "list"
    HEADING = "heading"
    CAPTION = "caption"
    BYLINE = "byline"
    DATELINE = "dateline"
    FURNITURE = "furniture"


QUOTABLE = frozenset({Kind.BODY, Kind.LIST})


def line_kind(line: str) -> Kind:
    """The structural kind of one line (a paragraph's line) of article text."""
    s = line.strip()
    if _HEADING.match(s):
        return Kind.HEADING
    words = len(s.split())
    if is_boilerplate(s) or (words <= _FURNITURE_WORDS and _FURNITURE.search(s)):
        return Kind.FURNITURE
    if _LIST_ITEM.match(s):
        return Kind.LIST
    if words <= 12:
        if _BYLINE.match(s) and not s.rstrip().endswith((".", "!", "?")):
            return Kind.BYLINE
        if _DATELINE.match(s):
            return Kind.DATELINE
    if words <= 40 and _CAPTION.search(s):
        return Kind.CAPTION
    return Kind.BODY


def chunk(
    text: str,
    *,
    title: str | None = None,
    max_words: int = 140,
    max_sentences: int = 6,
    overlap: int = 1,
) -> list[Passage]:
    """Group whole sentences into passages of a few sentences, overlapping by `overlap` sentences.

    Passages never cross a paragraph boundary, so a citation stays inside one paragraph. Each line
    has a kind (`line_kind`): furniture, bylines, datelines, captions and a repeat of the title are
    left out; a heading is not a sentence of any passage (so it is never the quoted answer) but
    opens the first passage of its section, which it gives context; list items are sentences
    marked as such. `Passage.marks` records the headings and list items inside each passage.
    """
    units: list[tuple[list[tuple[int, int]], list[tuple[int, int, str]]]] = []
    norm_title = _norm(title) if title else None
    headings: list[tuple[int, int]] = []  # headings (a section's, then its subsection's) waiting for a passage
    adjacent = False  # whether the last line seen was a heading
    for ps, pe in paragraphs(text):
        sents: list[tuple[int, int]] = []
        marks: list[tuple[int, int, str]] = []
        for ls, le in _kind_lines(text, ps, pe):
            kind = line_kind(text[ls:le])
            if kind == Kind.HEADING:
                if norm_title is None or _norm(strip_marks(text[ls:le])) != norm_title:
                    # A deeper heading right under a section's heading is its subsection: both wait.
                    # Otherwise (same level: a list of other stories' titles; the page's <h1>;
                    # other lines between) only the newer heading does.
                    level = _level(text, ls)
                    keep = adjacent and headings and 1 < _level(text, headings[-1][0]) < level
                    headings = (headings[-1:] if keep else []) + [(ls, le)]
                    adjacent = True
                continue
            adjacent = False
            if kind not in QUOTABLE:
                continue
            for s, e in sentences(text, ls, le):
                if is_boilerplate(text[s:e]) or (norm_title is not None and _norm(text[s:e]) == norm_title):
                    continue
                sents.append((s, e))
            if kind == Kind.LIST:
                marks.append((ls, le, Kind.LIST))
        if sents:
            marks[:0] = [(hs, he, Kind.HEADING) for hs, he in headings]
            units.append((sents, marks))
            headings = []

    passages: list[Passage] = []
    for sents, marks in units:
        i = 0
        while i < len(sents):
            j = i
            words = 0
            while j < len(sents) and (j == i or (j - i < max_sentences and words + _words(text, sents[j]) <= max_words)):
                words += _words(text, sents[j])
                j += 1
            group = sents[i:j]
            start, end = group[0][0], group[-1][1]
            if i == 0 and marks and marks[0][2] == Kind.HEADING:
                start = marks[0][0]  # the section's heading opens its first passage
            inside = tuple(m for m in marks if start <= m[0] and m[1] <= end)
            passages.append(Passage(start=start, end=end, text=text[start:end], sentences=tuple(group), marks=inside))
            if j >= len(sents):
                break
            i = max(i + 1, j - overlap)
    return passages


def _kind_lines(text: str, start: int, end: int) -> Iterator[tuple[int, int]]:
    """The lines of a paragraph that `line_kind` judges one by one: every line that starts with
    a mark or ends a sentence-less line; wrapped lines stay together (see `_lines`)."""
    for ls, le in _lines(text, start, end):
        yield from _trim(text, ls, le)


def _level(text: str, start: int) -> int:
    """A "## " heading line's level (the number of #)."""
    return len(text[start:start + 7].lstrip()) - len(text[start:start + 7].lstrip().lstrip("#"))


def _words(text: str, span: tuple[int, int]) -> int:
    return len(text[span[0]:span[1]].split())


def _norm(s: str) -> str:
    return re.sub(r"\W+", " ", s).strip().lower()


# Structure marks the loaders put at the start of a line: "## " heading, "- " list item,
# "> " caption / quote-like furniture kept for context. They are not words of the article.
_MARK = re.compile(r"^[ \t]*(?:#{1,6}[ \t]+|[-*•][ \t]+|>[ \t]*)", re.M)


def strip_marks(text: str) -> str:
    """The text without its line-start structure marks (for measuring and display)."""
    return _MARK.sub("", text)
