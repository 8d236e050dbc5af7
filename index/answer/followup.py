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
from ..words import STOPWORDS, tokenize
from .names import WORD, Name, names

# Only the last few turns matter: a pronoun reaches back one or two questions, not ten.
MAX_TURNS = 3
MAX_TURN_CHARS = 600  # a turn's question / answer as kept (a surface may hand over long ones)
NEAR = 60  # characters between a name and the earlier question's words for the title to confirm it
BARE_WORDS = 5  # content words of a question with no name that still leans on the one before

_PERSON = {"he": "", "him": "", "his": "'s", "himself": "", "she": "", "her": "", "hers": "'s", "herself": ""}
_PLURAL = frozenset({"they", "them", "their", "theirs", "themselves"})
_THING = {"it": "", "its": "'s", "itself": "", "they": "", "them": "", "their": "'s", "theirs": "'s", "themselves": ""}
# "there" as a place ("how much do they pay there?"), not "is there" / "there are".
_THERE = re.compile(r"\bthere\b(?!\s+(?:is|are|was|were|be|been|'s|’s|will|would|has|have|had)\b)", re.I)
_AFTER_THERE_VERB = re.compile(r"\b(?:is|are|was|were|will|would|has|have|had)\s+there\b", re.I)
# A question that only makes sense after another: "and in 2018?", "what about the valuation?".
_ELIDED = re.compile(r"^\W*(?:and|also|but|so|what about|how about|then)\b[\s,]*", re.I)
_YEAR = re.compile(r"\b(?:1[0-9]{3}|20[0-9]{2})\b")
_CALENDAR = frozenset("""monday tuesday wednesday thursday friday saturday sunday january february march april may
    june july august september october november december""".split())
# What a question asking for a governor, a senator … calls the person titled "Gov.", "Sen." …
_ROLE = {"gov": "governor", "sen": "senator", "rep": "representative", "dr": "doctor", "prof": "professor",
         "pres": "president", "gen": "general", "amb": "ambassador", "atty": "attorney", "capt": "captain"}
# A demonym or other capitalised adjective standing alone ("the Chinese company"): not a referent.
_ADJECTIVE = re.compile(r"^[A-Z][a-z]+(?:ese|ian|ish|can|ean|ic|i)$")
# Words of an institution's or a place's name, never of a person's ("Western District of New York").
_NOT_PERSON = frozenset("""office district department ministry university college school court agency company corp inc
    co ltd llc group council party association hospital clinic bank street city county state states republic kingdom
    times news post journal service services airlines league club foundation institute center centre house
    committee commission army navy police government cup finals final open championship championships tournament
    series games olympics awards festival conference summit tour show campaign bowl trophy prix""".split())
# A name used as a modifier ("a New York man", "the Fort Worth girl"): the referent is the noun after it.
_MODIFIED = frozenset("""man woman men women boy girl child kid couple family company firm group team official
    officials resident residents native police court judge startup lawmaker senator man's woman's governor executive
    executives chief ceo president minister coach player players star stars actor actress singer director founder
    spokesman spokeswoman mayor attorney lawyer""".split())
# Those of them that name a person ("the Fort Worth girl" is "she", "the Fort Worth team" is not).
_PERSON_NOUNS = _MODIFIED - frozenset("couple family company firm group team officials residents police court startup man's "
                                      "woman's executives players stars men women".split())
_ROLE_NOUNS = _PERSON_NOUNS - frozenset("man woman boy girl child kid resident native player star actor actress singer".split())
# The question asks for a person (so the next "he"/"she"/"they" is that person).
_ASKS_PERSON = re.compile(
    r"^\W*(?:who|whom|whose)\b|^\W*(?:which|what)\s+(?:\w+\s+){0,2}?(?:person|people|man|men|woman|women|"
    r"executive|executives|official|officials|player|players|professor|professors|doctor|doctors|minister|president|"
    r"ceo|founder|founders|director|actor|actress|singer|star|stars|officer|officers|spokesman|spokeswoman|"
    r"leader|leaders|member|members|scientist|scientists|researcher|researchers|author|coach|manager|judge|hostages?|"
    r"governor|senator|ambassador|journalist|reporter|chief|chairman|chairwoman|secretary|representative|mayor|host|"
    r"lawyer|attorney|spokesperson|editor|writer|artist|musician|candidate|suspect|victim|lineman|quarterback)\b", re.I)


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


def _known(turns: Sequence[Turn]) -> set[str]:
    """Lower-cased words of everything the conversation has said (questions, quotes, titles)."""
    seen: set[str] = set()
    for t in turns:
        for part in (t.question, t.answer or "", t.title or ""):
            seen.update(w.lower().rstrip(".") for w in WORD.findall(part[:MAX_TURN_CHARS * 2]))
    return seen


def _new_names(question: str, turns: Sequence[Turn]) -> list[Name]:
    """Names in the question that the conversation has not mentioned yet: a subject of its own.

    A place or a day ("in New York on Tuesday") says where or when, not what the question is about.
    """
    known = _known(turns)
    return [n for n in names(question)
            if not n.after_place and n.text.lower() not in _CALENDAR
            and not all(w.lower().rstrip(".") in known for w in WORD.findall(n.text))]


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
    words = WORD.findall(name)
    return not any(w.lower().rstrip(".") in _NOT_PERSON or w.lower() in ("of", "the") or (w.isupper() and len(w) > 1)
                   for w in words)


def _modifier(text: str, n: Name) -> bool:
    """The name modifies the noun after it ("a New York man", "South Dakota governor")."""
    after = text[n.start + len(n.text):].split(None, 1)
    return bool(after) and after[0].strip(",.;:?!").lower() in _MODIFIED


def _modified_person(text: str, n: Name) -> str | None:
    """"the kidnapped Fort Worth girl" when the name `n` modifies a noun for a person ("girl", "man",
    "official"), with the words between the article and the name; None otherwise."""
    after = text[n.start + len(n.text):].split(None, 1)
    if not after or after[0].strip(",.;:?!").lower() not in _PERSON_NOUNS:
        return None
    m = re.search(r"\b(?:the|a|an)\s+((?:[a-z][\w'’-]*\s+){0,3})$", text[:n.start], re.I)
    return f"the {m.group(1) if m else ''}{n.text} {after[0].strip(',.;:?!')}"


def _people(turn: Turn, asked: set[str]) -> list[str]:
    """Who the earlier answer named, likeliest first: names the question did not hold, not a demonym
    ("Chinese") nor a modifier ("a New York man"), nearest to the question's own words in the quote
    ("Fritz von Weizsäcker was stabbed"); a sentence-case title's full name when the quote has none
    of it ("The former star, 42, was voted off" under "James Van Der Beek eliminated from ...")."""
    answer = turn.answer or ""
    cands = []
    for n in names(answer):
        after = answer[n.start + len(n.text):].split(None, 1)
        # The person the question named, even with a title before ("Attorney General William Barr").
        if all(w.lower() in asked for w in WORD.findall(n.text)) or WORD.findall(n.text)[-1].lower() in asked or any(
                p.lower() in _CALENDAR for p in re.split(r"[\s.]+", n.text)):
            continue
        if _ADJECTIVE.match(n.text) or (after and after[0].strip(",.;:").lower() in _MODIFIED) or n.after_place:
            continue  # "the Taliban in Afghanistan": a place is nobody
        if not _person_like(n.text) or re.fullmatch(r"[DRI]-[A-Z][a-z]+|\w", n.text):
            continue  # "(D-Minn.)" is a party and a state
        cands.append(n)
    stems = set(tokenize(turn.question)) - asked  # tokenize stems ("actress" -> "actres"): stem once on both sides
    spots = [m.start() for m in WORD.finditer(answer) if stems.intersection(tokenize(m.group(0)))]

    def distance(n: Name) -> int:
        return min((min(abs(p - n.start), abs(p - n.start - len(n.text))) for p in spots), default=10_000)

    # The question asks for a governor: "Gov. Kristi Noem" is the one, whatever stands nearer.
    roles = {w.lower() for w in WORD.findall(turn.question)}
    ranked = [n.text for n in sorted(cands, key=lambda n: (_ROLE.get(n.titled, n.titled) not in roles, distance(n), n.start))]
    near = {n.text for n in cands if distance(n) <= NEAR}
    title = turn.title or ""
    # Only a sentence-case title names people by capitals ("James Van Der Beek eliminated from …");
    # in a Title Case Headline every word is capitalised.
    content = [w for w in title.split()[1:] if w.lower().strip("'\"‘’“”:,") not in STOPWORDS]
    sentence_case = any(w[:1].islower() for w in content)
    title_people = [n.text for n in names(title) if sentence_case and len(n.text.split()) > 1 and _person_like(n.text)
                    and not n.after_place and not _modifier(title, n)
                    and not all(w.lower() in asked for w in WORD.findall(n.text))]
    # A name whose last word the title holds (any casing: "Nadal keeps Spain alive …") is who the
    # article is about, unless the title uses it as a modifier ("South Dakota governor …").
    in_title = {w for n in names(title) if not n.after_place and not _modifier(title, n) for w in WORD.findall(n.text)}
    # (Only near the question's words: "... where Epstein was held", far from "put … in charge", is not
    # who Barr put in charge, though the title names him.)
    confirmed = [n for n in ranked if n in near and (any(n in t or t in n for t in title_people)
                 or WORD.findall(n)[-1] in in_title and bool(_PERSON_SHAPE.fullmatch(n) or re.fullmatch(r"[A-Z][a-z'’-]+", n)))]
    missing = [t for t in title_people if not any(w in answer for w in t.split())]
    return list(dict.fromkeys(confirmed + missing + ranked))


def _subject(turn: Turn, kind: str) -> str | None:
    """The name a pronoun of `kind` (person, thing, things, place) most likely stands for, from the turn before.

    After a question for a person ("who …?", "which professors …?"), "he"/"she"/"they" is the person
    the answer named (`_people`), or nobody known (None: the pronoun stays, the context still helps).
    Otherwise the earlier question's own subject (a name that is not a place or time: "in Europe"),
    of the right kind: for "he"/"she" one that looks like a person's name, for "it" one that does
    not; for "there" a place. "it" after "where did the stabbing on the BART train happen?" is the
    stabbing, not the train's name. Last, the answer's first new name.
    """
    q_names = names(turn.question)
    asked = {w.lower() for n in q_names for w in WORD.findall(n.text)}
    if kind == "person" and _ASKS_PERSON.match(turn.question):
        people = _people(turn, asked)
        return people[0] if people else None
    answer_names = [n for n in names(turn.answer or "")
                    if not all(w.lower() in asked for w in WORD.findall(n.text)) and _can_be_subject(n)]
    subjects = [n for n in q_names if _can_be_subject(n)]
    own = [n for n in subjects if not n.after_place]
    if kind == "place":
        places = [n for n in subjects if n.after_place] or [n for n in answer_names if n.after_place]
        pick = places or own or answer_names
        return pick[0].text if pick else None
    if kind == "person":
        # "the kidnapped Fort Worth girl": the name only says where she is from; she is the phrase.
        # A role ("the South Dakota governor") is filled by the person the answer named, if any.
        phrase = next((p for n in own if (p := _modified_person(turn.question, n))), None)
        own = [n for n in own if not _modifier(turn.question, n)]
        if not own and phrase:
            people = _people(turn, asked) if phrase.split()[-1].lower() in _ROLE_NOUNS else []
            return people[0] if people else phrase
        own.sort(key=lambda n: (not _looks_person(n, turn), not _person_like(n.text)))
    elif kind in ("thing", "things"):
        # "Britain's Conservative Party": the party, not Britain; a person's name last.
        own.sort(key=lambda n: (bool(re.match(r"(?:'s|’s)\s+[A-Z0-9]", turn.question[n.start + len(n.text):])),
                                _looks_person(n, turn)))
        if kind == "thing" and _ASKS_NAME.match(turn.question):
            # "what is the new alarm system called?" then "its data": the name the answer gave it
            named = [n for n in answer_names if not n.after_place]
            if named:
                return named[0].text
        asked_for = _asked_for(turn.question, plural=False) if kind == "thing" else None
        # "which virus caused …?", "which company bought Fitbit?" then "it": the virus, the company
        # (the main clause's subject); after "which car did Tesla build?" the question's own name.
        if asked_for and (not own or not re.match(r"^\W*which\s+[^?]*?\s(?:did|does|do|will|would|can|could|should|has|have|had)\s+"
                                                  r"(?:the|a|an|[A-Z0-9])", turn.question)):
            return asked_for
        phrase = None if own else _subject_phrase(turn.question)
        if phrase:
            return phrase
    if own:
        return own[0].text
    if subjects and kind != "person":  # a place is never "he"
        return subjects[0].text
    if kind == "person":  # "he" is a person the answer named, never its first capitalised word
        people = _people(turn, asked)
        return people[0] if people else None
    return answer_names[0].text if answer_names else None


def _looks_person(n: Name, turn: Turn) -> bool:
    """A person's name by its shape: after a title, or two or three capitalised words that name no
    institution ("Tim Cook"), or the last word of such a name in the answer or title ("Nadal")."""
    if n.titled:
        return True
    if _PERSON_SHAPE.fullmatch(n.text) and _person_like(n.text):
        return True
    if " " in n.text:
        return False
    around = names(f"{turn.answer or ''}\n{turn.title or ''}")
    return any(m.text.endswith(" " + n.text) and _PERSON_SHAPE.fullmatch(m.text) and _person_like(m.text) for m in around)


_PERSON_SHAPE = re.compile(r"(?:[A-Z](?:[a-z'’]+(?:-[A-Z][a-z]+)?|\.)\s+){1,2}[A-Z][a-z'’]+(?:-[A-Z][a-z]+)?")
_AUX = r"(?:did|does|do|is|was|are|were|has|have|had|will|would|can|could|should)"


def _subject_phrase(question: str) -> str | None:
    """The subject of the question's main clause, a phrase: "the deadly stabbing" in "where did the
    deadly stabbing on the BART train happen?", "the storm" in "how many did the storm kill in Texas?"."""
    m = re.match(rf"^\W*\w+(?:\s+\w+){{0,2}}?\s+({_AUX})\s+((?:the|a|an)\s+[^?]+?)\s*\?*\s*$", question, re.I)
    if not m:
        return None
    words = m.group(2).split()
    # A short phrase at the end says where, when or about what ("in Texas", "on Monday", "about teens").
    while len(words) > 3:
        at = max((k for k in range(len(words) - 3, len(words) - 1) if words[k].lower() in _PREPS), default=None)
        if at is None:
            break
        words = words[:at]
    cut = next((k for k, w in enumerate(words) if k and w.lower() in _PREPS | _RELATIVE), len(words))
    obj = next((k for k, w in enumerate(words) if k > 1 and w.lower() in ("the", "a", "an", "its", "their", "his", "her")), None)
    if obj is not None and obj <= cut:  # "the airline cancel the order": the verb is before its object
        phrase = words[:obj - 1]
    else:
        phrase = words[:cut]
        copula = m.group(1).lower() in ("is", "was", "are", "were")
        if len(phrase) == len(words) and not (copula and not _PARTICIPLE.search(phrase[-1])):
            phrase = phrase[:-1]  # the verb at the end ("the storm kill"); "how big is the battery?" has none
    if not 2 <= len(phrase) <= 5 or phrase[-1].lower() in _GENERIC:
        return None  # "the name of …", "the price of …": what is asked, not what it is about
    return " ".join(phrase)


_PARTICIPLE = re.compile(r"(?:ed|en|wn)$|^(?:built|made|sold|held|found|won|bought|hit|shot|set|put|paid|said|told|kept|left|"
                         r"lost|met|sent|spent|born|done|begun|run|brought|caught|taught|fought|struck|hurt|cut|shut)$", re.I)
_ASKS_NAME = re.compile(r"^\W*what\s+(?:is|was|are|were)\s+(?:[^?]*\b(?:called|named)\W*$|the\s+name\s+of\b)", re.I)
_RELATIVE = frozenset("that which who whom whose where when".split())
_GENERIC = frozenset("name kind type sort number amount price cost size title part share percentage rate".split())
_PREPS = frozenset("on in at near during to for from with by about after before over of last this next".split())


# "the Chargers", "the Doobie Brothers": a plural name, what "they" most likely stands for (never
# one in -ss: "Mike Glass" is a person).
_GROUP = re.compile(r"\b(?<!in )(?<!at )(?<!on )the\s+((?:[A-Z][\w'’-]*\s+){0,2}[A-Z][\w'’-]*[a-rt-z]s)\b")


_PAST = frozenset("""bought won made sold took gave got led beat hit ran set put paid said told kept left lost met sent spent
    held found built began broke brought came went wrote drove chose became fell flew grew knew rose saw shot stole struck""".split())
_AUX_WORDS = frozenset("did does do is was are were has have had will would can could should".split())
_NUMBER_WORDS = frozenset("two three four five six seven eight nine ten several many few both".split())
# Nouns a "they" can stand for in the singular ("which team …?" then "their captain").
_COLLECTIVE = frozenset("team club band group company firm party side country government agency league".split())


def _asked_for(question: str, *, plural: bool) -> str | None:
    """"the virus" after "which virus caused …?" (plural: "the two professors"), or None: the
    words after "which" up to its verb ("owns", "did", "caused", "bought") or "of"."""
    m = re.match(r"^\W*which\s+(.*)", question.rstrip(" ?"), re.I)
    words = m.group(1).split() if m else []
    for k in range(1, min(4, len(words))):
        phrase, nxt = words[:k], words[k].lower()
        if not all(re.fullmatch(r"[a-z][\w'’-]*", w) for w in phrase):
            return None
        last, after = phrase[-1].lower(), words[k + 1].lower() if k + 1 < len(words) else ""
        # "owns" in "which label owns most …" is a verb; "members" in "which founding members of …" and
        # "officers" in "which prison officers were …" are not.
        verb = nxt in _AUX_WORDS or nxt in _PAST or nxt == "of" or nxt.endswith("ed") or (
            nxt.endswith("s") and not last.endswith("s") and last not in _NUMBER_WORDS
            and after not in _AUX_WORDS and after not in _PAST and after != "of" and not after.endswith("ed"))
        if verb:
            many = last in ("people", "men", "women", "children", "police") or (last.endswith("s") and not last.endswith(("ss", "us")))
            if many == plural or (plural and last in _COLLECTIVE):
                return "the " + " ".join(phrase)
            return None
    return None


def _can_be_subject(n: Name) -> bool:
    """A day ("Tuesday"), an ordinal ("6th") or a number is never what "it" stands for."""
    return not (any(p.lower() in _CALENDAR for p in re.split(r"[\s.]+", n.text))
                or re.fullmatch(r"\d+(?:st|nd|rd|th)?", n.text))


def _referent(word: str, turn: Turn) -> tuple[str | None, str]:
    """What the pronoun `word` stands for after `turn`, and its kind (person, thing, group, place)."""
    if word == "there":
        return _subject(turn, "place"), "place"
    if word in _PERSON:
        return _subject(turn, "person"), "person"
    if word in _PLURAL:
        # "which two professors did the Taliban release?" then "they": the two professors; "who did
        # the Chargers lose to?" then "their record": the Chargers.
        asked_for = _asked_for(turn.question, plural=True)
        if asked_for and asked_for.split()[-1] in _COLLECTIVE:
            # "which team did the Wild beat?" then "their captain": the team the answer named ("the Sabres")
            asked = {w.lower() for w in WORD.findall(turn.question)}
            teams = [n.text for n in names(turn.answer or "") if _GROUP.fullmatch("the " + n.text) and not n.after_place
                     and n.text.split()[-1].lower() not in asked]
            asked_for = "the " + teams[0] if teams else asked_for
        group = _GROUP.search(turn.question)
        if asked_for or group:
            return asked_for or "the " + group.group(1), "group"  # type: ignore[union-attr]
        if _ASKS_PERSON.match(turn.question):
            return _subject(turn, "person"), "person"
        return _subject(turn, "things"), "thing"
    return _subject(turn, "thing"), "thing"


def _substitute(question: str, turn: Turn) -> tuple[str | None, str | None, str]:
    """The question with its first pronoun replaced by the name it stands for (or None), the name,
    and its kind."""
    for m in _pronouns(question):
        word = m.group(0).lower()
        subject, kind = _referent(word, turn)
        if subject is None:
            return None, None, kind
        if word == "there":
            prep = "at " if question[m.end():].strip(" ?!.") == "" else "in "
            return question[:m.start()] + prep + subject + question[m.end():], subject, kind
        suffix = _PERSON.get(word, _THING.get(word, ""))
        if word == "her" and re.match(r"\s+\w", question[m.end():]) and not re.match(
                r"\s+(?:to|from|for|with|home|back|up|down|in|on|at|by|about|off|out|away)\b", question[m.end():], re.I):
            suffix = "'s"  # "her wife" is possessive, "fly her home" is not
        if suffix and subject.endswith("s") and kind == "group":
            suffix = "'"  # "the Chargers' record"
        return question[:m.start()] + subject + suffix + question[m.end():], subject, kind
    return None, None, "thing"


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
    # before; a long one says what it is about in its own words. Not after a "not found": with
    # nothing quoted there is no subject to lean on, and the asker has likely moved on.
    bare = not own_names and len(tokenize(question)) <= BARE_WORDS and last.answer is not None
    if not (elided or has_pronoun or bare):
        return Reading(text=question)  # names only what was already said, without leaning on it
    prefer = tuple(dict.fromkeys(x for x in (last.source, last.title) if x))
    context = _key_terms(last)
    rest = question[elided.end():] if elided else question
    read, subject, kind = _substitute(rest, last) if has_pronoun else (None, None, "thing")
    # "and the Nasdaq?" after "how far did the Dow Jones fall?": the same question about the Nasdaq,
    # a whole question of its own (read, searched and embedded as it stands).
    swapped = _about_name(rest, last.question) if elided and read is None else None
    if swapped:
        read, subject = swapped
    if read is None and (elided or not has_pronoun):
        subject = _subject(last, "thing")
    if read is None and elided:
        read = _elided(rest, last.question, subject)
    if read is None and not has_pronoun:
        read = f"{rest.rstrip(' ?')} ({subject})?" if subject and subject.lower() not in rest.lower() else None
    read_as = _tidy(read) if read else None
    person = kind == "person"
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
    return Reading(text=text, read_as=read_as, context=context, prefer=prefer, filled="" if swapped else subject or "",
                   embed_text=None if person or swapped else rest, reader_text=reader_text)


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


def _about_name(fragment: str, earlier: str) -> tuple[str, str] | None:
    """The earlier question with its subject (its first name that is no place or day) replaced by
    the fragment, and the fragment's name, when the fragment is nothing but a name ("the Nasdaq?",
    "Google?"); else None."""
    bare = fragment.strip(" ?!.")
    found = names(bare)
    if len(found) != 1 or re.sub(r"^(?:the|a|an)\s+", "", bare, flags=re.I) != found[0].text:
        return None
    subject = next((n for n in names(earlier) if not n.after_place and _can_be_subject(n)), None)
    if subject is None:
        return None
    return earlier[:subject.start] + found[0].text + earlier[subject.start + len(subject.text):], found[0].text


def _tidy(text: str) -> str:
    text = " ".join(text.split())
    return text if text.endswith("?") else text.rstrip(".!") + "?"
