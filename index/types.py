"""Small frozen dataclasses passed between the engine's stages."""
from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # numpy is not loaded for the types alone (the chat side imports them)
    import numpy as np

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
    # The day the page says it was updated (only when later than `date`), where `date` came from
    # (an index.ingest.dates.DateSource value), and whether `date` is a stand-in from outside the article.
    updated: str | None = None
    date_source: str | None = None
    date_estimated: bool = False

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
    updated: str | None = None  # the article's date fields beyond `date` (see Article)
    date_source: str | None = None
    date_estimated: bool = False


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
    # Issue 24: the article's update day (shown as such, never as the date), where `date` came
    # from, and whether it is a stand-in from outside the article.
    updated: str | None = None
    date_source: str | None = None
    date_estimated: bool = False

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
    # The question as citebot understood it when the conversation before it gave it its meaning
    # ("how long had 01.AI been around?" for "how long had it been around?"); None when read alone.
    read_as: str | None = None

    def turn(self) -> Turn:
        """This exchange as the next question's conversation sees it (index/answer/followup.py)."""
        quoted = next((c for c in self.citations if c.answer_start is not None), self.citations[0] if self.citations else None)
        return Turn(question=self.read_as or self.question, answer=self.answer,
                    title=quoted.title if quoted else None, source=(quoted.url or quoted.source) if quoted else None)

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
            "read_as": self.read_as,
        }


@dataclass(frozen=True)
class Turn:
    """One earlier exchange of a conversation: the question (as it was read), the quoted sentence
    and the article it came from (`source`: its URL or source, as a citation gives it).

    Chat surfaces rebuild these from the thread's own history (the bot's earlier replies carry
    them), so a follow-up needs no state beyond the platform's.
    """

    question: str
    answer: str | None = None
    title: str | None = None
    source: str | None = None


@dataclass
class IngestReport:
    """What an ingest did, file by file."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (file, reason)
    # (file, the indexed article it is an identical copy of): recorded as a second location.
    duplicates: list[tuple[str, str]] = field(default_factory=list)
    passages: int = 0
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        """True when nothing named was skipped."""
        return not self.skipped

    def to_json(self) -> dict[str, Any]:
        """Machine-readable summary for `citebot ingest --json`."""
        return {
            "added": self.added, "updated": self.updated, "unchanged": self.unchanged,
            "skipped": [{"file": f, "reason": r} for f, r in self.skipped],
            "passages": self.passages, "seconds": round(self.seconds, 3),
            "duplicates": [{"file": f, "same_as": o} for f, o in self.duplicates],
        }


@dataclass(frozen=True)
class Document:
    """Raw bytes to ingest with the name that picks the reader and the source to record."""

    name: str
    source: str
    data: bytes | None = None
    path: Path | None = None
    # For web pages: the link a citation shows, and a feed entry's own title and date, which win
    # over what the page's markup yields (a publisher's feed metadata is the more reliable).
    url: str | None = None
    title: str | None = None
    date: str | None = None
    # Dates from outside the page (index.ingest.dates.Candidate values; typed loosely because the
    # ground floor imports no room): a feed entry's `updated`, a sitemap's `<lastmod>`, the server's
    # Last-Modified — stand-ins only when the page states no date.
    outside_dates: tuple[Any, ...] = ()


@dataclass(frozen=True)
class TokenVectors:
    """One text's wordpieces (without [CLS]/[SEP]) and their contextual unit vectors, row per piece.

    The answer composer aligns a question's words with a sentence's words by meaning ("led" ~
    "commenced a campaign"), which one vector per sentence cannot show. Embedders that can give
    them are `TokenEmbedder`s (index/model/embed.py).
    """

    pieces: tuple[str, ...]
    vectors: np.ndarray

    @cached_property
    def words(self) -> list[int]:
        """Rows of the pieces that hold a letter or digit (not punctuation)."""
        return [i for i, p in enumerate(self.pieces) if any(ch.isalnum() for ch in p)]


@dataclass(frozen=True, eq=False)
class Query:
    """One question, prepared once (index/answer/query.py) and read by retrieval and the answer composer.

    `text` is what is searched (typos corrected); `typed` is what the user typed (what the Answer
    repeats). `term_weights` is the idf of the question's terms in the index (empty without a
    lexical index); `token_vectors` is None when the embedder gives no token vectors.
    """

    text: str
    typed: str
    tokens: tuple[str, ...]
    qtype: str | None
    term_weights: Mapping[str, float]
    vector: np.ndarray
    token_vectors: TokenVectors | None = None
    # A follow-up's context (index/answer/followup.py): the earlier turn's key terms, searched with
    # a lower weight, and the earlier answer's article(s), preferred without being forced.
    context: str = ""
    prefer: tuple[str, ...] = ()


@dataclass(frozen=True)
class SourceInfo:
    """One indexed article, as `citebot sources` lists it."""

    source: str
    title: str
    date: str | None
    url: str | None
    collection: str
    passages: int
    added_at: float
    # Other places the same file was found (a copy in a second folder, a second URL): indexed once.
    also: tuple[str, ...] = ()
    # Issue 24: the page's update day (when later than `date`), where `date` came from, and whether
    # it is a stand-in from outside the article (sitemap lastmod, copyright year…).
    updated: str | None = None
    date_source: str | None = None
    date_estimated: bool = False

    @property
    def display_source(self) -> str:
        """What chat users see for this article: its URL, else its file name (never a server path)."""
        return display_source(self.source, self.url, self.title)
