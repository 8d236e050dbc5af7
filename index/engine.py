"""The engine's front door: ingest files, answer questions, list and forget sources."""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

from .answer.compose import AnswerComposer
from .answer.followup import read_in_context
from .answer.pair import ReaderPair
from .answer.passage import PassageReader
from .answer.query import clean_question
from .answer.reader import SentenceReader
from .answer.rerank import CrossEncoderReranker
from .answer.search import HybridSearcher
from .answer.spelling import correct_question, correct_word, dictionary
from .errors import AmbiguousSourceError, LoadError
from .ingest.chunk import chunk
from .ingest.dates import fingerprint, with_outside
from .ingest.load import DEFAULT_MAX_BYTES, file_digest, is_supported, load_bytes
from .model.embed import Embedder, WarmEmbedder, resolve_model
from .store import IndexReader, IndexWriter, check_model
from .types import DEFAULT_COLLECTION, Answer, Article, Document, IngestReport, SourceInfo, Turn
from .words import tokenize

log = logging.getLogger(__name__)


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
        sentence_reader: SentenceReader | PassageReader | ReaderPair | None = None,
    ) -> None:
        self.index_dir = Path(index_dir)
        self.embedder = embedder
        self.max_file_bytes = max_file_bytes
        self.reranker = reranker  # optional cross-encoder; None = the bundled model alone
        self._reader: IndexReader | None = None
        self._reader_lock = threading.Lock()
        # The reader (a cross-encoder shipped with the package) chooses the quoted sentence and
        # decides found / not found (or both readers, the more confident one quoting: ReaderPair);
        # None = the embedding model's signals alone (CITEBOT_READER=off).
        self.sentence_reader = sentence_reader
        self.composer = AnswerComposer(embedder, citations=citations, min_confidence=min_confidence, reader=sentence_reader)
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
        if isinstance(self.embedder, WarmEmbedder):
            self.embedder.warm_up()
        self.embedder.encode(["warm up"])
        if self.reranker is not None:
            self.reranker.warm_up()
        if self.sentence_reader is not None:
            self.sentence_reader.warm_up()
        _ = self.reader

    def ask(self, question: str, collections: Sequence[str] | None = None, *, mode: str = "hybrid",
            conversation: Sequence[Turn] = ()) -> Answer:
        """Answer a question from the index (limited to `collections` when given).

        `conversation` is what came before in the same thread, oldest first (`Answer.turn()` of
        each earlier answer): a follow-up that leans on it ("how long had it been around?") is read
        with it, and the Answer's `read_as` says how; a question naming its own subject is read alone.
        """
        typed = clean_question(question)
        reader = self.reader
        if not reader.exists or reader.size == 0:
            return Answer(question=typed, found=False, answer=None)
        reading = read_in_context(typed, conversation)
        searcher = HybridSearcher(reader, self.embedder)
        # One Query (corrected text, tokens, type, term weights, vectors) for search and composer.
        text = reading.reader_text if self.sentence_reader is not None and reading.reader_text else reading.text
        query = searcher.query(self.spelled(text), typed=typed, context=reading.context, prefer=reading.prefer,
                               lighter=tokenize(reading.filled), embed_text=reading.embed_text)
        depth = self.reranker.depth if self.reranker is not None else 0
        hits = searcher.search(query, k=max(10, depth), collections=collections, mode=mode)
        if self.reranker is not None:
            hits = self.reranker.rerank(query.text, hits)
        answer = self.composer.compose(query, hits)
        return replace(answer, read_as=reading.read_as) if reading.read_as else answer

    def spelled(self, question: str) -> str:
        """The question with words the index has never seen replaced by their likeliest indexed
        spelling (index.answer.spelling); unchanged when `correct_typos` is off or every word is known.

        The one place a correction happens: retrieval (both sides) and the answer composer all
        read the corrected question; the Answer keeps the question as typed.
        """
        lex = self.reader.lexical
        if not self.correct_typos or lex is None:
            return question
        if self._dictionary is None:
            self._dictionary = dictionary(resolve_model(self.embedder.name))
        known = self._dictionary

        def guess(word: str) -> str | None:
            return correct_word(word, lex.frequency, known)

        fixed, fixes = correct_question(question, lambda w: lex.correction(w, guess))
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
            seen: dict[str, str] = {}  # content digest (file bytes, article text) -> source, this run
            aliases: list[tuple[str, str]] = []  # (second location, article) waiting for the article
            for i, doc in enumerate(docs):
                if progress:
                    progress(i, len(docs), doc.name)
                try:
                    data = doc.data if doc.data is not None else _read(doc.path, self.max_file_bytes)
                    digest = fingerprint(file_digest(data))
                    old = writer.digest_of(doc.source, collection)
                    if old == digest:
                        report.unchanged.append(doc.source)
                        continue
                    # One article, one entry: the same file under a second path or URL is recorded
                    # as a second location of the first, not indexed (and cited) twice.
                    twin = seen.get(digest) or writer.twin_of(digest, collection, doc.source)
                    if twin is None:
                        article = load_bytes(data, doc.name, source=doc.source, collection=collection, max_bytes=self.max_file_bytes)
                        if doc.url or doc.title or doc.date or doc.outside_dates:  # a web page: the feed's title wins
                            article = replace(article, url=doc.url or article.url, title=(doc.title or article.title)[:300],
                                              **with_outside(article.date, article.updated, article.date_source,
                                                             doc.date, doc.outside_dates))
                        if old is not None and old.split("+")[0] == digest.split("+")[0] and writer.restamp(article, digest):
                            report.updated.append(doc.source)  # same bytes, a new date reading: re-dated in place
                            continue
                        twin = seen.get(file_digest(article.text.encode("utf-8")))
                except LoadError as exc:
                    log.warning("skipped %s: %s", doc.source, exc)
                    report.skipped.append((doc.source, str(exc)))
                    continue
                except Exception as exc:  # never a traceback for one bad file: skip it with the reason
                    log.warning("skipped %s", doc.source, exc_info=True)
                    report.skipped.append((doc.source, f"{doc.name}: could not be read ({type(exc).__name__})"))
                    continue
                if twin == doc.source:  # the same file named twice in one run
                    report.unchanged.append(doc.source)
                    continue
                if twin is not None:
                    if writer.alias_of(doc.source, collection) == twin and old is None:
                        report.unchanged.append(doc.source)
                    else:
                        if old is not None:
                            writer.remove(doc.source, collection)
                        # Recorded after the twin itself is written (it may still be pending):
                        # writing an article clears the aliases of its previous content.
                        aliases.append((doc.source, twin))
                        report.duplicates.append((doc.source, twin))
                    continue
                seen[digest] = doc.source
                seen[file_digest(article.text.encode("utf-8"))] = doc.source
                pending.append((article, digest, old is not None))
                if len(pending) >= batch_articles:
                    self._flush(writer, pending, report, _noting(progress, i, len(docs)))
                    pending = []
                    self._record_aliases(writer, aliases, collection)
                    if time.perf_counter() - last_commit > checkpoint_seconds:
                        writer.commit()
                        last_commit = time.perf_counter()
            self._flush(writer, pending, report, _noting(progress, len(docs), len(docs)))
            self._record_aliases(writer, aliases, collection)
            if progress:
                progress(len(docs), len(docs), "building the index")
            writer.commit()
        if progress:
            progress(len(docs), len(docs), "")
        report.seconds = time.perf_counter() - t0
        return report

    @staticmethod
    def _record_aliases(writer: IndexWriter, aliases: list[tuple[str, str]], collection: str) -> None:
        for source, twin in aliases:
            writer.add_alias(source, collection, twin)
        aliases.clear()

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

    def forget(self, source: str, collection: str | None = None, *, all_matches: bool = True) -> list[str]:
        """Remove articles named by `source`: their source path, URL, file name or title; returns them.

        An exact source path or URL names one article. A name that matches several articles
        removes them all when `all_matches`, else raises AmbiguousSourceError listing them.
        """
        reader = self.reader
        if not reader.exists:
            return []
        rows = reader.sources([collection] if collection else None)
        matches = [s for s in rows if s.source == source or s.url == source]
        if not matches:
            matches = [s for s in rows if Path(s.source).name == source or s.title == source]
        if not matches:
            # A second location only ("also at" in `citebot sources`): forget that record, not the article.
            also = [(a, s.collection) for s in rows for a in s.also if a == source or Path(a).name == source]
            if also:
                with self._writer(lock_timeout=10.0) as writer:
                    for a, coll in also:
                        writer.remove(a, coll)
                    writer.commit()
            return [a for a, _ in also]
        if len(matches) > 1 and not all_matches:
            raise AmbiguousSourceError(source, matches)
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
