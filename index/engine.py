"""The engine's front door: ingest files, answer questions, list and forget sources."""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from .answer import AnswerComposer
from .chunk import chunk
from .embed import Embedder, resolve_model
from .errors import LoadError, UserError
from .load import DEFAULT_MAX_BYTES, file_digest, is_supported, load_bytes
from .rerank import CrossEncoderReranker
from .search import HybridSearcher
from .spelling import correct_question, dictionary
from .store import IndexReader, IndexWriter, SourceInfo, check_model
from .types import DEFAULT_COLLECTION, Answer, Article

log = logging.getLogger(__name__)


@dataclass
class IngestReport:
    """What an ingest did, file by file."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (file, reason)
    passages: int = 0
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        """True when nothing named was skipped."""
        return not self.skipped

    def to_json(self) -> dict:
        """Machine-readable summary for `citebot ingest --json`."""
        return {
            "added": self.added, "updated": self.updated, "unchanged": self.unchanged,
            "skipped": [{"file": f, "reason": r} for f, r in self.skipped],
            "passages": self.passages, "seconds": round(self.seconds, 3),
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


def expand_paths(paths: Iterable[Path]) -> tuple[list[Path], list[tuple[str, str]]]:
    """Files named directly plus supported files found (recursively) in folders named."""
    files: list[Path] = []
    missing: list[tuple[str, str]] = []
    for p in paths:
        p = Path(p)
        if p.is_dir():
            files.extend(sorted(f for f in p.rglob("*") if f.is_file() and is_supported(f)))
        elif p.is_file():
            files.append(p)
        else:
            missing.append((str(p), "no such file or folder"))
    return files, missing


class Engine:
    """Ingests articles into the index folder and answers questions from it.

    Thread-safe for questions; writes take the index's file lock.
    """

    def __init__(
        self,
        index_dir: Path,
        embedder: Embedder,
        *,
        citations: int = 3,
        min_confidence: float | None = None,
        max_file_bytes: int = DEFAULT_MAX_BYTES,
        reranker: CrossEncoderReranker | None = None,
    ) -> None:
        self.index_dir = Path(index_dir)
        self.embedder = embedder
        self.max_file_bytes = max_file_bytes
        self.reranker = reranker  # optional cross-encoder; None = the bundled model alone
        self._reader: IndexReader | None = None
        self._reader_lock = threading.Lock()
        self.composer = AnswerComposer(embedder, citations=citations, min_confidence=min_confidence)
        # Question words the index has never seen are matched to indexed words one typo away
        # (measured in bench/typos.py; off only for comparisons).
        self.correct_typos = True
        self._dictionary: frozenset[str] | None = None  # real words, from the model's vocabulary

    # --- reading --------------------------------------------------------------------------

    @property
    def reader(self) -> IndexReader:
        """The open index, refreshed to the newest published generation."""
        with self._reader_lock:
            if self._reader is None:
                self._reader = IndexReader(self.index_dir)
                if self._reader.exists:
                    check_model(self._reader.info, self.embedder.name, 0, self.index_dir)
            elif self._reader.refresh():
                check_model(self._reader.info, self.embedder.name, 0, self.index_dir)
            return self._reader

    def warm_up(self) -> None:
        """Load the model and open the index now, so the first question is fast."""
        warm = getattr(self.embedder, "warm_up", None)
        if warm:
            warm()
        self.embedder.encode(["warm up"])
        if self.reranker is not None:
            self.reranker.warm_up()
        _ = self.reader

    def ask(self, question: str, collections: Sequence[str] | None = None, *, mode: str = "hybrid") -> Answer:
        """Answer a question from the index (limited to `collections` when given)."""
        question = question.strip()
        if not question:
            raise UserError("Ask a question, e.g. `who founded 01.AI?`")
        reader = self.reader
        if not reader.exists or reader.size == 0:
            return Answer(question=question, found=False, answer=None)
        typed, question = question, self.spelled(question)
        encode_tokens = getattr(self.embedder, "encode_tokens", None)
        # With token vectors the question's are cached now, for the answer composer to reuse.
        qvec = encode_tokens([question])[0][0] if encode_tokens else self.embedder.encode([question])[0]
        searcher = HybridSearcher(reader, self.embedder)
        depth = self.reranker.depth if self.reranker is not None else 0
        hits = searcher.search(question, k=max(10, depth), collections=collections, qvec=qvec, mode=mode)
        if self.reranker is not None:
            hits = self.reranker.rerank(question, hits)
        answer = self.composer.compose(question, hits, qvec)
        return answer if question == typed else replace(answer, question=typed)

    def spelled(self, question: str) -> str:
        """The question with words the index has never seen replaced by their likeliest indexed
        spelling (index.spelling); unchanged when `correct_typos` is off or every word is known.

        The one place a correction happens: retrieval (both sides) and the answer composer all
        read the corrected question; the Answer keeps the question as typed.
        """
        lex = self.reader.lexical
        if not self.correct_typos or lex is None:
            return question
        if self._dictionary is None:
            self._dictionary = dictionary(resolve_model(self.embedder.name))
        known = self._dictionary
        fixed, fixes = correct_question(question, lambda w: lex.correction(w, known))
        if fixes:
            log.debug("typos corrected: %s", fixes)
        return fixed

    def sources(self, collections: Sequence[str] | None = None) -> list[SourceInfo]:
        """Indexed articles, newest first."""
        reader = self.reader
        return reader.sources(collections) if reader.exists else []

    def article_text(self, source: str) -> str | None:
        """The stored text of an indexed article (what citation offsets point into)."""
        reader = self.reader
        return reader.article_text(source) if reader.exists else None

    # --- writing --------------------------------------------------------------------------

    def _writer(self, lock_timeout: float) -> IndexWriter:
        return IndexWriter(self.index_dir, model=self.embedder.name, dim=self.embedder.dim, lock_timeout=lock_timeout)

    def ingest_paths(
        self,
        paths: Iterable[Path],
        *,
        collection: str = DEFAULT_COLLECTION,
        progress: Callable[[int, int, str], None] | None = None,
        lock_timeout: float = 0.0,
        batch_articles: int = 64,
    ) -> IngestReport:
        """Ingest files and folders; see `ingest` for the rules."""
        files, missing = expand_paths(paths)
        docs = [Document(name=f.name, source=str(f.resolve()), path=f) for f in files]
        report = self.ingest(docs, collection=collection, progress=progress, lock_timeout=lock_timeout,
                             batch_articles=batch_articles)
        report.skipped[:0] = missing
        return report

    def ingest(
        self,
        docs: Sequence[Document],
        *,
        collection: str = DEFAULT_COLLECTION,
        progress: Callable[[int, int, str], None] | None = None,
        lock_timeout: float = 0.0,
        batch_articles: int = 64,
        checkpoint_seconds: float = 300.0,
    ) -> IngestReport:
        """Add new articles, replace changed ones, skip unchanged ones; unreadable files are reported.

        Work is published in complete generations (at the end, and every `checkpoint_seconds` on
        long runs), so a crash loses at most the unpublished part and a rerun finishes it.
        """
        t0 = time.perf_counter()
        report = IngestReport()
        with self._writer(lock_timeout) as writer:
            pending: list[tuple[Article, str, bool]] = []
            last_commit = time.perf_counter()
            for i, doc in enumerate(docs):
                if progress:
                    progress(i, len(docs), doc.name)
                try:
                    data = doc.data if doc.data is not None else _read(doc.path, self.max_file_bytes)
                    digest = file_digest(data)
                    old = writer.digest_of(doc.source, collection)
                    if old == digest:
                        report.unchanged.append(doc.source)
                        continue
                    article = load_bytes(data, doc.name, source=doc.source, collection=collection, max_bytes=self.max_file_bytes)
                    if doc.url or doc.title or doc.date:
                        article = replace(article, url=doc.url or article.url, title=(doc.title or article.title)[:300],
                                          date=doc.date or article.date)
                except LoadError as exc:
                    log.warning("skipped %s: %s", doc.source, exc)
                    report.skipped.append((doc.source, str(exc)))
                    continue
                pending.append((article, digest, old is not None))
                if len(pending) >= batch_articles:
                    self._flush(writer, pending, report, _noting(progress, i, len(docs)))
                    pending = []
                    if time.perf_counter() - last_commit > checkpoint_seconds:
                        writer.commit()
                        last_commit = time.perf_counter()
            self._flush(writer, pending, report, _noting(progress, len(docs), len(docs)))
            if progress:
                progress(len(docs), len(docs), "building the index")
            writer.commit()
        if progress:
            progress(len(docs), len(docs), "")
        report.seconds = time.perf_counter() - t0
        return report

    def _flush(self, writer: IndexWriter, pending: list[tuple[Article, str, bool]], report: IngestReport,
               note: Callable[[str], None] | None = None) -> None:
        chunked = [(a, d, upd, chunk(a.text, title=a.title)) for a, d, upd in pending]
        texts = [p.text for *_, ps in chunked for p in ps]
        # Identical passages (boilerplate repeated across articles) are embedded once.
        unique = list(dict.fromkeys(texts))
        if note is not None and unique:
            note(f"embedding {len(unique):,} passages")
        vecs = self.embedder.encode(unique) if unique else np.zeros((0, self.embedder.dim), np.float32)
        row = {t: i for i, t in enumerate(unique)}
        for article, digest, updated, ps in chunked:
            if not ps:
                report.skipped.append((article.source, f"{Path(article.source).name}: no sentences worth citing in the file"))
                continue
            writer.add(article, digest, ps, vecs[[row[p.text] for p in ps]])
            report.passages += len(ps)
            (report.updated if updated else report.added).append(article.source)

    def forget(self, source: str, collection: str | None = None) -> list[str]:
        """Remove articles whose source is `source` (or ends with it, e.g. a file name); returns them."""
        reader = self.reader
        if not reader.exists:
            return []
        matches = [s for s in reader.sources([collection] if collection else None)
                   if s.source == source or Path(s.source).name == source or s.title == source]
        if not matches:
            return []
        with self._writer(lock_timeout=10.0) as writer:
            for s in matches:
                writer.remove(s.source, s.collection)
            writer.commit()
        return [s.source for s in matches]


def _noting(progress: Callable[[int, int, str], None] | None, i: int, n: int) -> Callable[[str], None] | None:
    """A progress callback that only changes the label (the file count stays at i of n)."""
    return (lambda label: progress(i, n, label)) if progress else None


def _read(path: Path | None, max_bytes: int) -> bytes:
    assert path is not None
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise LoadError(f"{path.name}: file is {size / 1048576:.1f} MB, over the {max_bytes / 1048576:.0f} MB limit")
        return path.read_bytes()
    except OSError as exc:
        raise LoadError(f"{path.name}: cannot read the file ({exc.strerror or exc})") from exc
