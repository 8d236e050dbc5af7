"""The platform-neutral chat service: question in, Answer out; scoping, limits, uploads, feedback.

Adapters (Discord, Slack, shell) call this and render the result; nothing here knows a platform SDK.
"""
from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import re
import threading
import time
import unicodedata
from collections import defaultdict, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from index import (
    DEFAULT_COLLECTION,
    SUPPORTED_SUFFIXES,
    Answer,
    Document,
    Engine,
    IngestReport,
    SourceInfo,
    Turn,
    UserError,
    WebIngester,
)

from .channels import UPLOADS, ChannelRule, ChannelStore
from .feedback import FeedbackStore
from .thread import bounded

log = logging.getLogger(__name__)

APOLOGY = "Sorry, something went wrong on my side while answering. Please try again in a moment."

# Chat mention syntax carries no meaning to search for, but it dilutes the question's words:
# Slack's <!channel> / <@U123> / <#C1|name>, Discord's <@123> / <@&1> / <#1>, and typed @here.
_MENTIONS = re.compile(r"<[@#!][^>]*>|@\u200b?(?:everyone|here|channel)\b|@U[A-Z0-9]{6,}\b", re.I)


def search_text(question: str) -> str:
    """The words of a question worth searching for (mentions dropped); the question itself if none remain."""
    cleaned = " ".join(_MENTIONS.sub(" ", question).split())
    return cleaned if any(ch.isalnum() for ch in cleaned) else question


@dataclass(frozen=True)
class Asker:
    """Who is asking and from where; `scope` is the Discord server / Slack workspace id (None in DMs/shell)."""

    platform: str
    user: str
    scope: str | None = None
    # The channel asked in (a thread counts as its parent channel); None in DMs and the shell.
    channel: str | None = None

    @property
    def collection(self) -> str:
        """The collection this scope's uploads go to."""
        return f"{self.platform}:{self.scope}" if self.scope else DEFAULT_COLLECTION

    @property
    def collections(self) -> list[str]:
        """What this asker may be answered from: the global articles plus their own scope's."""
        return [DEFAULT_COLLECTION, self.collection] if self.scope else [DEFAULT_COLLECTION]


class RateLimiter:
    """At most `per_minute` events per key in any 60-second window (0 = unlimited)."""

    def __init__(self, per_minute: int, *, window: float = 60.0) -> None:
        self.per_minute, self.window = per_minute, window
        self._events: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def check(self, key: str) -> float:
        """0 when allowed (and counted), else seconds until the next slot frees up."""
        if self.per_minute <= 0:
            return 0.0
        now = time.monotonic()
        with self._lock:
            q = self._events[key]
            while q and now - q[0] >= self.window:
                q.popleft()
            if len(q) >= self.per_minute:
                return self.window - (now - q[0])
            q.append(now)
            return 0.0


_UNSAFE = re.compile(r"[^\w.\- ]+", re.U)


AUTO_CONFIDENCE_FILE = Path(__file__).with_name("auto_confidence.json")

# A help-channel message is a question when it ends in '?' or opens like one ("how do I…",
# "anyone know…", "is there…"); chatter ("thanks!", "lol same") is left alone.
_QUESTION_START = re.compile(
    r"^(?:hi|hey|hello|quick question)?[\s,:!.-]*(?:how|what|what's|whats|who|who's|whom|whose|when|where|why|which|"
    r"is|are|was|were|do|does|did|can|could|should|would|will|has|have|had|may|might|"
    r"anyone know|does anyone|any idea|any ideas)\b", re.I)


def is_question(text: str) -> bool:
    """Whether a chat message asks something (a '?' at its end, or a question's opening words)."""
    t = search_text(text).strip()
    if len(t) < 8 or not any(ch.isalpha() for ch in t):
        return False
    return t.rstrip(" )\"'”").endswith("?") or bool(_QUESTION_START.match(t))


def load_auto_confidence(path: Path = AUTO_CONFIDENCE_FILE) -> float:
    """The fitted default for CITEBOT_AUTO_MIN_CONFIDENCE, from its data file (made by bench/reply_length.py)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        threshold = float(data["threshold"])
        if not 0.0 <= threshold <= 1.0 or not data.get("provenance"):
            raise ValueError("threshold outside 0-1 or no provenance")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise RuntimeError(f"{path.name} is unreadable ({exc}); re-run bench/reply_length.py --fit") from exc
    return threshold


def ingest_outcome(report: IngestReport, *, kind: str, shown: str, same: str, place: str) -> str:
    """What an admin is told after adding a file or page from chat (every platform says the same).

    kind: "file" / "page"; shown: how the item is written in the reply; same: the subject of the
    "unchanged" reply; place: "server" / "workspace", where questions can now cite it."""
    if report.skipped:
        return f"I couldn't add that {kind}: " + "; ".join(reason for _, reason in report.skipped)
    if report.unchanged and not (report.added or report.updated):
        return f"{same} is already indexed, unchanged."
    verb = "Updated" if report.updated else "Added"
    return f"{verb} {shown} ({report.passages} passages): questions in this {place} can now cite it."


def safe_filename(name: str) -> str:
    """A chat upload's name reduced to a harmless base name (no paths, no control characters)."""
    name = unicodedata.normalize("NFKC", name or "")
    name = name.replace("\\", "/").split("/")[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")
    name = _UNSAFE.sub("_", name).strip(" .")
    stem, dot, suffix = name.rpartition(".")
    if not dot:
        stem, suffix = name, ""
    stem = stem[:100] or "upload"
    return f"{stem}.{suffix.lower()[:10]}" if suffix else stem


class CitebotService:
    """Answers questions for every adapter, with the same rules everywhere."""

    def __init__(
        self,
        engine: Engine,
        feedback: FeedbackStore,
        *,
        max_question_chars: int = 500,
        rate_limit_per_minute: int = 10,
        max_upload_bytes: int = 10 * 1024 * 1024,
        uploads_dir: Path | None = None,
        channels: ChannelStore | None = None,
        auto_min_confidence: float | None = None,
        auto_per_channel_per_minute: int = 6,
        web: WebIngester | None = None,
    ) -> None:
        if max_question_chars < 1:
            raise ValueError("max_question_chars must be positive")
        self.engine = engine
        self.feedback = feedback
        self.max_question_chars = max_question_chars
        self.max_upload_bytes = max_upload_bytes
        self.limiter = RateLimiter(rate_limit_per_minute)
        self.uploads_dir = Path(uploads_dir) if uploads_dir else engine.index_dir / "uploads"
        self._write_lock = asyncio.Lock()
        self.channels = channels if channels is not None else ChannelStore(engine.index_dir / "channels.sqlite")
        self.auto_min_confidence = load_auto_confidence() if auto_min_confidence is None else auto_min_confidence
        self.channel_limiter = RateLimiter(auto_per_channel_per_minute)
        self.web = web  # fetches `/ingest url:` pages; None = adding web pages is off
        # Told (answer, seconds) after every question answered, whichever adapter asked: the web
        # page's /metrics counts them this way, so no adapter needs to know it is there.
        self.observers: list[Callable[[Answer, float], None]] = []

    # --- questions ------------------------------------------------------------------------

    def check_question(self, question: str) -> str:
        """The cleaned question, or a UserError saying what is wrong with it."""
        q = " ".join((question or "").split())
        if not q:
            raise UserError("Ask me a question about the articles, e.g. `who founded 01.AI?`")
        if len(q) > self.max_question_chars:
            raise UserError(
                f"That question is {len(q):,} characters long; please keep it under {self.max_question_chars:,}."
            )
        if not any(ch.isalnum() for ch in q):
            raise UserError("I need some words to search for. Try e.g. `who founded 01.AI?`")
        return q

    def check_rate(self, asker: Asker) -> None:
        """Raise a friendly UserError when this user asks too often."""
        wait = self.limiter.check(f"{asker.platform}:{asker.user}")
        if wait:
            raise UserError(f"You're asking faster than I can keep up. Please wait {max(1, round(wait))} s and try again.")

    def ask_sync(self, question: str, asker: Asker, conversation: Sequence[Turn] = ()) -> Answer:
        """Answer a question for this asker (blocking; adapters use `ask`).

        `conversation`: the thread's earlier turns, oldest first, as the adapter rebuilt them from
        the platform's history (bot/thread.py bounds them); a follow-up is read with them.
        """
        q = self.check_question(question)
        self.check_rate(asker)
        t0 = time.perf_counter()
        answer = self._answer(q, asker, conversation)
        for observe in self.observers:
            observe(answer, time.perf_counter() - t0)
        if not answer.found:
            self.feedback.record(platform=asker.platform, scope=asker.scope, user=asker.user, question=q, vote=0)
        log.info("%s question in %s: found=%s confidence=%.2f", asker.platform, asker.scope or "-", answer.found, answer.confidence)
        return answer

    async def ask(self, question: str, asker: Asker, conversation: Sequence[Turn] = ()) -> Answer:
        """Answer off the event loop: embedding and FAISS work would block heartbeats."""
        return await asyncio.to_thread(self.ask_sync, question, asker, conversation)

    async def more_sources(self, question: str, asker: Asker) -> Answer:
        """The same answer again (deterministic), for a 'More sources' button; not rate-limited."""
        q = self.check_question(question)
        return await asyncio.to_thread(self._answer, q, asker)

    def _answer(self, q: str, asker: Asker, conversation: Sequence[Turn] = ()) -> Answer:
        answer = self.engine.ask(search_text(q), self.collections_for(asker), conversation=bounded(conversation))
        return dataclasses.replace(answer, question=q)  # the reply shows the question as asked

    # --- channels -------------------------------------------------------------------------

    def collections_for(self, asker: Asker) -> list[str]:
        """What this asker is answered from: their channel's collections if it has some, else the default."""
        names = self.channels.rule(asker.platform, asker.channel).collections
        if not names or not asker.scope:
            return asker.collections
        # 'uploads' is this scope's own; no channel can reach another server's uploads (no ':').
        return list(dict.fromkeys(asker.collection if n == UPLOADS else n for n in names if ":" not in n))

    def auto_channel(self, platform: str, channel: str | None) -> bool:
        """Whether citebot answers new questions in this channel unasked."""
        return bool(channel) and self.channels.rule(platform, channel).auto

    def auto_answer_sync(self, text: str, asker: Asker) -> Answer | None:
        """An unasked answer for a help-channel message, or None to stay silent.

        Silent for chatter, for questions over the channel's limit or the length limit, and when
        citebot is not confident enough (CITEBOT_AUTO_MIN_CONFIDENCE); a question it could not
        answer well is recorded, so `citebot feedback` lists it as unanswered.
        """
        if not is_question(text):
            return None
        try:
            q = self.check_question(text)
        except UserError:
            return None
        if self.channel_limiter.check(f"{asker.platform}:{asker.channel}"):
            # Checked before searching, so a flood of questions in one channel costs no search either.
            log.info("%s channel %s is over its unasked-answer limit; staying silent", asker.platform, asker.channel)
            self.feedback.record(platform=asker.platform, scope=asker.scope, user=asker.user, question=q,
                                 vote=0, auto=True)
            return None
        answer = self._answer(q, asker)
        confident = answer.found and answer.confidence >= self.auto_min_confidence
        log.info("%s unasked question in %s: found=%s confidence=%.2f answered=%s", asker.platform,
                 asker.channel, answer.found, answer.confidence, confident)
        if not confident:
            self.feedback.record(platform=asker.platform, scope=asker.scope, user=asker.user, question=q,
                                 answer=answer.answer if answer.found else None, vote=0, auto=True)
            return None
        return answer

    async def auto_answer(self, text: str, asker: Asker) -> Answer | None:
        """`auto_answer_sync` off the event loop."""
        return await asyncio.to_thread(self.auto_answer_sync, text, asker)

    async def set_channel(self, asker: Asker, *, auto: bool | None = None,
                          collections: tuple[str, ...] | None = None) -> ChannelRule:
        """An admin's change to the asker's channel (the adapter checked the admin right)."""
        if not asker.channel or not asker.scope:
            raise UserError("Channel settings are made inside a server or workspace channel.")
        return await asyncio.to_thread(self.channels.set, asker.platform, asker.channel, asker.scope,
                                       auto=auto, collections=collections)

    def record_vote(self, question: str, vote: int, asker: Asker, answer: str | None = None) -> None:
        """Store a 👍 (+1) or 👎 (-1) on an answer."""
        self.feedback.record(platform=asker.platform, scope=asker.scope, user=asker.user,
                             question=question, answer=answer, vote=vote)

    # --- documents ------------------------------------------------------------------------

    async def sources(self, asker: Asker) -> list[SourceInfo]:
        """What this asker can be answered from."""
        return await asyncio.to_thread(self.engine.sources, self.collections_for(asker))

    async def ingest_upload(self, filename: str, data: bytes, asker: Asker) -> IngestReport:
        """Index a chat upload into the asker's collection; the file is kept under a safe name."""
        if not asker.scope:
            raise UserError("Uploads are only accepted inside a server or workspace.")
        name = safe_filename(filename)
        suffix = Path(name).suffix.lower()
        if suffix not in SUPPORTED_SUFFIXES:
            raise UserError(f"I can read .txt, .md, .html and .pdf files, not '{suffix or name}'.")
        if len(data) > self.max_upload_bytes:
            raise UserError(
                f"That file is {len(data) / 1048576:.1f} MB; the limit is {self.max_upload_bytes / 1048576:.0f} MB."
            )
        folder = self.uploads_dir / safe_filename(asker.collection.replace(":", "-"))
        source = f"upload:{asker.collection}/{name}"

        def work() -> IngestReport:
            report = self.engine.ingest([Document(name=name, source=source, data=data)],
                                        collection=asker.collection, lock_timeout=60.0)
            if not report.skipped:
                folder.mkdir(parents=True, exist_ok=True)
                (folder / name).write_bytes(data)
            return report

        async with self._write_lock:
            return await asyncio.to_thread(work)

    async def ingest_url(self, url: str, asker: Asker) -> IngestReport:
        """Fetch a web page into the asker's collection (the crawler's address and robots.txt rules apply)."""
        if not asker.scope:
            raise UserError("Web pages can only be added inside a server or workspace.")
        if self.web is None:
            raise UserError("Adding web pages is not enabled on this bot.")
        url = (url or "").strip()
        if not url:
            raise UserError("Give the address of a web page, e.g. `https://example.com/post`.")
        web = self.web
        async with self._write_lock:
            return await asyncio.to_thread(web.ingest_urls, [url], collection=asker.collection, lock_timeout=60.0)

    async def forget(self, source: str, asker: Asker) -> list[str]:
        """Remove an upload of this asker's own scope (never global articles or another scope's)."""
        if not asker.scope:
            raise UserError("Documents can only be removed inside a server or workspace.")
        source = (source or "").strip()
        if not source:
            raise UserError("Name the document to forget (see /sources).")
        async with self._write_lock:
            return await asyncio.to_thread(self.engine.forget, source, asker.collection)
