"""One Query per question: the question reaches the model once, and both kinds of embedder work."""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from index import Engine, TokenEmbedder, TokenVectors

QUESTION = "Who founded 01.AI?"


class Recording:
    """The real model, noting every text it is asked to embed (encode only)."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.name, self.dim = inner, inner.name, inner.dim
        self.texts: list[str] = []

    def encode(self, texts: Sequence[str], *, batch_size: int = 32) -> np.ndarray:
        self.texts += texts
        return self.inner.encode(texts, batch_size=batch_size)


class RecordingTokens(Recording):
    """The same, with token vectors."""

    def encode_tokens(self, texts: Sequence[str]) -> tuple[np.ndarray, list[TokenVectors]]:
        self.texts += texts
        return self.inner.encode_tokens(texts)


def test_the_question_is_embedded_once_per_ask(examples_index: Path, embedder) -> None:
    embedder._tok_cache.clear()  # a cached question would hide a second request for it
    rec = RecordingTokens(embedder)
    assert isinstance(rec, TokenEmbedder)
    answer = Engine(examples_index, rec).ask(f"  {QUESTION}  ")
    assert answer.found and "Kai-Fu Lee" in (answer.answer or "")
    assert answer.question == QUESTION
    assert rec.texts.count(QUESTION) == 1, rec.texts
    # Same answer as the engine on the bare embedder: the recording changes nothing.
    assert answer.to_json() == Engine(examples_index, embedder).ask(QUESTION).to_json()


def test_an_embedder_without_token_vectors_answers_from_sentence_vectors(examples_index: Path, embedder) -> None:
    rec = Recording(embedder)
    assert not isinstance(rec, TokenEmbedder)
    answer = Engine(examples_index, rec).ask(QUESTION)
    assert rec.texts.count(QUESTION) == 1, rec.texts
    assert answer.question == QUESTION
    cites = answer.citations if answer.found else answer.closest
    assert cites and any("01.AI" in c.snippet for c in cites)
