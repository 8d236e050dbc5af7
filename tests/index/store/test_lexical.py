"""BM25 search: the top k it returns is the exhaustive ranking's (bm25s' scores, every passage), ties included."""
from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest

from index.store.lexical import LexicalIndex
from index.words import tokenize

WORDS = [f"w{i}" for i in range(400)]


def corpus(n: int, seed: int) -> list[str]:
    """Passages with a skewed vocabulary, a word in every passage ("report", like a title word
    indexed with each passage), one in most, and repeated passages (equal scores)."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        if i % 17 == 3 and out:
            out.append(out[rng.randrange(len(out))])  # an exact duplicate: ties
            continue
        words = [WORDS[min(int(rng.paretovariate(0.8)) - 1, len(WORDS) - 1)] for _ in range(rng.randint(4, 30))]
        words.append("report")
        if rng.random() < 0.6:
            words.append("annual")
        out.append(" ".join(words))
    return out


def exhaustive(lex: LexicalIndex, query: str, k: int, mask: np.ndarray | None = None) -> list[tuple[int, float]]:
    """The reference: bm25s scores for every passage, best first, equal scores by passage order."""
    bm25 = lex._bm25
    terms = [t for t in tokenize(query) if t in bm25.vocab_dict]
    if not terms:
        return []
    scores = np.asarray(bm25.get_scores(terms), dtype=np.float32)
    if mask is not None:
        scores = scores * mask
    rows = [r for r in np.lexsort((np.arange(len(scores)), -scores)) if scores[r] > 0][:k]
    return [(int(lex.ids[r]), float(scores[r])) for r in rows]


@pytest.fixture(scope="module")
def lex() -> LexicalIndex:
    texts = corpus(3000, seed=3)
    return LexicalIndex.build([1000 + i for i in range(len(texts))], texts)


QUERIES = [
    "w0",  # one word in most passages
    "report",  # one word in every passage
    "annual report w3",
    "report w250 w120 w7",
    "report annual w1 w2 w0",  # only frequent words
    "w399 report",
    "w5 w5 w9 report",  # a repeated word counts twice
    "report w300",  # few passages besides the common word's
    "missingword report",
    "w42 w43 w44 w45 w46 w47 annual",
]


@pytest.mark.parametrize("query", QUERIES)
@pytest.mark.parametrize("k", [1, 5, 50, 400])
def test_search_is_the_exhaustive_top_k(lex: LexicalIndex, query: str, k: int) -> None:
    assert lex.search(query, k) == exhaustive(lex, query, k)


@pytest.mark.parametrize("query", QUERIES)
@pytest.mark.parametrize("share", [0.002, 0.05, 0.5])
def test_masked_search_is_the_exhaustive_top_k(lex: LexicalIndex, query: str, share: float) -> None:
    mask = np.random.default_rng(7).random(len(lex.ids)) < share
    got = lex.search(query, 50, mask)
    assert got == exhaustive(lex, query, 50, mask)
    assert all(mask[p - 1000] for p, _ in got)


def test_equal_scores_rank_the_earlier_passage_first() -> None:
    texts = ["alpha beta", "gamma delta", "alpha beta", "alpha beta", "beta epsilon"]
    lex = LexicalIndex.build([10, 11, 12, 13, 14], texts)
    got = lex.search("alpha", 2)
    assert [p for p, _ in got] == [10, 12]
    assert got[0][1] == got[1][1] > 0


def test_nothing_matches(lex: LexicalIndex) -> None:
    assert lex.search("nowhere to be found", 10) == []
    assert lex.search("report", 10, np.zeros(len(lex.ids), dtype=bool)) == []
    assert lex.search("report", 0) == []


def test_search_after_save_and_load(lex: LexicalIndex, tmp_path: Path) -> None:
    lex.save(tmp_path / "lex")
    again = LexicalIndex.load(tmp_path / "lex")
    for q in QUERIES:
        assert again.search(q, 50) == lex.search(q, 50)
