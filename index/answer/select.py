"""Sentence selection: the features that say whether a sentence answers a question, and the scorer.

The scorer is a small gradient-boosted tree model (50 trees of depth 3) fitted by
`bench/train_selector.py` on SQuAD v1.1 dev part A; the confidence is a logistic regression over
the evidence (EVIDENCE) fitted by `bench/refusal.py` on SQuAD v2.0 dev part A (answerable and
unanswerable questions) plus out-of-corpus questions, with its not-found threshold. Both live in
one data file, index/fitted.json, with their provenance (data files' sha256, script, date, seed,
feature names in order) and check rows scored by the fitting code. The loader refuses a file made
for other features (FittedModelError); without the file the hand-set scores are used.
"""
from __future__ import annotations

import json
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from ..types import TokenVectors
from ..words import STOPWORDS

log = logging.getLogger(__name__)

# Order matters: it is the column order of the fitted trees.
FEATURES = (
    "coverage", "context", "typed", "dense", "rank", "bigrams", "new_words", "first", "spread",
    "passage_score", "passage_dense", "words", "top_passage", "typed_who", "typed_when",
    "typed_number", "typed_where", "align", "align_strong", "align_back",
    "coverage_gap", "dense_gap", "context_gap", "align_gap",
)
# What the confidence reads, over the scored sentences of one question (order = fitted weights):
# the best wording, context, cosine and alignment among them and the passages' best cosine, then
# the chosen sentence's own: its answer type, wording, alignment, worst-matched question word,
# heaviest missing question term, share of closely matched words, the scorer's score for it and
# its margin over the runner-up, and whether it lacks the question's names/numbers or negation.
EVIDENCE = (
    "coverage", "context", "dense", "passage_dense", "typed", "align",
    "best_coverage", "best_align", "best_align_min", "best_missing", "best_align_strong", "score", "margin",
    "best_names_missing", "best_negation",
)
# With the reader (index/reader.py): what its confidence may read, over the reader-scored candidates
# of one question: the chosen sentence's logit and its margin over the runner-up, the best logit
# of another article, then the chosen sentence's own wording evidence and the passages' best cosine.
# bench/fit_reader.py picks which of these the fitted confidence uses (named, in order, in the file).
READER_EVIDENCE = ("logit", "margin", "other_article", "coverage", "context", "names_missing", "negation", "typed",
                   "missing", "passage_dense")
# Per candidate, what `evidence_row` reads (the bench records these tuples).
EVIDENCE_INPUTS = ("coverage", "context", "dense", "typed", "align", "align_strong", "align_min", "missing", "names_missing", "negation")
# Question words that name the kind of answer rather than its content.
_FILLER = frozenset({"many", "much", "year", "name", "type", "kind", "did", "does", "called"})
_SKIP = STOPWORDS | _FILLER


@dataclass
class SentenceFeatures:
    """What the scorer knows of one candidate sentence; the gaps are filled in per question."""

    coverage: float
    context: float
    typed: float
    rank: int
    bigrams: float
    new_words: int
    first: bool
    spread: float
    passage_score: float
    passage_dense: float
    words: int
    qtype: str | None
    dense: float = 0.0
    align: float = 0.0
    align_strong: float = 0.0
    align_back: float = 0.0
    # Read by the confidence only (not the trees' row): the worst-matched question word's best
    # cosine, and the weight of the heaviest question term absent from the sentence, its
    # neighbours and the title (as a share of the heaviest question term's weight).
    align_min: float = 0.0
    missing: float = 0.0
    # The share of the question's names and numbers absent from the sentence, its neighbours and
    # the title; 1 when the question is negated and the sentence is not.
    names_missing: float = 0.0
    negation: float = 0.0

    def row(self, best: dict[str, float]) -> list[float]:
        """The feature vector, in FEATURES order; `best` holds the question's best coverage etc."""
        t = self.typed
        return [
            self.coverage, self.context, t, self.dense, float(self.rank), self.bigrams,
            math.log1p(self.new_words), float(self.first), min(self.spread, 3.0),
            self.passage_score, self.passage_dense, math.log(max(self.words, 1)), float(self.rank == 0),
            t * (self.qtype == "who"), t * (self.qtype == "when"), t * (self.qtype == "number"),
            t * (self.qtype == "where"), self.align, self.align_strong, self.align_back,
            self.coverage - best["coverage"], self.dense - best["dense"],
            self.context - best["context"], self.align - best["align"],
        ]


def evidence_row(inputs: Sequence[Sequence[float]], scores: Sequence[float], best: int, passage_dense: float) -> list[float]:
    """The confidence's inputs, in EVIDENCE order, from each scored candidate's EVIDENCE_INPUTS
    values, the scorer's scores, the chosen candidate's index and the passages' best cosine."""
    col = list(zip(*inputs))
    b = inputs[best]
    rest = [s for i, s in enumerate(scores) if i != best]
    score = float(scores[best])
    return [
        max(col[0]), max(col[1]), max(col[2]), float(passage_dense), float(b[3]), max(col[4]),
        float(b[0]), float(b[4]), float(b[6]), float(b[7]), float(b[5]), score,
        score - max(rest) if rest else 1.0, float(b[8]), float(b[9]),
    ]


def reader_evidence(logits: Sequence[float], best: int, articles: Sequence[int], feat: SentenceFeatures,
                    passage_dense: float) -> dict[str, float]:
    """READER_EVIDENCE by name, from the reader's logits of the scored candidates (and their articles),
    the chosen one's index and features, and the passages' best cosine."""
    top = float(logits[best])
    rest = [float(v) for i, v in enumerate(logits) if i != best]
    other = [float(v) for v, a in zip(logits, articles) if a != articles[best]]
    return {
        "logit": top, "margin": top - max(rest) if rest else 0.0, "other_article": max(other) if other else -10.0,
        "coverage": feat.coverage, "context": feat.context, "names_missing": feat.names_missing,
        "negation": feat.negation, "typed": feat.typed, "missing": feat.missing, "passage_dense": float(passage_dense),
    }


def lexical_shape(q_tokens: Sequence[str], s_tokens: Sequence[str]) -> tuple[float, int, float]:
    """Share of the question's word pairs found in order, words the question lacks, match spread."""
    qset = set(q_tokens)
    qpairs = set(zip(q_tokens, q_tokens[1:]))
    pairs = len(qpairs & set(zip(s_tokens, s_tokens[1:]))) / len(qpairs) if qpairs else 0.0
    new = sum(1 for t in s_tokens if t not in qset)
    pos = [k for k, t in enumerate(s_tokens) if t in qset]
    # Matched words close together (a paraphrase of the question) vs scattered over a long sentence.
    spread = (max(pos) - min(pos) + 1) / len(pos) if len(pos) >= 2 else 3.0
    return pairs, new, spread


def _content(tv: TokenVectors) -> np.ndarray:
    """Vectors of the words that carry content (not stopwords or words like "many" or "year")."""
    rows = [i for i in tv.words if tv.pieces[i].lstrip("#").lower() not in _SKIP]
    return tv.vectors[rows or tv.words or slice(None)]


def alignment(question: TokenVectors, sentence: TokenVectors) -> tuple[float, float, float, float]:
    """How well the question's words find a word of like meaning in the sentence, and back.

    Returns (mean best cosine of each question word, share of question words with a close match
    (> 0.7), mean best cosine of each sentence word to the question, and the worst question
    word's best cosine: one word the sentence has nothing for is what an unanswerable question
    that looks answerable often turns on).
    """
    q = _content(question)
    if not len(q) or not sentence.words:
        return 0.0, 0.0, 0.0, 0.0
    best_q = (q @ sentence.vectors[sentence.words].T).max(axis=1)
    back = _content(sentence) @ question.vectors[question.words or slice(None)].T
    return float(best_q.mean()), float((best_q > 0.7).mean()), float(back.max(axis=1).mean()), float(best_q.min())


def linear_score(f: SentenceFeatures) -> float:
    """The hand-set score used before the fitted trees (and when they are missing)."""
    return 0.60 * f.coverage + 0.25 * f.context + 0.30 * f.dense + 0.10 * f.typed - 0.03 * f.rank


class TreeScorer:
    """Evaluates boosted regression trees given as (feature, threshold, left, right, value) node tuples."""

    def __init__(self, trees: Sequence[Sequence[tuple[int, float, int, int, float]]], features: Sequence[str]) -> None:
        if tuple(features) != FEATURES:
            raise FittedModelError("the fitted trees were made for another feature list; rerun bench/train_selector.py")
        self.trees = [tuple(t) for t in trees]

    def score(self, rows: np.ndarray) -> np.ndarray:
        """Raw (log-odds) score per row; higher = likelier to hold the answer."""
        out = np.zeros(len(rows))
        for n, x in enumerate(rows):
            total = 0.0
            for tree in self.trees:
                node = tree[0]
                while node[2] >= 0:  # an inner node: go left when x <= threshold
                    node = tree[node[2]] if x[node[0]] <= node[1] else tree[node[3]]
                total += node[4]
            out[n] = total
        return out


FITTED_FILE = "fitted.json"
FORMAT = 1
# Set by the bench scripts that refit the file (before importing index.answer.compose): a stale file is
# then only warned about, since refitting it is what they are about to do.
REFITTING = False


class FittedModelError(ValueError):
    """The fitted-model data file does not fit this code (other features, other format, damaged)."""


class Calibrated(NamedTuple):
    """A logistic regression over EVIDENCE, mapped through an isotonic calibration curve."""

    intercept: float
    weights: tuple[float, ...]
    # Isotonic calibration: raw logistic probability -> observed share right (np.interp knots).
    knots_x: tuple[float, ...] = ()
    knots_y: tuple[float, ...] = ()

    def raw(self, evidence: Sequence[float]) -> float:
        return logistic((self.intercept, self.weights), evidence)

    def __call__(self, evidence: Sequence[float]) -> float:
        p = self.raw(evidence)
        return float(np.interp(p, self.knots_x, self.knots_y)) if self.knots_x else p


class ReaderConfidence(NamedTuple):
    """The confidence when the reader chooses: a calibrated logistic over some READER_EVIDENCE values."""

    model: Calibrated
    evidence: tuple[str, ...]
    threshold: float
    related: float  # the reader logit a further source's best sentence needs to be listed under an answer
    reader_sha256: str  # the reader.onnx it was fitted with
    sentences: int  # how many sentences the reader reads per question (the composer's reader_sentences)
    coverage_weight: float = 0.0  # the quote is chosen by logit + this × the sentence's share of the question's words

    def probability(self, values: dict[str, float]) -> float:
        """The probability that the chosen sentence answers the question."""
        return self.model([values[k] for k in self.evidence])


class PairConfidence(NamedTuple):
    """Both readers at once (index/answer/pair.py): each chooses a quote and gives its own calibrated
    probability (the `reader` and `passage_reader` sections); the more probable one answers, and it
    is refused below `threshold` (fitted for that maximum by bench/fit_reader.py --pair)."""

    threshold: float
    reader_sha256: str  # the sentence reader's file it was fitted with
    passage_sha256: str  # and the passage reader's


class Fitted(NamedTuple):
    """What the bench scripts fitted: the sentence scorer, the confidence and its threshold."""

    scorer: TreeScorer
    confidence: Calibrated | None  # None: the file holds only the scorer (the hand-set confidence decides)
    threshold: float | None
    provenance: dict[str, Any]
    reader: ReaderConfidence | None = None  # fitted by bench/fit_reader.py; None: the reader's raw score decides
    passage_reader: ReaderConfidence | None = None  # the same for the passage reader (fit_reader.py --passage)
    pair: PairConfidence | None = None  # both readers (fit_reader.py --pair)

    def probability(self, evidence: Sequence[float]) -> float:
        """The fitted confidence: the probability that the chosen sentence answers the question."""
        return self.confidence(evidence) if self.confidence is not None else hand_confidence(evidence)


def logistic(confidence: tuple[float, Sequence[float]], evidence: Sequence[float]) -> float:
    """A logistic regression's probability: (intercept, weights) over EVIDENCE-ordered values."""
    b, w = confidence
    z = b + sum(x * y for x, y in zip(w, evidence))
    return 1.0 / (1.0 + math.exp(-z)) if z > -700 else 0.0


def hand_confidence(evidence: Sequence[float]) -> float:
    """The hand-set confidence used before the fitted one (and when it is missing); threshold 0.42."""
    cov, ctx, dense, top_dense, typed, _align = evidence[:6]
    return max(0.0, min(1.0, 0.45 * cov + 0.15 * ctx + 0.30 * dense + 0.10 * top_dense + 0.03 * typed))


def fitted_path() -> Path:
    """Where the shipped data file lives: index/fitted.json, package data of `index` (one floor up)."""
    return Path(__file__).parent.parent / FITTED_FILE


def parse_fitted(data: dict[str, Any]) -> Fitted:
    """The models of a fitted-model document; FittedModelError when they were made for other code."""
    try:
        if data.get("format") != FORMAT:
            raise FittedModelError(f"format {data.get('format')!r}, this code reads format {FORMAT}")
        sc, cf = data["scorer"], data.get("confidence")
        if tuple(sc["features"]) != FEATURES:
            raise FittedModelError(
                f"the sentence scorer was fitted on features {sc['features']} but the code computes {list(FEATURES)}; "
                "rerun bench/train_selector.py --write")
        trees = [[(int(n[0]), float(n[1]), int(n[2]), int(n[3]), float(n[4])) for n in t] for t in sc["trees"]]
        reader = _parse_reader(data["reader"]) if "reader" in data else None
        passage = _parse_reader(data["passage_reader"]) if "passage_reader" in data else None
        pair = (PairConfidence(float(data["pair"]["threshold"]), str(data["pair"]["reader_sha256"]),
                               str(data["pair"]["passage_sha256"])) if "pair" in data else None)
        if cf is None:
            return Fitted(TreeScorer(trees, sc["features"]), None, None, {"scorer": sc.get("provenance", {})}, reader, passage, pair)
        if tuple(cf["evidence"]) != EVIDENCE:
            raise FittedModelError(
                f"the confidence was fitted on evidence {cf['evidence']} but the code computes {list(EVIDENCE)}; "
                "rerun bench/refusal.py --write")
        conf = Calibrated(float(cf["intercept"]), tuple(float(x) for x in cf["weights"]),
                          tuple(float(x) for x in cf.get("calibration", {}).get("x", ())),
                          tuple(float(y) for y in cf.get("calibration", {}).get("y", ())))
        if len(conf.weights) != len(EVIDENCE) or len(conf.knots_x) != len(conf.knots_y):
            raise FittedModelError("the confidence's weights or calibration knots do not match its evidence list")
        return Fitted(TreeScorer(trees, sc["features"]), conf, float(cf["threshold"]),
                      {"scorer": sc.get("provenance", {}), "confidence": cf.get("provenance", {})}, reader, passage, pair)
    except (KeyError, TypeError, IndexError) as exc:
        raise FittedModelError(f"damaged fitted-model file: missing or malformed {exc}") from None


def _parse_reader(rd: dict[str, Any]) -> ReaderConfidence:
    names = tuple(rd["evidence"])
    if not names or any(n not in READER_EVIDENCE for n in names):
        raise FittedModelError(f"the reader's confidence reads {list(names)}, but the code computes {list(READER_EVIDENCE)}; "
                               "rerun bench/fit_reader.py --write")
    cal = rd.get("calibration", {})
    model = Calibrated(float(rd["intercept"]), tuple(float(x) for x in rd["weights"]),
                       tuple(float(x) for x in cal.get("x", ())), tuple(float(y) for y in cal.get("y", ())))
    if len(model.weights) != len(names) or len(model.knots_x) != len(model.knots_y):
        raise FittedModelError("the reader confidence's weights or calibration knots do not match its evidence list")
    return ReaderConfidence(model, names, float(rd["threshold"]), float(rd["related"]), str(rd["reader_sha256"]),
                            int(rd["reader_sentences"]), float(rd.get("coverage_weight", 0.0)))


def load_fitted(path: Path | None = None) -> Fitted | None:
    """The fitted models from index/fitted.json, or None when the file is absent (hand-set scores
    then decide). A file made for other features is refused with FittedModelError, never half-used."""
    path = path or fitted_path()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise FittedModelError(f"{path.name} is not valid JSON: {exc}") from None
    try:
        return parse_fitted(data)
    except FittedModelError as exc:
        if REFITTING:
            log.warning("ignoring %s while refitting it: %s", path.name, exc)
            return None
        raise FittedModelError(f"{path.name}: {exc}") from None


def write_fitted_section(section: str, content: dict[str, Any], path: Path | None = None) -> None:
    """Replace one section ("scorer" or "confidence") of the data file, keeping the other (bench only)."""
    path = path or fitted_path()
    data = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {"format": FORMAT}
    data["format"] = FORMAT
    data[section] = content
    path.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")


def read_set(hit_ranks: Sequence[int], articles: Sequence[int], sentences: int, passages: int) -> list[int]:
    """Which candidates the reader reads, as places in the lexical ranking (given each one's passage
    rank and article): the first `sentences`, then the first sentence of each of the top `passages`
    passages whose article none of those came from — so every article that may be listed as a
    source has a sentence the reader rated. The one definition: bench/fit_reader.py replays it."""
    out = list(range(min(sentences, len(hit_ranks))))
    covered = {articles[k] for k in out}
    for k, (r, a) in enumerate(zip(hit_ranks, articles)):
        if r < passages and a not in covered:
            out.append(k)
            covered.add(a)
    return out
