"""Which words of a quoted sentence answer the question: bolded in the reply, only where one match is sure.

Also the name, date and number patterns the composer reads a sentence with (`_new_names`, `_YEAR`, ...).
"""
from __future__ import annotations

import re

from ..words import STOPWORDS, tokenize
from .query import question_type

_YEAR = re.compile(r"\b(1[0-9]{3}|20[0-9]{2})s?\b")
_MONTHS = r"jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?"
_MONTH = re.compile(rf"\b({_MONTHS}|monday|tuesday|wednesday|thursday|friday|saturday|sunday|century|centuries|decade|bc|ad|bce)\b", re.I)
_NUMWORD = r"one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|fifty|hundred|thousand|million|billion|dozen|half"
_NUMBER = re.compile(rf"\d[\d,.]*|\b(?:{_NUMWORD})\b", re.I)
# A capitalised name ("Kai-Fu Lee", "House of Commons"), not a capitalised adjective ("Beijing-based").
_CAP = r"[A-Z][\w’'.]*(?:-[A-Z0-9][\w’'.]*)*(?![\w-])"
_NAME = re.compile(rf"\b{_CAP}(?:\s+(?:of\s+|de\s+|von\s+|the\s+)?{_CAP})*")
_QWORD = re.compile(r"\w+")


def _new_names(sentence: str, qwords: set[str], *, first: bool = False) -> list[re.Match[str]]:
    """Capitalised names in the sentence that are not just words of the question.

    A sentence's one-word start ("However", "Luther") is left out unless `first`, and then only
    when it is not a common word.
    """
    out = []
    for m in _NAME.finditer(sentence):
        words = _QWORD.findall(m.group(0))
        if m.start() == 0 and len(words) == 1 and (not first or words[0].lower() in STOPWORDS):
            continue  # the capital of a sentence's first word says nothing
        if not all(w.lower() in qwords for w in words):
            out.append(m)
    return out


# "... founded by Kai-Fu Lee", "... recorded by a young Bob Gallion": the doer of a verb.
_BY = re.compile(
    r"\b([A-Za-z-]+)\s+by\s+(?:an?\s+|the\s+)?(?:[\w-]+\s+){0,4}?([A-Z][\w’'.-]+(?:\s+(?:of\s+|de\s+|von\s+)?[A-Z][\w’'.-]+)*)"
)
# Past participles that share no stem with the past tense a question uses ("Who wrote ...?").
_IRREGULAR = {"wrote": "written", "drew": "drawn", "sang": "sung", "took": "taken", "gave": "given",
              "chose": "chosen", "beat": "beaten", "broke": "broken", "spoke": "spoken", "stole": "stolen",
              "rode": "ridden", "drove": "driven", "began": "begun", "flew": "flown", "threw": "thrown"}
_DATE = re.compile(
    rf"\b((?:(?:\d{{1,2}}\s+)?(?:{_MONTHS})\.?\s+(?:\d{{1,2}},?\s+)?)?(?:1[0-9]{{3}}|20[0-9]{{2}})s?)\b", re.I
)
# "40", "1,200", "£304m", "two hundred", "12 percent" (no trailing comma: "in 1700, ...").
_COUNT = re.compile(
    rf"(?<![\w.])([£$€]?(?:\d{{1,3}}(?:,\d{{3}})+|\d+)(?:\.\d+)?(?:m|bn|k)?|(?:{_NUMWORD})(?:[\s-](?:{_NUMWORD}))*)"
    rf"((?:\s*(?:%|percent|per cent|million|billion|thousand|hundred))?)(?![\w])",
    re.I,
)
_WORD_BEFORE = re.compile(r"[A-Z][\w-]*\s+$")


def _in_name(sentence: str, m: re.Match[str]) -> bool:
    """A number that is part of a name, not a count: right after a capitalised word that does
    not start the sentence ("Route 99"), or a capitalised number word inside it ("Westwood One")."""
    before = _WORD_BEFORE.search(sentence, 0, m.start(1))
    return bool(before and before.start() > 0) or (m.start(1) > 0 and m.group(1)[0].isupper())


_NAME_AFTER = re.compile(r"\s+((?:[a-z][\w-]*\s+){1,2})([A-Z][\w’'.-]+(?:\s+(?:of\s+|de\s+|von\s+)?[A-Z][\w’'.-]+)*)")


def _doer(sentence: str, m: re.Match[str]) -> tuple[int, int]:
    """The name after "by": past a capitalised adjective or title and its noun ("the British rock
    group Coldplay", "Hall Of Fame guitarist Bill Aken"), not past a preposition ("Kai-Fu Lee in March")."""
    after = _NAME_AFTER.match(sentence, m.end(2))
    if after and not any(w in STOPWORDS for w in after.group(1).split()):
        return after.span(2)
    return m.span(2)


def highlight(question: str, sentence: str) -> tuple[tuple[int, int], ...]:
    """Spans of `sentence` that answer the question, only where exactly one confident match exists."""
    qtype = question_type(question)
    qwords = {w.lower() for w in _QWORD.findall(question)}
    def new(span: tuple[int, int]) -> bool:
        return not all(w.lower() in qwords for w in _QWORD.findall(sentence[span[0]:span[1]]))

    found: list[tuple[int, int]] = []
    if qtype == "who":
        # Only the doer of the question's own verb: "Who recorded it?" bolds the name after
        # "recorded by", not the one after "written by" in the same sentence. "Who was sacked?"
        # asks for the one it happened to, not the doer.
        qstems = set(tokenize(question)) | {_IRREGULAR[w] for w in qwords if w in _IRREGULAR}
        passive = re.match(r"^\s*who\s+(was|were|is|are|has been|had been)\b", question, re.I) and not re.search(r"\bby\W*$", question)
        found = [_doer(sentence, m) for m in _BY.finditer(sentence) if not passive and set(tokenize(m.group(1))) & qstems]
        found = [span for span in found if new(span)]
        if not found and re.match(r"^\s*who\s+(was|is)\s+the\b", question, re.I):
            # The subject counts here ("Luther was the most widely read author ... in Germany").
            found = [m.span() for m in _new_names(sentence, qwords, first=True)]
    elif qtype == "when":
        found = [m.span(1) for m in _DATE.finditer(sentence) if new(m.span(1))]
    elif qtype == "number" and re.search(r"\bhow (many|much)\b|\bwhat (percentage|percent|number)\b", question, re.I):
        found = [(m.start(1), m.end(2)) for m in _COUNT.finditer(sentence)
                 if new((m.start(1), m.end(2))) and not _YEAR.fullmatch(m.group(1)) and not _in_name(sentence, m)]
    # Two candidates means we do not know which one answers: bold nothing rather than guess.
    return tuple(found) if len(found) == 1 else ()
