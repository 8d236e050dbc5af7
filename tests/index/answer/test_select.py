"""Sentence selection: the fitted trees load and are evaluated as sklearn would, and alignment reads meaning."""
from __future__ import annotations

import numpy as np
import pytest

from index.answer.select import FEATURES, TreeScorer, alignment, lexical_shape, load_fitted


def test_trees_are_walked_left_when_at_or_below_the_threshold() -> None:
    # One stump on feature 0 (split at 0.5) plus a constant tree: sums the leaves reached.
    trees = [((0, 0.5, 1, 2, 0.0), (0, 0.0, -1, -1, -1.0), (0, 0.0, -1, -1, 2.0)), ((0, 0.0, -1, -1, 0.25),)]
    s = TreeScorer(trees, FEATURES)
    rows = np.zeros((3, len(FEATURES)))
    rows[:, 0] = [0.2, 0.5, 0.9]
    assert s.score(rows).tolist() == [-0.75, -0.75, 2.25]


def test_trees_made_for_other_features_are_refused() -> None:
    with pytest.raises(ValueError, match="train_selector"):
        TreeScorer([], FEATURES[:-1])


def test_shipped_trees_load_and_prefer_the_answering_sentence() -> None:
    fitted = load_fitted()
    assert fitted is not None and 0.05 < fitted.threshold < 0.95
    scorer = fitted.scorer
    assert len(scorer.trees) >= 10
    good = dict.fromkeys(FEATURES, 0.0) | {"coverage": 0.9, "context": 0.9, "dense": 0.7, "align": 0.8, "align_strong": 0.8, "align_back": 0.6, "typed": 1.0, "passage_score": 1.0, "top_passage": 1.0, "words": 3.0}
    poor = dict.fromkeys(FEATURES, 0.0) | {"coverage": 0.1, "context": 0.2, "dense": 0.2, "align": 0.3, "align_back": 0.3, "typed": -1.0, "rank": 4.0, "passage_score": 0.4, "words": 3.0, "coverage_gap": -0.8, "dense_gap": -0.5, "context_gap": -0.7, "align_gap": -0.5}
    a, b = scorer.score(np.array([[good[f] for f in FEATURES], [poor[f] for f in FEATURES]]))
    assert a > b


def test_alignment_finds_words_of_like_meaning(embedder) -> None:
    _, (q, para, other) = embedder.encode_tokens([
        "Who led the attack on the fortress?",
        "The general commanded the assault on the castle.",
        "The harvest festival sells apples and pumpkins.",
    ])
    assert alignment(q, para)[0] > alignment(q, other)[0]


def test_lexical_shape_counts_word_pairs_in_order() -> None:
    pairs, new, spread = lexical_shape(["song", "dynasty", "attack"], ["attack", "song", "dynasty", "south"])
    assert pairs == 0.5 and new == 1 and spread == 1.0


def test_without_the_fitted_models_the_hand_set_scores_still_answer(engine, monkeypatch: pytest.MonkeyPatch) -> None:
    # index/fitted.json is fitted data: a checkout without it must still
    # answer and still refuse, with the hand-set sentence score and confidence.
    from index.answer.compose import AnswerComposer

    composer = AnswerComposer(engine.embedder, scorer=False, min_confidence=0.42)
    monkeypatch.setattr(composer, "fitted_confidence", None)
    monkeypatch.setattr(engine, "composer", composer)
    ans = engine.ask("who founded 01.AI?")
    assert ans.found and "Kai-Fu Lee" in ans.answer and 0.42 <= ans.confidence <= 1.0
    assert not engine.ask("What is a good recipe for lasagna?").found
