"""The passage reader (issue 28): the question read against whole passages, one pass each.

A start and an end logit for every word piece of `[CLS] question [SEP] passage [SEP]` (all-MiniLM-L6-v2
fine-tuned on SQuAD v1.1 train by bench/train_passage_reader.py, exported by
bench/export_passage_reader.py to `passage_reader.onnx`, int8 with 7-bit weights, provenance in
`passage_reader.json`). A span's score is its start + end logit minus [CLS]'s pair, which is "no
answer" (SQuAD 2.0 BERT): above zero the passage holds an answer there. A sentence's score is the
best span inside it, so the composer chooses the sentence holding the best span, across passages.
Loaded and checked as the sentence reader (index/answer/reader.py), without torch.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .reader import OnnxReader

FORMAT = "citebot-passage-reader/1"
STEM = "passage_reader"
NO_SPAN = -20.0  # the score of a stretch that holds no piece the reader could start and end in


@dataclass(frozen=True)
class _Window:
    start: np.ndarray  # start logits of the passage's pieces in this window
    end: np.ndarray
    chars: np.ndarray  # (pieces, 2): each piece's first and one-past-last character in the passage
    null: float  # [CLS]'s start + end: "no answer" in this window


@dataclass(frozen=True)
class PassageRead:
    """What the reader made of one passage: `best(a, b)` is the best answer span within characters a:b."""

    text: str
    windows: tuple[_Window, ...]
    max_pieces: int

    @property
    def null(self) -> float:
        """The lowest "no answer" of its windows (the window that best sees an answer decides)."""
        return min((w.null for w in self.windows), default=0.0)

    def best(self, a: int = 0, b: int | None = None) -> tuple[float, int, int]:
        """(score, first character, one past the last) of the best span inside characters a:b of the
        passage; the score is the span's start + end minus the passage's "no answer" (NO_SPAN and
        (-1, -1) when no piece lies inside)."""
        b = len(self.text) if b is None else b
        best = (NO_SPAN, -1, -1)
        null = self.null
        for w in self.windows:
            inside = np.flatnonzero((w.chars[:, 0] >= a) & (w.chars[:, 1] <= b))
            if not inside.size:
                continue
            s, e = w.start[inside], w.end[inside]
            pair = s[:, None] + e[None, :]
            n = len(inside)
            band = np.triu(np.ones((n, n), dtype=bool)) & ~np.triu(np.ones((n, n), dtype=bool), self.max_pieces)
            pair = np.where(band, pair, -np.inf)
            i, j = divmod(int(pair.argmax()), n)
            score = float(pair[i, j]) - null
            if score > best[0]:
                best = (score, int(w.chars[inside[i], 0]), int(w.chars[inside[j], 1]))
        return best


class PassageReader(OnnxReader):
    """Reads a question against passages; `warm_up()` loads and checks the files once.

    `max_len` cuts each window (None: what it was trained with, passage_reader.json)."""

    kind = "passage"
    STEM = STEM
    FORMAT = FORMAT
    MIN_LEN = 32

    def stride(self, meta: dict[str, Any]) -> int:
        """A long passage is read in windows that overlap as in training (at most a quarter of one)."""
        return min(int(meta.get("overlap", 64)), int(self.max_len or meta["max_len"]) // 4)

    def read(self, question: str, passages: Sequence[str]) -> list[PassageRead]:
        """Each passage read against the question in one batch (a long one in overlapping windows)."""
        self.warm_up()
        if not passages:
            return []
        rows, feed = self.inputs(question, passages)
        start, end = self._session.run(["start_logits", "end_logits"], feed)
        return self.reads(passages, rows, start, end)

    def inputs(self, question: str, passages: Sequence[str]) -> tuple[list[tuple[int, Any]], dict[str, np.ndarray]]:
        """The windows (passage index, encoding) and the model's input arrays for them, one batch."""
        question = self._fit_question(question)
        encs = self._tokenizer.encode_batch([(question, p) for p in passages])
        rows = [(k, e) for k, enc in enumerate(encs) for e in (enc, *enc.overflowing)]
        width = max(len(e.ids) for _, e in rows)
        ids = np.full((len(rows), width), self._pad, dtype=np.int64)
        mask = np.zeros((len(rows), width), dtype=np.int64)
        types = np.zeros((len(rows), width), dtype=np.int64)
        for j, (_, e) in enumerate(rows):
            n = len(e.ids)
            ids[j, :n], mask[j, :n], types[j, :n] = e.ids, 1, e.type_ids
        return rows, {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}

    def reads(self, passages: Sequence[str], rows: Sequence[tuple[int, Any]], start: np.ndarray,
              end: np.ndarray) -> list[PassageRead]:
        """The PassageReads of `passages` from the model's start and end logits for `rows` (see `inputs`)."""
        windows: list[list[_Window]] = [[] for _ in passages]
        for j, (k, e) in enumerate(rows):
            own = [i for i, s in enumerate(e.sequence_ids) if s == 1]
            chars = np.array([e.offsets[i] for i in own], dtype=np.int64).reshape(-1, 2)
            windows[k].append(_Window(np.asarray(start[j, own], dtype=np.float32), np.asarray(end[j, own], dtype=np.float32),
                                      chars, float(start[j, 0] + end[j, 0])))
        pieces = int(self.meta.get("max_answer_pieces", 30))
        return [PassageRead(p, tuple(w), pieces) for p, w in zip(passages, windows)]

    def _fit_question(self, question: str) -> str:
        """The question cut to its first `question_pieces` word pieces (64, as trained): the passage keeps the rest."""
        # ... and to half the window at most, so the passage always keeps the other half.
        return self._cut_question(question, min(int(self.meta.get("question_pieces", 64)), int(self.max_len or 256) // 2))


def read_candidates(reader: PassageReader, question: str, ranked: Sequence[Any], passages: int,
                    coverage_weight: float = 0.0) -> list[Any]:
    """The composer's candidate sentences (`ranked`, each with .hit, .start, .end, .coverage) scored
    by reading the top `passages` retrieved passages whole: a sentence's `logit` is the best span
    inside it; its `score` that plus `coverage_weight` × its share of the question's words. Returns
    the scored ones (the sentences of the passages read), best first."""
    hits: dict[int, Any] = {}
    for c in sorted(ranked, key=lambda c: c.hit_rank):
        if c.hit_rank < passages:
            hits.setdefault(c.hit.passage_id, c.hit)
    order = list(hits.values())
    reads = dict(zip(hits, reader.read(question, [h.text for h in order])))
    out = []
    for c in ranked:
        got = reads.get(c.hit.passage_id)
        if got is None:
            continue
        score, a, b = got.best(c.start - c.hit.start, c.end - c.hit.start)
        c.logit = score
        c.span = (c.hit.start + a, c.hit.start + b) if a >= 0 else None
        c.score = score + coverage_weight * c.coverage
        out.append(c)
    return sorted(out, key=lambda c: -c.score)
