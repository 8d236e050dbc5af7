"""Small frozen dataclasses passed between the engine's stages."""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

DEFAULT_COLLECTION = "global"


def display_source(source: str, url: str | None = None, title: str | None = None) -> str:
    """How a chat user sees where a quote comes from: the http(s) URL, else the file's name, else
    the title. Never the server's path to the file (it tells every chat member the disk layout)."""
    for cand in (url, source):
        if cand and cand.startswith(("http://", "https://")) and not any(ch.isspace() for ch in cand):
            return cand
    name = re.split(r"[\\/]", (source or "").rstrip("/\\"))[-1]
    if name.startswith("upload:"):
        name = name.split(":", 1)[1]
    return name or (title or "").strip() or "document"


@dataclass(frozen=True)
class Article:
    """One document: its full text and what a citation shows about it."""

    source: str
    title: str
    text: str
    date: str | None = None
    url: str | None = None
    collection: str = DEFAULT_COLLECTION

    def __post_init__(self) -> None:
        if not self.source:
            raise ValueError("an article needs a source")


@dataclass(frozen=True)
class Passage:
    """A run of whole sentences of an article; `text == article.text[start:end]`."""

    start: int
    end: int
    text: str
    # Sentence boundaries inside the passage, as (start, end) offsets into the *article*.
    sentences: tuple[tuple[int, int], ...] = ()
    # Structure inside the passage, (start, end, kind) into the article: a "heading" that opens it
    # (context only: headings are never among `sentences`, so never quoted), "list" items.
    marks: tuple[tuple[int, int, str], ...] = ()


@dataclass(frozen=True)
class Hit:
    """A passage returned by retrieval, with what is needed to cite it."""

    passage_id: int
    article_id: int
    source: str
    title: str
    date: str | None
    url: str | None
    collection: str
    text: str
    start: int
    end: int
    sentences: tuple[tuple[int, int], ...]
    score: float
    dense: float = 0.0  # cosine similarity of question and passage
    lexical: float = 0.0  # BM25 score (0 when the passage had no query term)


@dataclass(frozen=True)
class Citation:
    """One quoted snippet: `snippet == article.text[start:end]` of the article named by `source`."""

    n: int
    title: str
    date: str | None
    url: str | None
    source: str
    snippet: str
    start: int
    end: int
    score: float
    # Where the answer sentence sits inside `snippet` (offsets into the snippet), if it does.
    answer_start: int | None = None
    answer_end: int | None = None
    collection: str = DEFAULT_COLLECTION

    @property
    def display_source(self) -> str:
        """Where the quote comes from as chat shows it: the URL, else the file name (no server path)."""
        return display_source(self.source, self.url, self.title)

    def to_json(self) -> dict[str, Any]:
        """The `citations[]` entry of the CLI's --json contract."""
        return asdict(self)


@dataclass(frozen=True)
class Answer:
    """What a user sees: a quoted answer sentence and its citations, or an honest 'not found'."""

    question: str
    found: bool
    answer: str | None
    citations: tuple[Citation, ...] = ()
    # Citations beyond the first page, for a "More sources" button.
    more: tuple[Citation, ...] = ()
    # Titles of the nearest articles, offered when nothing was found.
    nearest: tuple[str, ...] = ()
    confidence: float = 0.0
    # Spans (offsets into `answer`) of the words that answer the question, for bold rendering.
    highlights: tuple[tuple[int, int], ...] = field(default=())
    # When nothing answers: the passages that matched best (not an answer), same fields as citations.
    closest: tuple[Citation, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """The CLI's --json object: question, found, answer, citations (+ extensions)."""
        return {
            "question": self.question,
            "found": self.found,
            "answer": self.answer,
            "citations": [c.to_json() for c in self.citations],
            "confidence": round(self.confidence, 4),
            "nearest": list(self.nearest),
            "highlights": [list(h) for h in self.highlights],
            "closest": [c.to_json() for c in self.closest],
        }
