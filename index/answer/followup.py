"""A question in a conversation: read alone, or with the turn before it when it leans on it.

"who founded 01.AI?" then "how long had it been around?": the second question has no subject of its
own, so it is read as "how long had 01.AI been around?". No language model: the conversation's
names are found by their capitals (and digits: "01.AI"), a pronoun is replaced by the name it
most likely stands for, and retrieval gets two gentle nudges (the earlier question's terms at a
lower weight, the earlier answer's article preferred without being forced; index/answer/search.py).

A question that brings a name of its own ("what is Sora?") is read alone, even mid-conversation:
context never pulls it back to the earlier article. What was decided is shown to the user as
`Answer.read_as`, so a wrong reading is visible and can be asked again in full.
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from ..types import Turn
from ..words import STOPWORDS, stem, tokenize

# Only the last few turns matter: a pronoun reaches back one or two questions, not ten.
MAX_TURNS = 3
MAX_TURN_CHARS = 600
BARE_WORDS = 5  # content words of a question with no name that still leans on the one before  # a turn's question / answer as kept (a surface may hand over long ones)

_PERSON = {"he": "", "him": "", "his": "'s", "himself": "", "she": "", "her": "", "hers": "'s", "herself": ""}
_PLURAL = frozenset({"they", "them", "their", "theirs", "themselves"})
_THING = {"it": "", "its": "'s", "itself": "", "they": "", "them": "", "their": "'s", "theirs": "'s", "themselves": ""}
# "there" as a place ("how much do they pay there?"), not "is there" / "there are".
_THERE = re.compile(r"\bthere\b(?!\s+(?:is|are|was|were|be|been|'s|’s|will|would|has|have|had)\b)", re.I)
_AFTER_THERE_VERB = re.compile(r"\b(?:is|are|was|were|will|would|has|have|had)\s+there\b", re.I)
# A question that only makes sense after another: "and in 2018?", "what about the valuation?".
_ELIDED = re.compile(r"^\W*(?:and|also|but|so|what about|how about|then)\b[\s,]*", re.I)
_WORD = re.compile(r"[\w][\w.'’&\-]*[\w]|[\w]")
# A news dateline opening a text: "WASHINGTON (Reuters) -", "BERLIN --", "SANTA FE, N.M. (AP) —".
_DATELINE = re.compile(r"^\W*[A-Z][A-Z .'-]{2,40}(?:,\s*[A-Za-z .]{2,30})?\s*(?:\([A-Za-z ]+\))?\s*(?:--|[—–-])\s")
_YEAR = re.compile(r"\b(?:1[0-9]{3}|20[0-9]{2})\b")
_CALENDAR = frozenset("""monday tuesday wednesday thursday friday saturday sunday january february march april may
    june july august september october november december""".split())
_PLACE_PREP = frozenset({"in", "at", "on", "near", "during", "since"})
_CONNECT = frozenset({"of", "de", "von", "van", "der", "the", "la", "le", "del", "du", "di"})
# Capitalised words that name a role or a kind, not a subject of their own ("who is its CEO?").
_ROLES = frozenset("""ceo cfo cto coo cio cmo vp md gm hr pr ipo ai it usd eur gbp""".split())
# A demonym or other capitalised adjective standing alone ("the Chinese company"): not a referent.
_ADJECTIVE = re.compile(r"^[A-Z][a-z]+(?:ese|ian|ish|can|ean|ic|i)$")
# Words of an institution's or a place's name, never of a person's ("Western District of New York").
_NOT_PERSON = frozenset("""office district department ministry university college school court agency company corp inc
    co ltd llc group council party association hospital clinic bank street city county state states republic kingdom
    times news post journal service services airlines league club foundation institute center centre house
    committee commission army navy police government""".split())
# A name used as a modifier ("a New York man", "the Fort Worth girl"): the referent is the noun after it.
_MODIFIED = frozenset("""man woman men women boy girl child kid couple family company firm group team official
    officials resident residents native police court judge startup lawmaker senator man's woman's""".split())
# The question asks for a person (so the next "he"/"she"/"they" is that person).
_ASKS_PERSON = re.compile(
    r"^\W*(?:who|whom|whose)\b|^\W*(?:which|what)\s+(?:\w+\s+){0,2}?(?:person|people|man|men|woman|women|"
    r"executive|executives|official|officials|player|players|professor|professors|doctor|doctors|minister|president|"
    r"ceo|founder|founders|director|actor|actress|singer|star|stars|officer|officers|spokesman|spokeswoman|"
    r"leader|leaders|member|members|scientist|scientists|researcher|researchers|author|coach|manager|judge|hostages?|"
    r"governor|senator|ambassador|journalist|reporter|chief|chairman|chairwoman|secretary|representative|mayor|host|"
    r"lawyer|attorney|spokesperson|editor|writer|artist|musician|candidate|suspect|victim|lineman|quarterback)\b", re.I)
# Capitalised words that open a sentence or a question without naming anything.
_OPENERS = STOPWORDS | {"one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "both", "several",
                        "many", "most", "some", "police", "officials", "authorities", "critics", "researchers",
                        "former", "late", "ex", "then", "current", "deputy", "acting", "interim", "retired",
                        "according", "although", "however", "meanwhile", "still", "yet", "while", "now",
                        "today", "yesterday", "earlier", "later", "tell", "please", "name", "list", "give",
                        "show", "explain", "describe", "ok", "okay", "thanks", "hi", "hey"}


@dataclass(frozen=True)
class Reading:
    """How a question is read: the text to search, what to show (`read_as`, None when alone), and the
    context that nudges retrieval (`context` terms at a lower weight, `prefer`red articles)."""

    text: str
    read_as: str | None = None
    context: str = ""
    prefer: tuple[str, ...] = ()
    # The words the conversation filled in (the name a pronoun stands for): they find the article,
    # but weigh less when the answering sentence is chosen.
    filled: str = ""
    # What the question's vectors are made of, when not `text` (None: `text`).
    embed_text: str | None = None
    # What the reader (index/answer/reader.py) reads, when one chooses the quote: the question as
    # typed with the filled-in name after it ("who is its head? instagram") read better than the
    # rewritten question (53 vs 50 of the 75 follow-ups of bench/conversations.json).
    reader_text: str | None = None


@dataclass(frozen=True)
class _Name:
    text: str
    start: int
    after_place: bool  # "in Europe", "at the LA Auto Show": where, not who/what


def names(text: str, *, first_is_opener: bool = True) -> list[_Name]:
    """Capitalised (or digit-bearing) runs of words: "Kai-Fu Lee", "01.AI", "VW ID. Space Vizzion".

    A run's lower-case link words ("of", "the") count only between capitalised words; a hyphenated
    lower-case word before a capitalised one stays in ("Audi e-tron Sportback"); a possessive ends
    a run ("Coty's deal" names Coty). The sentence's first word counts only when it is not a
    common word ("Who", "The", "It").
    """
    text = _DATELINE.sub(lambda m: " " * len(m.group(0)), text)  # keep offsets
    words = [(m.group(0), m.start()) for m in _WORD.finditer(text)]
    out: list[_Name] = []
    i = 0

    def namey(j: int) -> bool:
        w, at = words[j]
        opens = j == 0 or text[:at].rstrip()[-1:] in (".", "!", "?", ":", "\n", "\u201c", '"')
        if opens and first_is_opener and w.lower().rstrip(".") in _OPENERS:
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
        start, end = words[i][1], words[j][1] + len(words[j][0])
        name = re.sub(r"(?:'s|’s)$", "", text[start:end])
        before = words[i - 1][0].lower() if i > 0 else ""
        if before == "the" and i > 1:
            before = words[i - 2][0].lower()
        if any(ch.isalpha() for ch in name):
            out.append(_Name(name, start, before in _PLACE_PREP))
        i = j + 1
    return out


def _known(turns: Sequence[Turn]) -> set[str]:
    """Lower-cased words of everything the conversation has said (questions, quotes, titles)."""
    seen: set[str] = set()
    for t in turns:
        for part in (t.question, t.answer or "", t.title or ""):
            seen.update(w.lower().rstrip(".") for w in _WORD.findall(part[:MAX_TURN_CHARS * 2]))
    return seen


def _new_names(question: str, turns: Sequence[Turn]) -> list[_Name]:
    """Names in the question that the conversation has not mentioned yet: a subject of its own.

    A place or a day ("in New York on Tuesday") says where or when, not what the question is about.
    """
    known = _known(turns)
    return [n for n in names(question)
            if not n.after_place and n.text.lower() not in _CALENDAR
            and not all(w.lower().rstrip(".") in known for w in _WORD.findall(n.text))]


# "it" that stands for nothing: "make it easier to", "is it true that", "it takes two hours to".
_EXPLETIVE = re.compile(r"\b(?:(?:make|makes|made|making|find|finds|found|take|takes|took)\s+it\s+\w+(?:er)?\s+(?:to|that|for)\b"
                        r"|it\s+(?:is|was|'s|’s)\s+(?:\w+\s+)?(?:to|that)\b|is\s+it\s+(?:true|possible|likely)\b"
                        r"|it\s+(?:takes|took|costs|cost)\b[^?]*\bto\b)", re.I)


def _pronouns(question: str) -> list[re.Match[str]]:
    q = question
    expletive = [m.span() for m in _EXPLETIVE.finditer(q)]
    found = [m for m in re.finditer(r"\b(?:he|him|his|himself|she|her|hers|herself|it|its|itself|they|them|their|"
                                    r"theirs|themselves)\b", q, re.I)
             if not any(a <= m.start() < b for a, b in expletive)]
    found += [m for m in _THERE.finditer(q) if not _AFTER_THERE_VERB.search(q[max(0, m.start() - 12):m.end()])]
    return sorted(found, key=lambda m: m.start())


def _person_like(name: str) -> bool:
    """Could be a person's name: no institution's word ("Office", "District"), no "of"/"the", no
    acronym ("UK Tories", "BBC")."""
    words = _WORD.findall(name)
    return not any(w.lower().rstrip(".") in _NOT_PERSON or w.lower() in ("of", "the") or (w.isupper() and len(w) > 1)
                   for w in words)


def _people(turn: Turn, asked: set[str]) -> list[str]:
    """Who the earlier answer named, likeliest first: names the question did not hold, not a demonym
    ("Chinese") nor a modifier ("a New York man"), nearest to the question's own words in the quote
    ("Fritz von Weizsäcker was stabbed"); a sentence-case title's full name when the quote has none
    of it ("The former star, 42, was voted off" under "James Van Der Beek eliminated from ...")."""
    answer = turn.answer or ""
    cands = []
    for n in names(answer):
        after = answer[n.start + len(n.text):].split(None, 1)
        if all(w.lower() in asked for w in _WORD.findall(n.text)) or any(
                p.lower() in _CALENDAR for p in re.split(r"[\s.]+", n.text)):
            continue
        if _ADJECTIVE.match(n.text) or (after and after[0].strip(",.;:").lower() in _MODIFIED):
            continue
        if not _person_like(n.text):
            continue
        cands.append(n)
    stems = {stem(t) for t in tokenize(turn.question)} - asked
    spots = [m.start() for m in _WORD.finditer(answer) if stem(m.group(0).lower()) in stems]

    def distance(n: _Name) -> int:
        return min((abs(p - n.start) for p in spots), default=10_000)

    ranked = [n.text for n in sorted(cands, key=lambda n: (distance(n), n.start))]
    title = turn.title or ""
    # Only a sentence-case title names people by capitals ("James Van Der Beek eliminated from …");
    # in a Title Case Headline every word is capitalised.
    content = [w for w in title.split()[1:] if w.lower().strip("'\"‘’“”:,") not in STOPWORDS]
    sentence_case = any(w[:1].islower() for w in content)
    title_people = [n.text for n in names(title) if sentence_case and len(n.text.split()) > 1 and _person_like(n.text)
                    and not all(w.lower() in asked for w in _WORD.findall(n.text))]
    confirmed = [n for n in ranked if any(n in t or t in n for t in title_people)]
    missing = [t for t in title_people if not any(w in answer for w in t.split())]
    return list(dict.fromkeys(confirmed + missing + ranked))


def _subject(turn: Turn, person: bool) -> str | None:
    """The name a pronoun most likely stands for, from the turn before.

    After a question for a person ("who …?", "which professors …?"), "he"/"she"/"they" is the person
    the answer named (`_people`), or nobody known (None: the pronoun stays, the context still helps);
    otherwise the earlier question's own subject (its first name that is not a place or time:
    "in Europe"), falling back to the answer's first new name.
    """
    q_names = names(turn.question)
    asked = {w.lower() for n in q_names for w in _WORD.findall(n.text)}
    if person and _ASKS_PERSON.match(turn.question):
        people = _people(turn, asked)
        return people[0] if people else None
    answer_names = [n for n in names(turn.answer or "")
                    if not all(w.lower() in asked for w in _WORD.findall(n.text)) and _can_be_subject(n)]
    subjects = [n for n in q_names if _can_be_subject(n)]
    own = [n for n in subjects if not n.after_place] or subjects
    if own:
        return own[0].text
    return answer_names[0].text if answer_names else None



def _can_be_subject(n: _Name) -> bool:
    """A day ("Tuesday"), an ordinal ("6th") or a number is never what "it" stands for."""
    return not (any(p.lower() in _CALENDAR for p in re.split(r"[\s.]+", n.text))
                or re.fullmatch(r"\d+(?:st|nd|rd|th)?", n.text))


def _substitute(question: str, turn: Turn) -> str | None:
    """The question with its first pronoun replaced by the name it stands for, or None."""
    for m in _pronouns(question):
        word = m.group(0).lower()
        if word == "there":
            subject = _subject(turn, person=False)
            if subject is None:
                return None
            return question[:m.start()] + "at " + subject + question[m.end():] if question[m.end():].strip(" ?!.") == "" \
                else question[:m.start()] + "in " + subject + question[m.end():]
        person = word in _PERSON or (word in _PLURAL and bool(_ASKS_PERSON.match(turn.question)))
        subject = _subject(turn, person)
        if subject is None:
            return None
        suffix = _PERSON.get(word, _THING.get(word, ""))
        if word == "her" and re.match(r"\s+\w", question[m.end():]) and not re.match(
                r"\s+(?:to|from|for|with|home|back|up|down|in|on|at|by|about|off|out|away)\b", question[m.end():], re.I):
            suffix = "'s"  # "her wife" is possessive, "fly her home" is not
        return question[:m.start()] + subject + suffix + question[m.end():]
    return None


def _key_terms(turn: Turn) -> str:
    """The earlier question's search terms (stopwords out), what the follow-up inherits lightly."""
    return " ".join(dict.fromkeys(tokenize(turn.question[:MAX_TURN_CHARS])))


def read_in_context(question: str, conversation: Sequence[Turn]) -> Reading:
    """How to read `question` after `conversation` (oldest turn first); alone when it names its own
    subject or the conversation is empty."""
    turns = [t for t in conversation if t.question.strip()][-MAX_TURNS:]
    if not turns:
        return Reading(text=question)
    last = turns[-1]
    elided = _ELIDED.match(question)
    has_pronoun = bool(_pronouns(question))
    if _new_names(question, turns):
        return Reading(text=question)  # a subject of its own: context must not pull it back
    own_names = names(question)
    # No name and no pronoun: a short question ("how much is the order worth?") leans on what came
    # before; a long one says what it is about in its own words.
    bare = not own_names and len(tokenize(question)) <= BARE_WORDS
    if not (elided or has_pronoun or bare):
        return Reading(text=question)  # names only what was already said, without leaning on it
    prefer = tuple(dict.fromkeys(x for x in (last.source, last.title) if x))
    context = _key_terms(last)
    rest = question[elided.end():] if elided else question
    read = _substitute(rest, last) if has_pronoun else None
    if read is None and elided:
        subject = _subject(last, person=False)
        read = _elided(rest, last.question, subject)
    if read is None and not has_pronoun:
        subject = _subject(last, person=False)
        read = f"{rest.rstrip(' ?')} ({subject})?" if subject and subject.lower() not in rest.lower() else None
    read_as = _tidy(read) if read else None
    person = any(m.group(0).lower() in _PERSON or (m.group(0).lower() in _PLURAL and bool(_ASKS_PERSON.match(last.question)))
                 for m in _pronouns(question))
    subject = _subject(last, person=person)
    # The sentence is chosen by the question's own words: its vectors are made of them, and the name
    # filled in weighs little (index/answer/query.py). Except for "he"/"she": the quote about a person
    # usually names them ("Assange is battling extradition"), so their name is in the vectors too.
    # (Measured on the tuning half of bench/conversations.json: 17/19 right this way, 12/19 with
    # the reading's vectors for every kind, 13/19 with the question's own for every kind.)
    # The filled-in name is searched for but is not a name the user asked about, so it is written in
    # lower case: a quote need not repeat it (the composer asks that of the question's own names).
    # Unread (a pronoun for someone the answer never named): the question as typed, and the context
    # nudges retrieval only (its terms in the text would choose the earlier question's sentence again).
    text = read_as or question
    if read_as and subject and subject not in question:
        text = text.replace(subject, subject.lower())
    reader_text = f"{question} {subject.lower()}" if read_as and subject and subject not in question else None
    return Reading(text=text, read_as=read_as, context=context, prefer=prefer, filled=subject or "",
                   embed_text=None if person else rest, reader_text=reader_text)



def _elided(fragment: str, earlier: str, subject: str | None) -> str | None:
    """"and in 2018?" after "how much did X earn in 2017?": the earlier question with the new
    year; "and the torque?": the fragment about the earlier subject."""
    years = _YEAR.findall(fragment)
    if years and _YEAR.search(earlier):
        return _YEAR.sub(years[0], earlier, count=1)
    if re.match(r"^\W*(?:who|what|when|where|which|why|how|is|are|was|were|did|does|do|can|will)\b", fragment, re.I):
        return f"{fragment.rstrip(' ?')} ({subject})?" if subject else None
    if subject:
        return f"what about {fragment.strip(' ?')} of {subject}?"
    return None


def _tidy(text: str) -> str:
    text = " ".join(text.split())
    return text if text.endswith("?") else text.rstrip(".!") + "?"
