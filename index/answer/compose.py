"""Hits → Answer: pick the one sentence that answers, quote it exactly, cite where it came from."""
from __future__ import annotations

import copy
import logging
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..model.embed import Embedder, TokenEmbedder
from ..types import Answer, Citation, Hit, Query
from ..words import tokenize
from . import select
from .highlight import _MONTH, _NUMBER, _QWORD, _YEAR, _new_names, highlight
from .pair import ReaderPair
from .passage import PassageReader, read_candidates
from .reader import SentenceReader
from .select import (
    FittedModelError,
    PairConfidence,
    ReaderConfidence,
    SentenceFeatures,
    TreeScorer,
    alignment,
    evidence_row,
    hand_confidence,
    lexical_shape,
    linear_score,
    load_fitted,
    read_set,
    reader_evidence,
)

log = logging.getLogger(__name__)

# The fitted scorer and confidence (index/fitted.json); None without the file. A file made for
# other features raises FittedModelError here: a half-matching model is never used.
_FITTED = load_fitted()
# Below this confidence the honest reply is "not found". With the fitted confidence it is the
# threshold stored beside it by bench/refusal.py (it refuses 7% of the answerable SQuAD v2.0
# questions it was fitted on); with the hand-set confidence, 0.42 (chosen with bench/quality.py).
# CITEBOT_MIN_CONFIDENCE overrides it.
DEFAULT_MIN_CONFIDENCE = round(_FITTED.threshold, 4) if _FITTED is not None and _FITTED.threshold is not None else 0.42

_PLACE_PREP = re.compile(r"\b(in|at|near|from|to)\s+(the\s+)?[A-Z]")
# A negated question ("Which city was not ...?") that a sentence without a negation cannot answer.
_NEG = re.compile(r"\b(?:not|never|no|none|without|neither|nor)\b|n't\b", re.I)


@dataclass
class _Candidate:
    hit_rank: int
    hit: Hit
    start: int  # offsets into the article
    end: int
    text: str
    feat: SentenceFeatures
    score: float = 0.0
    row: list[float] | None = None  # the scorer's input, kept for bench/train_selector.py
    logit: float | None = None  # the reader's score, when the reader read this sentence
    lex_rank: int = -1  # its place in the lexical ranking of all candidate sentences (0 = likeliest)
    span: tuple[int, int] | None = None  # the passage reader's best answer span in it (article offsets)

    # The confidence reads these four of the features.
    coverage = property(lambda self: self.feat.coverage)  # weighted share of the question's terms (and title)
    context = property(lambda self: self.feat.context)  # the same over the sentence and its neighbours
    typed = property(lambda self: self.feat.typed)  # +1 holds the kind of thing asked for, -1 cannot, 0 no idea
    dense = property(lambda self: self.feat.dense)


def _typed(qtype: str | None, sentence: str, qwords: set[str]) -> float:
    """Whether the sentence can hold the kind of answer the question asks for."""
    if qtype is None:
        return 0.0
    if qtype == "when":
        ok = any(m.group(0).lower() not in qwords for m in _YEAR.finditer(sentence)) or bool(_MONTH.search(sentence))
    elif qtype == "number":
        ok = any(m.group(0).lower().strip(".,") not in qwords for m in _NUMBER.finditer(sentence))
    elif qtype == "who":
        ok = bool(_new_names(sentence, qwords))
    else:  # where
        ok = bool(_new_names(sentence, qwords)) or bool(_PLACE_PREP.search(sentence))
    return 1.0 if ok else -1.0


def _default_weight(term: str) -> float:
    """Term weight when the index gave none: longer words and numbers/names like 01.ai count more."""
    return 1.0 + math.log1p(len(term)) + (1.0 if any(ch.isdigit() for ch in term) or "." in term else 0.0)


class AnswerComposer:
    """Chooses the answer sentence among the top passages and builds the citations.

    Every sentence of the top passages is first ranked by how much of the question's
    (idf-weighted) wording it holds, alone and with its neighbours; the likeliest few are then
    embedded and scored (index/answer/select.py) on that wording, its word pairs and spread, its cosine
    similarity to the question, how well each question word finds a word of like meaning in it
    (token vectors of the same model), whether it holds the kind of thing asked for (a name for
    "who", a date for "when", a number for "how many") and how highly retrieval ranked its
    passage. The best wording, cosine and alignment among the scored sentences, the passages'
    cosine and the chosen sentence's type make the confidence that decides between an answer and
    "not found" (fitted weights from index/fitted.json, or hand-set ones without it).
    """

    def __init__(
        self,
        embedder: Embedder,
        *,
        citations: int = 3,
        candidates: int = 5,
        embed_sentences: int = 4,
        embed_words: int = 24,
        min_confidence: float | None = None,
        idf: Callable[[Sequence[str]], Mapping[str, float]] | None = None,
        scorer: TreeScorer | None | bool = True,
        standalone: bool = True,
        reader: SentenceReader | PassageReader | ReaderPair | None = None,
        reader_sentences: int | None = None,
    ) -> None:
        if citations < 1 or candidates < 1 or embed_sentences < 1 or embed_words < 1 or (reader_sentences or 1) < 1:
            raise ValueError("citations, candidates, embed_sentences, embed_words and reader_sentences must be at least 1")
        self.embedder = embedder
        self.citations = citations
        self.candidates = candidates
        self.embed_sentences = embed_sentences
        self.embed_words = embed_words
        # The reader (index/reader.py), when given, reads the question against the likeliest
        # `reader_sentences` sentences and its score chooses the quote and makes the confidence
        # (calibrated by bench/fit_reader.py; without that section of fitted.json, its raw score).
        self.reader = reader
        # With both readers (ReaderPair), `reader_*` is the sentence reader's side, `passage_*` the passage reader's.
        pair = reader if isinstance(reader, ReaderPair) else None
        first = reader.sentence if isinstance(reader, ReaderPair) else reader
        fitted = (_FITTED.passage_reader if isinstance(reader, PassageReader) else _FITTED.reader) if _FITTED is not None else None
        self.reader_confidence: ReaderConfidence | None = _checked(fitted, first)
        self.passage_confidence = _checked(_FITTED.passage_reader if _FITTED is not None else None, pair.passage) if pair else None
        self.pair_confidence: PairConfidence | None = None
        if pair is not None and _FITTED is not None and _FITTED.pair is not None:
            self.pair_confidence = _FITTED.pair
            if (pair.sentence.declared_sha256(), pair.passage.declared_sha256()) != (_FITTED.pair.reader_sha256, _FITTED.pair.passage_sha256):
                if not select.REFITTING:
                    raise FittedModelError("the two readers' threshold in fitted.json was fitted for other reader files; "
                                           "rerun bench/fit_reader.py --pair --write")
                self.pair_confidence = None
        # As many sentences as the confidence was fitted for (it reads the margin over the runner-up).
        # (The passage reader: as many top passages, read whole.)
        unfitted = 3 if isinstance(reader, PassageReader) else 8
        self.reader_sentences = reader_sentences or (self.reader_confidence.sentences if self.reader_confidence else unfitted)
        self.passages_read = self.passage_confidence.sentences if self.passage_confidence is not None else 3
        self._own_threshold = min_confidence is not None  # CITEBOT_MIN_CONFIDENCE: one threshold for every reading
        if min_confidence is not None:
            self.min_confidence = min_confidence
        elif pair is not None:
            self.min_confidence = self.pair_confidence.threshold if self.pair_confidence is not None else 0.5
        elif reader is not None:
            self.min_confidence = self.reader_confidence.threshold if self.reader_confidence is not None else 0.5
        else:
            self.min_confidence = DEFAULT_MIN_CONFIDENCE
        self.idf = idf
        # True: the fitted trees when present; False/None: the hand-set linear score; or a given scorer.
        self.scorer = (_FITTED.scorer if _FITTED else None) if scorer is True else (scorer or None)
        # Quote the previous sentence too when the answering one leans on it ("It was founded in ...").
        self.standalone = standalone
        self.fitted_confidence = _FITTED if _FITTED is not None and _FITTED.confidence is not None else None

    def compose(self, query: Query, hits: Sequence[Hit]) -> Answer:
        """The Answer for `query` from ranked hits (best first); it repeats the question as typed."""
        question = query.typed
        if not hits:
            return Answer(question=question, found=False, answer=None)
        cands, confidence, rated = self._chosen(query, hits[: self.candidates])
        nearest = tuple(dict.fromkeys(h.title for h in hits[:3]))
        if not cands:
            return Answer(question=question, found=False, answer=None, nearest=nearest, closest=self._closest(hits))
        best = max(cands, key=lambda c: c.score)
        # Both readers, but a follow-up read by the sentence reader alone: its own threshold.
        alone = isinstance(self.reader, ReaderPair) and rated is not None and (query.context or query.prefer)
        limit = rated.threshold if alone and rated is not None and not self._own_threshold else self.min_confidence
        if confidence < limit:
            return Answer(question=question, found=False, answer=None, nearest=nearest, confidence=confidence,
                          closest=self._closest(hits))
        # The rules' answer words where they are sure; else the passage reader's best span in the quote.
        bold = highlight(query.text, best.text) or span_in(best)
        if self.standalone:
            lead = standalone_start(best)
            if lead < best.start:  # quote the sentence it leans on too; bold words shift with it
                best.text, shift, best.start = best.hit.text[lead - best.hit.start: best.end - best.hit.start], best.start - lead, lead
                bold = tuple((a + shift, b + shift) for a, b in bold)
        cites = self._citations(best, hits, cands, rated)
        return Answer(
            question=question,
            found=True,
            answer=best.text,
            citations=tuple(cites[: self.citations]),
            more=tuple(cites[self.citations:]),
            confidence=confidence,
            highlights=bold,
        )

    def _closest(self, hits: Sequence[Hit]) -> tuple[Citation, ...]:
        """Up to `citations` passages that share a word with the question (BM25 matched them),
        best first, one per stretch of an article: shown, labelled as not an answer, with "not found"."""
        out: list[Citation] = []
        for h in hits:
            if len(out) >= self.citations:
                break
            if h.lexical <= 0 or any(c.source == h.source and c.collection == h.collection and h.start < c.end and c.start < h.end for c in out):
                continue
            out.append(Citation(n=len(out) + 1, title=h.title, date=h.date, url=h.url, source=h.source, snippet=h.text,
                                **_dates(h),
                                start=h.start, end=h.end, score=round(float(h.score), 6), collection=h.collection))
        return tuple(out)

    def _weights(self, query: Query) -> dict[str, float]:
        """idf of each question term: from the index when the query carries it, else a guess."""
        terms = list(dict.fromkeys(query.tokens))
        # "01.ai" also yields "01" and "ai": count such a name once, not three times.
        parts = {p for t in terms if re.search(r"[.\-']", t) for p in re.split(r"[.\-']", t)}
        terms = [t for t in terms if t not in parts or re.search(r"[.\-']", t)] or terms
        given: Mapping[str, float] = dict(query.term_weights)
        if not given and self.idf is not None:
            given = self.idf(terms)
        return {t: float(given[t]) if t in given else _default_weight(t) for t in terms}

    def score_sentences(self, query: Query, hits: Sequence[Hit]) -> list[_Candidate]:
        """The scored candidate sentences of the top hits (what `compose` chooses from)."""
        return self._chosen(query, hits[: self.candidates])[0] if hits else []

    def _chosen(self, query: Query, hits: Sequence[Hit]) -> tuple[list[_Candidate], float, ReaderConfidence | None]:
        """The scored candidates the quote is chosen from, the confidence in the best of them, and the
        reader confidence that made it (its `related` cut lists further sources).

        With both readers, each scores its own copies of the candidates and the one more confident
        in its best sentence is used (index/answer/pair.py); a follow-up read with its conversation
        (`query.context`) is read by the sentence reader alone, whose reading of follow-ups was
        measured and tuned (bench/RESULTS.md, issue 29: 77% right against the passage reader's 62%)."""
        ranked = self._ranked(query, self._weights(query), hits)
        if not ranked:
            return [], 0.0, None
        if self.reader is None:
            cands = self._embedded(query, ranked)
            return cands, self._confidence(max(cands, key=lambda c: c.score), cands, hits, None), None
        sides: list[tuple[SentenceReader | PassageReader, ReaderConfidence | None, int, list[_Candidate]]]
        if isinstance(self.reader, ReaderPair):
            sides = [(self.reader.sentence, self.reader_confidence, self.reader_sentences, ranked)]
            if not (query.context or query.prefer):
                sides.append((self.reader.passage, self.passage_confidence, self.passages_read, [copy.copy(c) for c in ranked]))
        else:
            sides = [(self.reader, self.reader_confidence, self.reader_sentences, ranked)]
        options = []
        for reader, rc, n, mine in sides:
            cands = self._read(reader, rc, n, query, mine)
            if cands:
                options.append((cands, self._confidence(max(cands, key=lambda c: c.score), cands, hits, rc), rc))
        return max(options, key=lambda o: o[1]) if options else ([], 0.0, None)

    def _ranked(self, query: Query, weights: dict[str, float], hits: Sequence[Hit]) -> list[_Candidate]:
        """Every sentence of the top hits with its wording features, lexically likeliest first."""
        question = query.text
        qwords = {w.lower() for w in _QWORD.findall(question)}
        qtype = query.qtype
        qtokens = list(query.tokens)
        total = sum(weights.values())
        heaviest = max(weights.values(), default=0.0) or 1.0
        # The question's names and numbers (capitalised past its first word, or with a digit).
        raw_words = _QWORD.findall(question)
        specific = {t for k, w in enumerate(raw_words) if (k > 0 and w[0].isupper()) or any(ch.isdigit() for ch in w)
                    for t in tokenize(w)}
        q_neg = bool(_NEG.search(question))
        top_score = hits[0].score or 1.0
        seen: set[tuple[int, int, int]] = set()
        cands: list[_Candidate] = []
        for rank, h in enumerate(hits):
            title_terms = set(tokenize(h.title))
            sent_tokens = [tokenize(h.text[s - h.start: e - h.start]) for s, e in h.sentences]
            sent_terms = [set(t) for t in sent_tokens]
            for i, (s, e) in enumerate(h.sentences):
                # Overlapping passages share sentences: score each sentence once, at its best rank.
                if (h.article_id, s, e) in seen:
                    continue
                seen.add((h.article_id, s, e))
                text = h.text[s - h.start: e - h.start]
                if len(text.split()) < 3:
                    continue
                have = sent_terms[i]
                around = have | (sent_terms[i - 1] if i > 0 else set()) | (sent_terms[i + 1] if i + 1 < len(sent_terms) else set())
                pairs, new, spread = lexical_shape(qtokens, sent_tokens[i])
                feat = SentenceFeatures(
                    coverage=_share(weights, total, have, title_terms),
                    context=_share(weights, total, around, title_terms),
                    typed=_typed(qtype, text, qwords), rank=rank, bigrams=pairs, new_words=new,
                    first=i == 0, spread=spread, passage_score=h.score / top_score, passage_dense=h.dense,
                    words=len(text.split()), qtype=qtype,
                    missing=max((w for t, w in weights.items() if t not in around and t not in title_terms), default=0.0) / heaviest,
                    names_missing=sum(1 for t in specific if t not in around and t not in title_terms) / len(specific) if specific else 0.0,
                    negation=float(q_neg and not _NEG.search(text)),
                )
                cands.append(_Candidate(rank, h, s, e, text, feat))
        # Only the lexically likeliest few sentences are read or embedded: the bot answers in milliseconds.
        ranked = sorted(cands, key=lambda c: -(c.coverage + 0.3 * c.context - 0.05 * c.hit_rank))
        for k, c in enumerate(ranked):
            c.lex_rank = k
        return ranked

    def _read(self, reader: SentenceReader | PassageReader, rc: ReaderConfidence | None, n: int, query: Query,
              ranked: list[_Candidate]) -> list[_Candidate]:
        """The candidates a reader reads, scored by it (`n`: the sentences read, or for the passage
        reader the top passages read whole).

        The reader's one pass replaces the embedding pass: its score is the choice. Besides the
        likeliest sentences, the sentence reader reads the likeliest one of each other article that
        may be listed as a source, so a source is listed because the reader found it related."""
        weight = rc.coverage_weight if rc is not None else 0.0
        if isinstance(reader, PassageReader):  # the top passages read whole (issue 28)
            return read_candidates(reader, query.text, ranked, n, weight)
        read = [ranked[k] for k in read_set([c.hit_rank for c in ranked], [c.hit.article_id for c in ranked], n, self.citations)]
        for c, v in zip(read, reader.scores(query.text, [(c.hit.title, c.text) for c in read])):
            c.logit = float(v)
            c.score = c.logit + weight * c.coverage
        return read

    def _embedded(self, query: Query, ranked: list[_Candidate]) -> list[_Candidate]:
        """The lexically likeliest `embed_sentences` candidates scored with the embedding model's signals (no reader)."""
        question, qvec = query.text, query.vector
        prior = ranked[: self.embed_sentences]
        # Model time grows with the longest sentence of the batch: a long sentence is judged by its
        # first `embed_words` words (the wording signals above still read all of it).
        texts = [" ".join(c.text.split()[: self.embed_words]) for c in prior]
        tokens = isinstance(self.embedder, TokenEmbedder)
        if isinstance(self.embedder, TokenEmbedder):
            # One model run: the sentences' vectors and token vectors (and the question's tokens
            # when the query came without them).
            if query.token_vectors is not None:
                qtok = query.token_vectors
                vecs, toks = self.embedder.encode_tokens(texts)
            else:
                vecs, toks = self.embedder.encode_tokens([question, *texts])
                vecs, qtok, toks = vecs[1:], toks[0], toks[1:]
            for c, tv in zip(prior, toks):
                c.feat.align, c.feat.align_strong, c.feat.align_back, c.feat.align_min = alignment(qtok, tv)
        else:
            vecs = self.embedder.encode(texts)
        for c, v in zip(prior, vecs @ qvec):
            c.feat.dense = float(v)
            if not tokens:  # an embedder without token vectors: sentence cosine stands in
                c.feat.align = c.feat.align_back = c.feat.align_min = c.feat.dense
        best = {k: max(getattr(c.feat, k) for c in prior) for k in ("coverage", "dense", "context", "align")}
        for c in prior:
            c.row = c.feat.row(best)
        scores: Sequence[float] | np.ndarray
        if self.scorer is not None:
            scores = self.scorer.score(np.array([c.row for c in prior]))
        else:
            scores = [linear_score(c.feat) for c in prior]
        for c, sc in zip(prior, scores):
            c.score = float(sc)
        return prior

    def _confidence(self, best: _Candidate, cands: Sequence[_Candidate], hits: Sequence[Hit], rc: ReaderConfidence | None) -> float:
        """One number in [0, 1] from several signals: wording covered, meaning, passage similarity.

        The evidence is the best of the scored sentences, not only the chosen one's: the scorer
        may prefer a sentence that says it in other words, which is no reason to doubt the match.
        """
        if best.logit is not None:
            if rc is None:
                return 1.0 / (1.0 + math.exp(-best.logit))
            logits = [c.logit if c.logit is not None else -10.0 for c in cands]
            values = reader_evidence(logits, cands.index(best), [c.hit.article_id for c in cands], best.feat,
                                     max((h.dense for h in hits), default=0.0))
            return rc.probability(values)
        ev = evidence(best, cands, hits)
        return self.fitted_confidence.probability(ev) if self.fitted_confidence is not None else hand_confidence(ev)

    def _citations(self, best: _Candidate, hits: Sequence[Hit], cands: Sequence[_Candidate] = (),
                   rc: ReaderConfidence | None = None) -> list[Citation]:
        ordered = [best.hit] + [h for h in hits if h.passage_id != best.hit.passage_id]
        if best.logit is not None:
            # With the reader, a further passage is listed when it is related to the question: of the
            # quoted article, or of an article one of whose sentences the reader rated relevant (it
            # reads one of each top article). Not every passage retrieval brought up: an unrelated
            # article never shows.
            related = rc.related if rc is not None else 0.0
            rated = [c for c in cands if c.logit is not None and c.logit >= related]
            articles = {best.hit.article_id} | {c.hit.article_id for c in rated}
            # A passage holding a sentence the reader rated related comes first (best rated first),
            # then the rest in retrieval order.
            def order(ih: tuple[int, Hit]) -> tuple[int, float]:
                inside = [c.logit for c in rated if c.logit is not None and c.hit.passage_id == ih[1].passage_id]
                return (0, -max(inside)) if inside else (1, ih[0])

            ordered = [best.hit] + [h for _, h in sorted(enumerate(ordered[1:]), key=order) if h.article_id in articles]
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
                    n=len(out) + 1, title=h.title, date=h.date, url=h.url, source=h.source, **_dates(h),
                    snippet=h.text, start=h.start, end=h.end, score=round(float(h.score), 6),
                    answer_start=ans[0], answer_end=ans[1], collection=h.collection,
                )
            )
        return out


_TITLE_CREDIT = 0.8
# A sentence that cannot stand alone: it starts with a pronoun or demonstrative ("It was founded
# in ...", "These were ...", "He said ..."), or a connective that continues the one before.
_LEANS = re.compile(
    r"^[\"'“‘(]*(?:he|she|it|they|this|these|that|those|his|her|its|their|such|however|moreover|furthermore|"
    r"also|but|and|thus|therefore|hence|instead|likewise|similarly|in addition|as a result)\b",
    re.I,
)


def _checked(fitted: ReaderConfidence | None, reader: SentenceReader | PassageReader | None) -> ReaderConfidence | None:
    """A reader's fitted confidence, if it was fitted for this reader's file (FittedModelError if not,
    unless a bench script is refitting it)."""
    if fitted is None or reader is None:
        return None
    if reader.declared_sha256() != fitted.reader_sha256:
        if not select.REFITTING:
            raise FittedModelError(f"the {reader.kind} reader's confidence in fitted.json was fitted for another reader file; "
                                   "rerun bench/fit_reader.py --write")
        return None
    return fitted


def span_in(c: _Candidate) -> tuple[tuple[int, int], ...]:
    """The passage reader's best span in candidate `c`, as offsets into its text (none without one)."""
    if c.span is None or not c.start <= c.span[0] < c.span[1] <= c.end:
        return ()
    return ((c.span[0] - c.start, c.span[1] - c.start),)


def _dates(h: Hit) -> dict[str, Any]:
    """A hit's date fields beyond `date`, carried into its citation."""
    return {"updated": h.updated, "date_source": h.date_source, "date_estimated": h.date_estimated}


def standalone_start(c: _Candidate) -> int:
    """Where a quote of candidate `c` should start (an article offset): its own start, or the
    previous sentence's when `c` leans on it and that sentence is in the same passage (so the quote
    stays one contiguous, verbatim piece of the cited snippet; at most two sentences)."""
    if not _LEANS.match(c.text):
        return c.start
    spans, h = c.hit.sentences, c.hit
    i = next((k for k, (s, e) in enumerate(spans) if s == c.start), 0)
    if i == 0:
        return c.start
    s, e = spans[i - 1]
    prev, gap = h.text[s - h.start: e - h.start], h.text[e - h.start: c.start - h.start]
    # Only a sentence of the same paragraph, not a heading or a list item above it.
    if "\n\n" in gap or not re.search(r"[.!?][\"'”’)]*\s*$", prev) or len(prev.split()) < 4:
        return c.start
    return s


def evidence(best: _Candidate, cands: Sequence[_Candidate], hits: Sequence[Hit]) -> list[float]:
    """The confidence's inputs, in select.EVIDENCE order (see `select.evidence_row`)."""
    inputs = [(c.coverage, c.context, c.dense, c.typed, c.feat.align, c.feat.align_strong, c.feat.align_min, c.feat.missing,
               c.feat.names_missing, c.feat.negation) for c in cands]
    return evidence_row(inputs, [c.score for c in cands], cands.index(best), max(h.dense for h in hits))


def _share(weights: Mapping[str, float], total: float, have: set[str], title: set[str]) -> float:
    """Weighted share of question terms present; a term only in the article's title counts most.

    Sentences often refer to their article's subject as "it" or "the company": the title stands in.
    """
    if total <= 0:
        return 0.0
    got = sum(w if t in have else _TITLE_CREDIT * w if t in title else 0.0 for t, w in weights.items())
    return got / total
