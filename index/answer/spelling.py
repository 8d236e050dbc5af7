"""Typo forgiveness: a question word the index has never seen is replaced by its likeliest indexed spelling.

Only words absent from the index's vocabulary are touched, so a question spelt right is asked
unchanged. Candidates are the words one edit away (a letter deleted, inserted, replaced, or two
neighbours swapped: Damerau-Levenshtein distance 1, which covers a single slip of the finger);
of those whose stem the index holds, one that keeps the first letter wins, then the one in the
most passages (Norvig's corrector, with document frequency as the prior). Words shorter than `MIN_LENGTH` letters are left alone:
one edit from a 4-letter word reaches too many real words to guess from; so are real words the
index lacks (the model's own vocabulary says which: see `dictionary`).
"""
from __future__ import annotations

import functools
import re
from collections.abc import Callable
from pathlib import Path

from ..words import STOPWORDS, stem

MIN_LENGTH = 5
_LETTERS = "abcdefghijklmnopqrstuvwxyz"
_INFLECTIONS = ("e", "es", "en", "ed", "s")
_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)?", re.U)


def edits1(word: str) -> set[str]:
    """Every string one delete, swap of neighbours, replace or insert away from `word`."""
    splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    deletes = {a + b[1:] for a, b in splits if b}
    swaps = {a + b[1] + b[0] + b[2:] for a, b in splits if len(b) > 1}
    replaces = {a + c + b[1:] for a, b in splits if b for c in _LETTERS}
    inserts = {a + c + b for a, b in splits for c in _LETTERS}
    return (deletes | swaps | replaces | inserts) - {word}


def dictionary(model_path: str | Path) -> frozenset[str]:
    """Whole English words the embedding model's WordPiece vocabulary holds (vocab.txt), 5+ letters.

    A word found there is a real word even when the index lacks it ("drink", "clarity", "Nexus"),
    so it is not "corrected" into an indexed neighbour ("brink", "charity", "nexts"): that turned
    right "not found" replies into wrong answers. Empty for a model without a vocab.txt.
    """
    return _dictionary(str(model_path))


@functools.lru_cache(maxsize=4)
def _dictionary(model_path: str) -> frozenset[str]:
    vocab = Path(model_path) / "vocab.txt"
    if not vocab.is_file():
        return frozenset()
    words = (w.strip() for w in vocab.read_text(encoding="utf-8", errors="replace").splitlines())
    return frozenset(w for w in words if len(w) >= MIN_LENGTH and w.isascii() and w.isalpha() and w.islower())


def correct_word(word: str, frequency: Callable[[str], int], known: frozenset[str] = frozenset()) -> str | None:
    """The likeliest indexed spelling of `word` (lower case), or None when it is known or no guess fits.

    `frequency(stem)` is the number of indexed passages holding a stem (0 when none do); `known`
    holds real words (see `dictionary`) that are never taken for typos.
    """
    if len(word) < MIN_LENGTH or not word.isascii() or not word.isalpha() or word in STOPWORDS:
        return None
    if frequency(stem(word)) > 0:
        return None
    # Not a typo but an inflection the stemmer does not strip ("waive" beside indexed "waived" →
    # "waiv"): the indexed stem itself, rather than a commoner word one edit away ("wave").
    for suffix in _INFLECTIONS:
        base = word[: -len(suffix)]
        if word.endswith(suffix) and len(base) >= 4 and frequency(base) > 0:
            return base
    if word in known:
        return None
    best: tuple[bool, int, str] | None = None
    for cand in edits1(word):
        if cand in STOPWORDS:
            continue
        df = frequency(stem(cand))
        if df <= 0:
            continue
        # A slip rarely hits a word's first letter, so a candidate that keeps it comes first
        # ("waken": "wake", not the commoner "taken"); then the most passages; then the
        # alphabetically first, so the choice is stable.
        key = (cand[0] == word[0], df, cand)
        if best is None or key[:2] > best[:2] or (key[:2] == best[:2] and cand < best[2]):
            best = key
    return best[2] if best else None


def correct_question(question: str, correct: Callable[[str], str | None]) -> tuple[str, dict[str, str]]:
    """The question with each word `correct` knows a better spelling of replaced, and {typed: corrected}.

    `correct(lower_case_word)` is `correct_word` bound to one index (see `LexicalIndex.correction`).
    """
    fixes: dict[str, str] = {}

    def fix(m: re.Match[str]) -> str:
        typed = m.group(0)
        got = correct(typed.lower())
        if got is None:
            return typed
        fixes[typed] = got
        return got.capitalize() if typed[:1].isupper() else got

    return _WORD.sub(fix, question), fixes
