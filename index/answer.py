"""Hits → Answer: pick the one sentence that answers, quote it exactly, cite where it came from."""
from __future__ import annotations

import logging
import math
import re
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .embed import Embedder
from .lexical import STOPWORDS, tokenize
from .types import Answer, Citation, Hit

log = logging.getLogger(__name__)

# Below this confidence the honest reply is "not found". Calibrated on questions that are and
# are not answerable from the sample corpus and from SQuAD articles left out of the index
# (see bench/quality.py); CITEBOT_MIN_CONFIDENCE overrides it.
DEFAULT_MIN_CONFIDENCE = 0.42

_YEAR = re.compile(r"\b(1[0-9]{3}|20[0-9]{2})\b")
_MONTH = re.compile(r"\b(jan(uary)?|feb(ruary)?|mar(ch)?|apr(il)?|may|june?|july?|aug(ust)?|sep(tember)?|oct(ober)?|nov(ember)?|dec(ember)?|monday|tuesday|wednesday|thursday|friday|saturday|sunday|week|year|month|century|decade)\b", re.I)
_NUMBER = re.compile(r"\b\d[\d,.]*\b|\b(one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|hundred|thousand|million|billion|dozen)\b", re.I)
_NAME = re.compile(r"\b[A-Z][\w’'.-]*(?:\s+[A-Z][\w’'.-]*)*")


@dataclass(frozen=True)
class _Candidate:
    hit_rank: int
    hit: Hit
    start: int  # offsets into the article
    end: int
    text: str
    score: float
    dense: float
    overlap: float


def question_type(question: str) -> str | None:
    """Coarse answer type: who / when / number / where, or None."""
    q = question.lower().strip()
    if re.match(r"^(who|whom|whose)\b", q) or re.search(r"\bwhich (person|company|team|man|woman|group|organi[sz]ation)\b", q):
        return "who"
    if re.match(r"^when\b", q) or re.search(r"\bwhat (year|date|day|month|time)\b|\bin which year\b", q):
        return "when"
    if re.search(r"\bhow (many|much|long|old|far|big|large)\b|\bwhat (percentage|number|amount)\b", q):
        return "number"
    if re.match(r"^where\b", q):
        return "where"
    return None


def _type_bonus(qtype: str | None, sentence: str, question: str) -> float:
    if qtype is None:
        return 0.0
    if qtype == "when":
        return 0.08 if _YEAR.search(sentence) or _MONTH.search(sentence) else -0.04
    if qtype == "number":
        return 0.08 if _NUMBER.search(sentence) else -0.04
    if qtype in ("who", "where"):
        qwords = {w.lower() for w in re.findall(r"\w+", question)}
        names = [m.group(0) for m in _NAME.finditer(sentence) if m.start() > 0 or len(m.group(0).split()) > 1]
        new = [n for n in names if not all(w.lower() in qwords for w in re.findall(r"\w+", n))]
        return 0.06 if new else -0.03
    return 0.0


class AnswerComposer:
    """Chooses the answer sentence among the top passages and builds the citations."""

    def __init__(
        self,
        embedder: Embedder,
        *,
        citations: int = 3,
        candidates: int = 5,
        min_confidence: float | None = None,
        idf: "callable | None" = None,
    ) -> None:
        if citations < 1:
            raise ValueError("citations must be at least 1")
        self.embedder = embedder
        self.citations = citations
        self.candidates = candidates
        self.min_confidence = DEFAULT_MIN_CONFIDENCE if min_confidence is None else min_confidence

    def compose(self, question: str, hits: Sequence[Hit], qvec: np.ndarray | None = None) -> Answer:
        """The Answer for `question` from ranked hits (best first)."""
        if not hits:
            return Answer(question=question, found=False, answer=None)
        if qvec is None:
            qvec = self.embedder.encode([question])[0]
        qterms = set(tokenize(question))
        cands = self._candidates(question, qterms, hits[: self.candidates], qvec)
        best = max(cands, key=lambda c: c.score) if cands else None
        nearest = tuple(dict.fromkeys(h.title for h in hits[:3]))
        if best is None:
            return Answer(question=question, found=False, answer=None, nearest=nearest)
        top_dense = max(h.dense for h in hits[: self.candidates])
        confidence = self._confidence(best, top_dense)
        if confidence < self.min_confidence:
            return Answer(question=question, found=False, answer=None, nearest=nearest, confidence=confidence)
        cites = self._citations(best, hits)
        answer = best.text
        return Answer(
            question=question,
            found=True,
            answer=answer,
            citations=tuple(cites[: self.citations]),
            more=tuple(cites[self.citations:]),
            confidence=confidence,
            highlights=highlight(question, answer),
        )

    def _candidates(self, question: str, qterms: set[str], hits: Sequence[Hit], qvec: np.ndarray) -> list[_Candidate]:
        spans = []
        for rank, h in enumerate(hits):
            for s, e in h.sentences:
                text = h.text[s - h.start: e - h.start]
                if len(text.split()) < 3:
                    continue
                spans.append((rank, h, s, e, text))
        if not spans:
            return []
        vecs = self.embedder.encode([t for *_, t in spans])
        dens = vecs @ qvec
        qtype = question_type(question)
        out = []
        for (rank, h, s, e, text), d in zip(spans, dens):
            overlap = _overlap(qterms, text, h.title)
            score = 0.55 * float(d) + 0.35 * overlap + 0.25 * h.dense + _type_bonus(qtype, text, question) - 0.02 * rank
            out.append(_Candidate(rank, h, s, e, text, score, float(d), overlap))
        return out

    @staticmethod
    def _confidence(best: _Candidate, top_dense: float) -> float:
        """One number from several signals: sentence and passage similarity, and word overlap."""
        raw = 0.45 * best.dense + 0.25 * top_dense + 0.30 * best.overlap
        return max(0.0, min(1.0, raw / 0.75))

    def _citations(self, best: _Candidate, hits: Sequence[Hit]) -> list[Citation]:
        ordered = [best.hit] + [h for h in hits if h.passage_id != best.hit.passage_id]
        out: list[Citation] = []
        seen: list[tuple[int, int, int]] = []
        for h in ordered:
            # Overlapping passages of one article say the same thing twice: keep the first.
            if any(a == h.article_id and h.start < e and s < h.end for a, s, e in seen):
                continue
            seen.append((h.article_id, h.start, h.end))
            ans = (best.start - h.start, best.end - h.start) if h is best.hit else (None, None)
            out.append(
                Citation(
                    n=len(out) + 1, title=h.title, date=h.date, url=h.url, source=h.source,
                    snippet=h.text, start=h.start, end=h.end, score=round(float(h.score), 6),
                    answer_start=ans[0], answer_end=ans[1], collection=h.collection,
                )
            )
        return out


def _overlap(qterms: set[str], sentence: str, title: str = "") -> float:
    """Share of the question's content words found in the sentence, rarer-looking words weighing more."""
    if not qterms:
        return 0.0
    have = set(tokenize(sentence)) | set(tokenize(title))
    weight = lambda t: 1.0 + math.log1p(len(t)) + (1.0 if any(ch.isdigit() for ch in t) or "." in t else 0.0)
    total = sum(weight(t) for t in qterms)
    return sum(weight(t) for t in qterms if t in have) / total


_FOUNDED = re.compile(
    r"\b(?:founded|created|invented|led|owned|run|directed|written|discovered|built|unveiled|launched|developed|headed)\s+by\s+"
    r"(?:an?\s+|the\s+)?(?:[\w-]+\s+){0,4}?([A-Z][\w’'.-]+(?:\s+[A-Z][\w’'.-]+)*)"
)


def highlight(question: str, sentence: str) -> tuple[tuple[int, int], ...]:
    """Spans of `sentence` that answer the question, where a pattern finds them confidently."""
    qtype = question_type(question)
    qwords = {w.lower() for w in re.findall(r"\w+", question)}
    spans: list[tuple[int, int]] = []
    if qtype == "who":
        for m in _FOUNDED.finditer(sentence):
            if not all(w.lower() in qwords for w in re.findall(r"\w+", m.group(1))):
                spans.append(m.span(1))
    elif qtype == "when":
        m = re.search(r"\b(?:(?:on|in)\s+)?((?:(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?\s+\d{1,2},?\s+)?(?:1[0-9]{3}|20[0-9]{2}))\b", sentence, re.I)
        if m:
            spans.append(m.span(1))
    return tuple(spans[:1])
