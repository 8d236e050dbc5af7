"""Training pairs for citebot's reader: (question, candidate sentence, label) from SQuAD-format data.

Used by bench/train_reader.py; pure functions (no model), unit-tested in tests/bench/.

A question's **positive** is the sentence of its paragraph that holds the answer (the article's
own sentence splitter decides what a sentence is, so training sees what question time sees).
Its **negatives**, none of which contains the answer text anywhere:
- `paragraph`: another sentence of the same paragraph (half the time the one sharing most words
  with the question, else a random one);
- `removed`: the question against its paragraph with the answering sentence deleted — the best
  lexical match among what is left (only where the answer occurs nowhere else in the paragraph);
- `retrieved`: a sentence of another paragraph (same article three times in four, else another
  article) sharing words with the question, as retrieval brings up;
- `swapped`: the answering sentence against the question with one of its names or numbers
  swapped for another of the same article, or negated — on topic, same words, not answered
  (the kinds of SQuAD 2.0's adversarial questions a rule can write).
"""
from __future__ import annotations

import json
import random
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from index import sentences

_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9'\-]*")
_NAME = re.compile(r"\b[A-Z][a-z][a-z\-]+\b")
_NUMBER = re.compile(r"\b\d[\d,.]*\b")
_NEG = re.compile(r"\b(not|never|no|n't|neither|nor|without)\b", re.I)
_NEGATED = {"is": "isn't", "was": "wasn't", "are": "aren't", "were": "weren't", "did": "didn't", "does": "doesn't",
            "do": "don't", "can": "can't", "could": "couldn't", "has": "hasn't", "had": "hadn't", "have": "haven't",
            "will": "won't", "would": "wouldn't"}
_AUX = re.compile(r"\b(" + "|".join(_NEGATED) + r")\b")
_STOP = frozenset(
    "a an the of in on at to for from by with and or as is was are were be been did does do what which who whom "
    "whose when where why how that this these those it its his her their they he she there than then into".split()
)


NEGATIVE_KINDS = ("paragraph", "removed", "retrieved", "swapped")


@dataclass(frozen=True)
class Pair:
    """One training or evaluation example; `kind` says where a negative came from."""

    question: str
    title: str
    sentence: str
    label: int
    kind: str


@dataclass(frozen=True)
class Item:
    """One SQuAD question with its paragraph split into sentences."""

    article: int
    title: str
    question: str
    answers: tuple[str, ...]
    sents: tuple[str, ...]
    gold: int  # index of the answering sentence, -1 when none (unanswerable or spanning two)
    paragraph: int


def words(text: str) -> set[str]:
    """Lower-cased content words."""
    return {w.lower() for w in _WORD.findall(text)} - _STOP


def load_items(path: Path) -> list[Item]:
    """Every question of a SQuAD v1.1/v2.0 file, with its paragraph's sentences and gold sentence."""
    data = json.loads(path.read_text(encoding="utf-8"))["data"]
    out: list[Item] = []
    pid = 0
    for a, art in enumerate(data):
        title = art["title"].replace("_", " ")
        for para in art["paragraphs"]:
            ctx = para["context"]
            spans = sentences(ctx)
            sents = tuple(ctx[s:e] for s, e in spans)
            for qa in para["qas"]:
                answers = tuple(x["text"] for x in qa.get("answers", []))
                gold = -1
                if answers and not qa.get("is_impossible", False):
                    st = qa["answers"][0]["answer_start"]
                    en = st + len(qa["answers"][0]["text"])
                    for i, (s, e) in enumerate(spans):
                        if s <= st and en <= e:
                            gold = i
                            break
                out.append(Item(a, title, qa["question"], answers, sents, gold, pid))
            pid += 1
    return out


def holds(sentence: str, answers: Sequence[str]) -> bool:
    """Whether a sentence contains one of the answer strings (case-insensitive)."""
    low = sentence.lower()
    return any(x.lower() in low for x in answers if x.strip())


def removable(item: Item) -> bool:
    """Whether deleting the gold sentence leaves no answer string anywhere in the paragraph."""
    return item.gold >= 0 and not any(holds(s, item.answers) for i, s in enumerate(item.sents) if i != item.gold)


def _best(qw: set[str], cands: Sequence[str]) -> str | None:
    scored = [(len(qw & words(s)), k, s) for k, s in enumerate(cands)]
    scored = [x for x in scored if x[0] > 0]
    return max(scored)[2] if scored else None


def swap_question(item: Item, article_sents: Sequence[str], rng: random.Random) -> str | None:
    """The question with one name/number the answer sentence shares swapped, or negated; None if no rule applies."""
    q, pos = item.question, item.sents[item.gold]
    options = []
    names = [m for m in _NAME.finditer(q) if m.start() > 0 and m.group() in pos]
    nums = [m for m in _NUMBER.finditer(q) if m.group() in pos]
    if names:
        pool = sorted({n for s in article_sents for n in _NAME.findall(s) if n not in pos and n.lower() not in _STOP})
        if pool:
            m = rng.choice(names)
            options.append(q[: m.start()] + rng.choice(pool) + q[m.end():])
    if nums:
        m = rng.choice(nums)
        digits = m.group().replace(",", "")
        if digits.isdigit():
            n = int(digits)
            other = n + rng.choice([-1, 1]) * rng.randint(1, max(2, n // 10 if n > 100 else 9))
            if other >= 0 and str(other) not in pos:
                options.append(q[: m.start()] + str(other) + q[m.end():])
    aux = _AUX.search(q)
    if aux and not _NEG.search(q) and not _NEG.search(pos):
        options.append(q[: aux.start()] + _NEGATED[aux.group()] + q[aux.end():])
    return rng.choice(options) if options else None


def build_pairs(items: Sequence[Item], rng: random.Random, *, swapped: float = 0.35) -> Iterator[Pair]:
    """Positives and negatives for each answerable item (see the module docstring), in item order."""
    by_article: dict[int, list[tuple[int, str]]] = {}
    for it in items:
        lst = by_article.setdefault(it.article, [])
        if not lst or lst[-1][0] != it.paragraph:
            lst.extend((it.paragraph, s) for s in it.sents)
    articles = sorted(by_article)
    for it in items:
        if it.gold < 0:
            continue
        qw = words(it.question)
        pos = it.sents[it.gold]
        yield Pair(it.question, it.title, pos, 1, "positive")
        others = [s for i, s in enumerate(it.sents) if i != it.gold and not holds(s, it.answers) and len(s.split()) >= 3]
        if others:
            pick = _best(qw, others) if rng.random() < 0.5 else None
            yield Pair(it.question, it.title, pick or rng.choice(others), 0, "paragraph")
        if removable(it) and others:
            left = _best(qw, others)
            if left is not None:
                yield Pair(it.question, it.title, left, 0, "removed")
        art = it.article if rng.random() < 0.75 or len(articles) == 1 else rng.choice(articles)
        pool = [s for p, s in by_article[art] if p != it.paragraph]
        if len(pool) > 60:
            pool = rng.sample(pool, 60)
        far = _best(qw, [s for s in pool if not holds(s, it.answers) and len(s.split()) >= 3])
        if far is not None:
            yield Pair(it.question, it.title, far, 0, "retrieved")
        if rng.random() < swapped:
            sq = swap_question(it, [s for _, s in by_article[it.article]], rng)
            if sq is not None:
                yield Pair(sq, it.title, pos, 0, "swapped")
