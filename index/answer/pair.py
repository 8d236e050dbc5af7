"""Both readers at once (issue 28): the sentence reader and the passage reader each choose a quote.

They are right on different questions. On the real news pages of bench/conversations.json the
sentence reader (issue 21) quotes the right sentence for 135 of 178 first questions, the passage
reader (issue 28) for 125, and one or the other for 151: the sentence reader reads the likeliest
sentences of five passages, the passage reader two whole passages and what a sentence leans on.
Each gives a calibrated probability that its quote answers (index/fitted.json's `reader` and
`passage_reader` sections); the composer quotes the more probable one and refuses when that
maximum is below the `pair` section's threshold (bench/fit_reader.py --pair). It costs both
readers' time: bench/RESULTS.md, issue 28.
"""
from __future__ import annotations

from pathlib import Path

from .passage import PassageReader
from .reader import SentenceReader


class ReaderPair:
    """A sentence reader and a passage reader, loaded and checked together by `warm_up()`."""

    kind = "both"

    def __init__(self, sentence: SentenceReader | None = None, passage: PassageReader | None = None, *,
                 threads: int | None = None) -> None:
        self.sentence = sentence if sentence is not None else SentenceReader(threads=threads)
        self.passage = passage if passage is not None else PassageReader(threads=threads)

    @property
    def loaded(self) -> bool:
        """Whether both models are loaded."""
        return self.sentence.loaded and self.passage.loaded

    @property
    def onnx_paths(self) -> tuple[Path, Path]:
        """The two model files."""
        return self.sentence.onnx_path, self.passage.onnx_path

    def warm_up(self) -> None:
        """Load and check both models (once)."""
        self.sentence.warm_up()
        self.passage.warm_up()
