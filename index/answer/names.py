"""Names in a text, found by their capitals (and digits: "01.AI"): what a follow-up's pronoun can stand for.

No tagger: a run of capitalised words is a name, less the sentence's opening word when it is a
common one, a news dateline, a title before a person ("Gov. Kristi Noem" names Kristi Noem) and
what a page's markup glued on ("Kristi NoemKristi Lynn Noem…"). Used by index/answer/followup.py.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from ..words import STOPWORDS

WORD = re.compile(r"[\w][\w.'’&\-]*[\w]|[\w]")
_YEAR = re.compile(r"\b(?:1[0-9]{3}|20[0-9]{2})\b")

# A news dateline opening a text: "WASHINGTON (Reuters) -", "BERLIN --", "SANTA FE, N.M. (AP) —".
_DATELINE = re.compile(r"^\W*[A-Z][A-Z .'-]{2,40}(?:,\s*[A-Za-z .]{2,30})?\s*(?:\([A-Za-z ]+\))?\s*(?:--|[—–-])\s")
_PLACE_PREP = frozenset({"in", "at", "on", "near", "during", "since"})
# Titles before a person's name: what follows is the person ("Gov. Kristi Noem", "Rep. Ilhan Omar").
_HONORIFIC = frozenset("""mr mrs ms dr prof rev gov sen rep gen lt sgt capt col adm det atty amb pres president
    governor senator representative congressman congresswoman coach judge justice ambassador minister chancellor mayor
    secretary""".split())
_GLUE = re.compile(r"[a-z]{3}[A-Z][a-z]")
_CONNECT = frozenset({"of", "de", "von", "van", "der", "the", "la", "le", "del", "du", "di"})
# Capitalised words that name a role or a kind, not a subject of their own ("who is its CEO?").
_ROLES = frozenset("""ceo cfo cto coo cio cmo vp md gm hr pr ipo ai it usd eur gbp""".split())
# Capitalised words that open a sentence or a question without naming anything.
_OPENERS = STOPWORDS | {"one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "both", "several",
                        "many", "most", "some", "police", "officials", "authorities", "critics", "researchers",
                        "former", "late", "ex", "then", "current", "deputy", "acting", "interim", "retired",
                        "according", "although", "however", "meanwhile", "still", "yet", "while", "now",
                        "today", "yesterday", "earlier", "later", "tell", "please", "name", "list", "give",
                        "show", "explain", "describe", "ok", "okay", "thanks", "hi", "hey",
                        # plural nouns that open a news sentence ("Officers arrested …")
                        "officers", "investigators", "prosecutors", "residents", "scientists", "experts", "analysts",
                        "witnesses", "lawmakers", "students", "teachers", "fans", "doctors", "workers", "voters",
                        "protesters", "troops", "soldiers", "firefighters", "deputies", "detectives", "agents", "sources"}


@dataclass(frozen=True)
class Name:
    """A name found in a text: its words, where it starts, and what stood before it."""

    text: str
    start: int
    after_place: bool  # "in Europe", "at the LA Auto Show": where, not who/what
    titled: str = ""  # the title before it ("gov" in "Gov. Kristi Noem"): a person for sure


def names(text: str, *, first_is_opener: bool = True) -> list[Name]:
    """Capitalised (or digit-bearing) runs of words: "Kai-Fu Lee", "01.AI", "VW ID. Space Vizzion".

    A run's lower-case link words ("of", "the") count only between capitalised words; a hyphenated
    lower-case word before a capitalised one stays in ("Audi e-tron Sportback"); a possessive ends
    a run ("Coty's deal" names Coty). The sentence's first word counts only when it is not a
    common word ("Who", "The", "It").
    """
    text = _DATELINE.sub(lambda m: " " * len(m.group(0)), text)  # keep offsets
    words = [(m.group(0), m.start()) for m in WORD.finditer(text)]
    out: list[Name] = []
    i = 0

    def namey(j: int) -> bool:
        w, at = words[j]
        opens = j == 0 or text[:at].rstrip()[-1:] in (".", "!", "?", ":", "\n", "\u201c", '"')
        if opens and first_is_opener and re.sub(r"(?:'s|’s)$", "", w.lower().rstrip(".")) in _OPENERS:
            return False
        if w[0].isupper():
            # "Beijing-based" is a capitalised adjective, not a name ("Kai-Fu" is one); "CEO" a role.
            return (w.lower() not in ("i",) and w.lower().rstrip(".") not in _ROLES
                    and not ("-" in w and w.rsplit("-", 1)[1][:1].islower()))
        if any(ch.isdigit() for ch in w) and any(ch.isalpha() for ch in w):
            # 01.AI, 787-9 are names; "43-year-old", "13-inch", "8-year-old" describe.
            return not re.search(r"\d-[a-z]{3,}", w)
        return False

    while i < len(words):
        if not namey(i) and not (any(ch.isdigit() for ch in words[i][0]) and i + 1 < len(words) and namey(i + 1)
                                 and not _YEAR.fullmatch(words[i][0])):
            i += 1
            continue
        j = i
        while j + 1 < len(words):
            nxt = words[j + 1][0]
            gap = text[words[j][1] + len(words[j][0]):words[j + 1][1]]
            if words[j][0].lower().endswith(("'s", "’s")) or gap.strip(" ") not in ("", "."):
                break
            if namey(j + 1) or (nxt.isdigit() and not _YEAR.fullmatch(nxt)):
                j += 1
            elif (nxt.lower() in _CONNECT or "-" in nxt) and j + 2 < len(words) and namey(j + 2):
                j += 2
            else:
                break
        first, last = i, j
        # Words run together by a page's markup ("Kristi NoemKristi Lynn NoemSouth Dakota"): the
        # name ends at the seam. A name's own inner capital ("McDonald", "DeSantis") follows 1-2 letters.
        glued = next((k for k in range(first, last + 1) if _glued(words[k][0], {w for w, _ in words[first:k]})), None)
        end = words[last][1] + len(words[last][0])
        if glued is not None:
            last, end = glued, words[glued][1] + _GLUE.search(words[glued][0]).start() + 3  # type: ignore[union-attr]
        # "South Dakota Gov. Kristi Noem", "Rep. Ilhan Omar": the person is the name after the title.
        titled = [k for k in range(first, last) if words[k][0].lower().rstrip(".") in _HONORIFIC and words[k + 1][0][:1].isupper()]
        if titled:
            first = titled[-1] + 1
        start = words[first][1]
        name = re.sub(r"(?:'s|’s)$", "", text[start:end])
        before = words[first - 1][0].lower() if first > 0 and not titled else ""
        if before == "the" and first > 1:
            before = words[first - 2][0].lower()
        if any(ch.isalpha() for ch in name):
            out.append(Name(name, start, before in _PLACE_PREP, words[titled[-1]][0].lower().rstrip(".") if titled else ""))
        i = j + 1
    return out


def _glued(word: str, before: set[str]) -> bool:
    """A name run into a repeat of itself by a page's markup ("Kristi NoemKristi Lynn …"), not a
    name's own inner capital ("GateHouse", "McDonald")."""
    m = _GLUE.search(word)
    tail = re.match(r"[A-Z][a-z]+", word[m.start() + 3:]) if m else None
    return bool(tail and tail.group(0) in before)
