"""Typo forgiveness: unknown question words matched to indexed words one edit away."""
from __future__ import annotations

import pytest

from index.answer.spelling import correct_question, correct_word, edits1

FREQ = {"found": 12, "season": 3, "behind": 2, "fond": 0, "plot": 40, "pilot": 2, "garden": 5}


def freq(stem: str) -> int:
    return FREQ.get(stem, 0)


@pytest.mark.parametrize("typed, fixed", [
    ("fonded", "founded"),   # a letter left out
    ("fuonded", "founded"),  # neighbours swapped
    ("seasn", "season"),
    ("behnid", "behind"),
    ("gardxn", "garden"),    # a letter replaced
])
def test_one_edit_is_corrected(typed: str, fixed: str) -> None:
    from index.words import stem as _stem

    got = correct_word(typed, freq)
    assert got is not None and _stem(got) == _stem(fixed)


def test_known_short_and_far_words_are_left_alone() -> None:
    assert correct_word("season", freq) is None  # known: never touched
    assert correct_word("plto", freq) is None  # 4 letters: too many neighbours to guess
    assert correct_word("xylophone", freq) is None  # nothing indexed within one edit
    assert correct_word("sea5n", freq) is None  # not a plain word


def test_the_most_frequent_neighbour_wins() -> None:
    # "plost" is one edit from both "plots" (stem "plot") and "post": the commoner wins.
    assert correct_word("plost", lambda s: {"plot": 1, "post": 9}.get(s, 0)) == "post"
    assert correct_word("plost", lambda s: {"plot": 9, "post": 1}.get(s, 0)) in ("plot", "plots")


def test_question_keeps_its_other_words_and_capitals() -> None:
    fixed, fixes = correct_question("Who Fonded 01.AI in the seasn?", lambda w: correct_word(w, freq))
    assert fixed.startswith("Who Found") and "01.AI" in fixed and "season" in fixed
    assert set(fixes) == {"Fonded", "seasn"}


def test_edits1_is_distance_one() -> None:
    e = edits1("abc")
    assert {"ab", "bac", "abd", "abcd"} <= e and "abc" not in e and "cab" not in e


@pytest.mark.slow
def test_a_typo_in_a_question_still_finds_the_answer(engine) -> None:
    ans = engine.ask("who fonded 01.ai?")
    assert ans.found and "Kai-Fu Lee" in ans.answer
    assert ans.question == "who fonded 01.ai?"  # shown as typed
    engine.correct_typos = False
    assert "Kai-Fu Lee" not in (engine.ask("who fonded 01.ai?").answer or "")


def test_real_words_the_index_lacks_are_not_taken_for_typos() -> None:
    """'drink' is not in the index but is a word: turning it into an indexed 'brink' made wrong answers."""
    f = {"brink": 3, "charity": 2}.get
    assert correct_word("drink", lambda s: f(s, 0)) == "brink"  # without the dictionary it would be
    assert correct_word("drink", lambda s: f(s, 0), frozenset({"drink"})) is None


def test_the_dictionary_is_the_models_whole_words() -> None:
    from index.answer.spelling import dictionary
    from index.model.embed import resolve_model

    words = dictionary(resolve_model("sentence-transformers/all-MiniLM-L6-v2"))
    if not words:
        pytest.skip("the bundled model has no vocab.txt here")
    assert {"drink", "clarity", "founded"} <= words
    assert not {"fonded", "behnid", "seasn"} & words and not any(w.startswith("##") for w in words)
