"""What each page shows, as plain data for the templates: pure functions, no aiohttp, no HTML.

The templates escape everything they print (Jinja2 autoescape); these functions decide *what* is
shown: never a server path, links only for http(s) addresses, the quoted span as offsets.
"""
from __future__ import annotations

import csv
import hashlib
import io
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import quote

from index import DEFAULT_COLLECTION, STOPWORDS, Answer, Citation, SourceInfo, display_source, tokenize

from ..feedback import FeedbackRow
from ..render.common import (
    CLOSEST_LABEL,
    NO_ANSWER_SENTENCE,
    NOT_FOUND,
    date_label,
    other_articles,
    passages_of,
    quoted_citation,
)
from ..synclog import ArticleOutcome, SourceOutcome

# Similar wording: two questions whose content words overlap this much (Jaccard) are one group.
SIMILAR = 0.6


def when(ts: float | None) -> str:
    """A timestamp as the page shows it (UTC, to the minute)."""
    if not ts:
        return ""
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def iso(ts: float | None) -> str | None:
    """A timestamp for machines (healthz, CSV)."""
    return datetime.fromtimestamp(ts, timezone.utc).isoformat(timespec="seconds") if ts else None


def http_link(url: str | None) -> str | None:
    """The URL if a browser may follow it (http or https, no spaces), else None: never `javascript:`."""
    if url and re.match(r"^https?://[^\s<>\"']+$", url, re.I):
        return url
    return None


_ABS_PATH = re.compile(r"(?<![\w:/.~-])(?:/|~/|[A-Za-z]:\\)[^\s'\"()<>]*")


def scrub(text: str, paths: Iterable[Path] = ()) -> str:
    """A message with server paths replaced by their last part (errors name files: the page must not)."""
    for p in sorted({str(x) for x in paths if str(x) not in ("", ".", "/")}, key=len, reverse=True):
        text = text.replace(p, Path(p).name or "the folder")
    return _ABS_PATH.sub(lambda m: re.split(r"[\\/]", m.group(0).rstrip("/\\"))[-1] or "the folder", text)


def collection_of(platform: str, scope: str | None) -> str:
    """The collection a question's asker is answered from besides 'global' (as bot.service.Asker says)."""
    return f"{platform}:{scope}" if scope else DEFAULT_COLLECTION


def source_key(collection: str, source: str) -> str:
    """An opaque id for an article in forms (its source is a server path for files: never sent to the page)."""
    return hashlib.sha256(f"{collection}\0{source}".encode()).hexdigest()[:24]


# --- ask ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Part:
    """A run of text; `mark` means it is highlighted."""

    text: str
    mark: bool = False


@dataclass(frozen=True)
class CitationView:
    """A citation as the page shows it."""

    n: int
    title: str
    date: str | None  # as chat shows it: the date, ", estimated" or ", updated …" (render.common.date_label)
    href: str | None
    shown: str  # the URL or file name, never a path
    collection: str
    parts: tuple[Part, ...]  # the passage, the quoted span marked


@dataclass(frozen=True)
class AnswerView:
    """An Answer laid out for the Ask page."""

    question: str
    found: bool
    message: str | None  # the not-found sentence, as chat says it
    answer: tuple[Part, ...] = ()  # the quote, answer words marked
    quote: CitationView | None = None
    others: tuple[CitationView, ...] = ()  # one per other article
    passages: tuple[CitationView, ...] = ()
    closest_label: str = CLOSEST_LABEL
    closest: tuple[CitationView, ...] = ()
    nearest: tuple[str, ...] = ()
    confidence: float = 0.0


def _spans(text: str, spans: Iterable[tuple[int, int]]) -> tuple[Part, ...]:
    out: list[Part] = []
    pos = 0
    for s, e in sorted(spans):
        if s < pos or e > len(text) or s >= e:
            continue
        if s > pos:
            out.append(Part(text[pos:s]))
        out.append(Part(text[s:e], True))
        pos = e
    if pos < len(text):
        out.append(Part(text[pos:]))
    return tuple(out)


def citation_view(c: Citation) -> CitationView:
    """A citation with its quoted span (if it holds the answer) marked."""
    span = [(c.answer_start, c.answer_end)] if c.answer_start is not None and c.answer_end is not None else []
    return CitationView(n=c.n, title=c.title, date=date_label(c) or None, href=http_link(c.url) or http_link(c.source),
                        shown=c.display_source, collection=c.collection, parts=_spans(c.snippet, span))


def answer_view(answer: Answer) -> AnswerView:
    """The Ask page's content for an Answer: the same parts chat shows, in the same order."""
    if not answer.found:
        return AnswerView(question=answer.question, found=False,
                          message=NO_ANSWER_SENTENCE if answer.closest else NOT_FOUND,
                          closest=tuple(citation_view(c) for c in answer.closest[:3]),
                          nearest=tuple(answer.nearest), confidence=answer.confidence)
    first = quoted_citation(answer)
    return AnswerView(
        question=answer.question, found=True, message=None,
        answer=_spans(answer.answer or "", answer.highlights),
        quote=citation_view(first) if first is not None else None,
        others=tuple(citation_view(group[0]) for group in other_articles(answer)),
        passages=tuple(citation_view(c) for c in passages_of(answer)),
        confidence=answer.confidence,
    )


# --- unanswered --------------------------------------------------------------------------------

def _words(question: str) -> frozenset[str]:
    words = {t[:-1] if len(t) > 3 and t.endswith("s") and not t.endswith("ss") else t
             for t in tokenize(question) if t not in STOPWORDS}
    return frozenset(words)


@dataclass
class Group:
    """Questions worded alike: the newest wording leads, with every other wording under it."""

    question: str
    words: frozenset[str]
    count: int = 0
    last: float = 0.0
    first: float = 0.0
    collections: dict[str, int] = field(default_factory=dict)
    kinds: dict[str, int] = field(default_factory=dict)
    wordings: list[str] = field(default_factory=list)

    def add(self, row: FeedbackRow) -> None:
        """Count one more question in this group (rows arrive newest first)."""
        self.count += 1
        self.last = max(self.last, row.at)
        self.first = min(self.first or row.at, row.at)
        coll = collection_of(row.platform, row.scope)
        self.collections[coll] = self.collections.get(coll, 0) + 1
        self.kinds[row.kind] = self.kinds.get(row.kind, 0) + 1
        if row.question not in self.wordings and len(self.wordings) < 5:
            self.wordings.append(row.question)


def _similar(a: frozenset[str], b: frozenset[str]) -> bool:
    if not a or not b:
        return a == b
    return len(a & b) / len(a | b) >= SIMILAR


def group_unanswered(rows: Sequence[FeedbackRow]) -> list[Group]:
    """'not found' and 'unanswered' rows grouped by similar wording, the most recently asked group first."""
    groups: list[Group] = []
    exact: dict[frozenset[str] | str, Group] = {}
    for row in rows:
        if row.vote != 0:
            continue
        words = _words(row.question)
        key: frozenset[str] | str = words or " ".join(row.question.lower().split())
        group = exact.get(key)
        if group is None and words:
            group = next((g for g in groups if _similar(words, g.words)), None)
        if group is None:
            group = Group(question=row.question, words=words)
            groups.append(group)
        exact[key] = group
        group.add(row)
    groups.sort(key=lambda g: g.last, reverse=True)
    return groups


def unanswered_csv(groups: Sequence[Group]) -> str:
    """The Unanswered page as CSV (one line per group); cells that a spreadsheet would run as a
    formula (=, +, -, @ first) get a leading apostrophe."""
    def cell(v: object) -> str:
        s = str(v)
        return "'" + s if s[:1] in ("=", "+", "-", "@", "\t", "\r") else s

    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["question", "count", "last_asked", "first_asked", "collections", "kinds", "other_wordings"])
    for g in groups:
        w.writerow([cell(g.question), g.count, iso(g.last), iso(g.first),
                    cell(" ".join(f"{c}={n}" for c, n in g.collections.items())),
                    " ".join(f"{k}={n}" for k, n in g.kinds.items()),
                    cell(" | ".join(x for x in g.wordings if x != g.question))])
    return buf.getvalue()


# --- feedback ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class SourceRef:
    """Where a quote was found: title, date, link or file name."""

    title: str
    date: str | None
    href: str | None
    shown: str


@dataclass(frozen=True)
class VoteView:
    """One 👍/👎 on the Feedback page."""

    at: float
    vote: int
    question: str
    quote: str | None
    collection: str
    source: SourceRef | None


def feedback_views(rows: Sequence[FeedbackRow], find_source: Callable[[str, list[str]], SourceRef | None]
                   ) -> list[VoteView]:
    """Votes (not 'not found' rows), newest first, each with the source its quote comes from."""
    out = []
    for r in rows:
        if r.vote == 0:
            continue
        coll = collection_of(r.platform, r.scope)
        allowed = [DEFAULT_COLLECTION] + ([coll] if coll != DEFAULT_COLLECTION else [])
        out.append(VoteView(at=r.at, vote=r.vote, question=r.question, quote=r.answer, collection=coll,
                            source=find_source(r.answer, allowed) if r.answer else None))
    return out


def source_ref(source: str, title: str, date: str | None, url: str | None) -> SourceRef:
    """A source's title, date and link as the page shows them."""
    return SourceRef(title=title, date=date, href=http_link(url) or http_link(source),
                     shown=display_source(source, url, title))


# --- sources -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class ArticleView:
    """One indexed article on the Sources page."""

    key: str
    title: str
    date: str | None
    href: str | None
    shown: str
    passages: int
    added: float
    sync: ArticleOutcome | None
    also: int


@dataclass(frozen=True)
class SourceEntryView:
    """One citebot.toml entry's last pass."""

    kind: str
    shown: str
    collection: str
    at: float
    error: str | None


def sources_by_collection(rows: Sequence[SourceInfo], outcomes: dict[tuple[str, str], ArticleOutcome],
                          paths: Iterable[Path] = ()) -> dict[str, list[ArticleView]]:
    """Articles per collection ('global' first, then by name), newest first in each."""
    paths = list(paths)
    out: dict[str, list[ArticleView]] = {}
    for r in sorted(rows, key=lambda r: (r.collection != DEFAULT_COLLECTION, r.collection, -r.added_at)):
        sync = outcomes.get((r.source, r.collection)) or (outcomes.get((r.url, r.collection)) if r.url else None)
        if sync is not None and sync.reason:
            sync = ArticleOutcome(sync.at, sync.outcome, scrub(sync.reason, paths))
        out.setdefault(r.collection, []).append(ArticleView(
            key=source_key(r.collection, r.source), title=r.title, date=date_label(r) or None,
            href=http_link(r.url) or http_link(r.source), shown=r.display_source, passages=r.passages,
            added=r.added_at, sync=sync, also=len(r.also)))
    return out


def source_entries(rows: Sequence[SourceOutcome], paths: Iterable[Path] = ()) -> list[SourceEntryView]:
    """The sources file's entries (folders by their name only) with their last error, if any."""
    paths = list(paths)
    return [SourceEntryView(kind=r.kind, shown=http_link(r.target) or Path(r.target).name or r.target,
                            collection=r.collection, at=r.at, error=scrub(r.error, paths) if r.error else None)
            for r in rows]


@dataclass(frozen=True)
class ProblemView:
    """A page or file the last sync could not index (it is not among the articles, so listed apart)."""

    shown: str
    collection: str
    at: float
    reason: str


def sync_problems(outcomes: dict[tuple[str, str], ArticleOutcome], rows: Sequence[SourceInfo],
                  paths: Iterable[Path] = ()) -> list[ProblemView]:
    """Files and pages skipped with a reason that are not indexed at all (newest first)."""
    paths = list(paths)
    indexed = {(r.source, r.collection) for r in rows} | {(r.url, r.collection) for r in rows if r.url}
    out = [ProblemView(shown=display_source(src), collection=coll, at=o.at, reason=scrub(o.reason or "", paths))
           for (src, coll), o in outcomes.items() if o.outcome == "error" and (src, coll) not in indexed]
    return sorted(out, key=lambda p: p.at, reverse=True)


def generation_number(name: str | None) -> int:
    digits = "".join(ch for ch in (name or "") if ch.isdigit())
    return int(digits) if digits else 0


def local_target(target: str | None) -> str:
    """A redirect target on this site only: a path, never another host (`//evil`, `/\\evil`, `https:`)."""
    t = (target or "").strip()
    if not t.startswith("/") or t.startswith("//") or "\\" in t or any(ord(ch) < 32 for ch in t):
        return "/"
    return quote(t, safe="/?&=%:+,;@!$'()*~.-_")
