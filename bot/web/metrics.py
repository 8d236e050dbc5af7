"""Counters for `GET /metrics`, in the Prometheus text format (version 0.0.4), written by hand.

Small enough not to need prometheus_client: a few counters, one histogram and some gauges read
from the index when scraped. Counters count what this process did since it started (Prometheus'
`rate()` handles restarts); nothing here holds question text.
"""
from __future__ import annotations

import threading
from collections.abc import Iterable

from index import Answer, SyncReport

# Seconds; a question on the sample index takes ~10-20 ms, a large index tens of ms.
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
SYNC_OUTCOMES = ("added", "updated", "unchanged", "skipped")


class Metrics:
    """What this process counted; `observe_answer` is a CitebotService observer."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.questions = 0
        self.answered = 0
        self.refused = 0  # answered "not found": nothing in the articles was good enough
        self.rejected = 0  # turned away before searching: empty, too long, too fast
        self.bucket_counts = [0] * len(BUCKETS)
        self.latency_sum = 0.0
        self.sync_passes = 0
        self.sync_failed = 0
        self.sync_articles = dict.fromkeys(SYNC_OUTCOMES, 0)
        self.forgotten = 0

    def observe_answer(self, answer: Answer, seconds: float) -> None:
        """Count one answered question and its time."""
        with self._lock:
            self.questions += 1
            if answer.found:
                self.answered += 1
            else:
                self.refused += 1
            self.latency_sum += seconds
            for i, bound in enumerate(BUCKETS):
                if seconds <= bound:
                    self.bucket_counts[i] += 1

    def observe_rejected(self) -> None:
        """Count a question turned away before search (bad input or over the rate limit)."""
        with self._lock:
            self.rejected += 1

    def observe_sync(self, report: SyncReport | None) -> None:
        """Count a sync pass started from the page (None: it could not run at all)."""
        with self._lock:
            self.sync_passes += 1
            if report is None or not report.ok:
                self.sync_failed += 1
            if report is not None:
                for outcome in SYNC_OUTCOMES:
                    self.sync_articles[outcome] += report.count(outcome)

    def observe_forget(self, n: int) -> None:
        """Count articles forgotten from the page."""
        with self._lock:
            self.forgotten += n

    def render(self, gauges: Iterable[tuple[str, str, float]] = ()) -> str:
        """The exposition text; `gauges` are (name, help, value) read at scrape time."""
        out: list[str] = []

        def metric(name: str, kind: str, help_: str, lines: Iterable[str]) -> None:
            out.extend([f"# HELP {name} {help_}", f"# TYPE {name} {kind}", *lines])

        with self._lock:
            metric("citebot_questions_total", "counter", "Questions answered by this process (every adapter).",
                   [f"citebot_questions_total {self.questions}"])
            metric("citebot_answered_total", "counter", "Questions answered with a quote.",
                   [f"citebot_answered_total {self.answered}"])
            metric("citebot_refused_total", "counter", "Questions answered 'not found'.",
                   [f"citebot_refused_total {self.refused}"])
            metric("citebot_rejected_total", "counter", "Web questions turned away before search (bad input, rate limit).",
                   [f"citebot_rejected_total {self.rejected}"])
            cumulative = [f'citebot_question_seconds_bucket{{le="{b:g}"}} {n}' for b, n in zip(BUCKETS, self.bucket_counts)]
            metric("citebot_question_seconds", "histogram", "Time to answer a question (search and compose).",
                   cumulative + [f'citebot_question_seconds_bucket{{le="+Inf"}} {self.questions}',
                                 f"citebot_question_seconds_sum {self.latency_sum:.6f}",
                                 f"citebot_question_seconds_count {self.questions}"])
            metric("citebot_sync_passes_total", "counter", "Sync passes started from the web page.",
                   [f"citebot_sync_passes_total {self.sync_passes}"])
            metric("citebot_sync_failed_total", "counter", "Sync passes that skipped a page or could not read a source.",
                   [f"citebot_sync_failed_total {self.sync_failed}"])
            metric("citebot_sync_articles_total", "counter", "Articles seen by those passes, by outcome.",
                   [f'citebot_sync_articles_total{{outcome="{o}"}} {n}' for o, n in self.sync_articles.items()])
            metric("citebot_forgotten_total", "counter", "Articles forgotten from the web page.",
                   [f"citebot_forgotten_total {self.forgotten}"])
        for name, help_, value in gauges:
            metric(name, "gauge", help_, [f"{name} {value:g}"])
        return "\n".join(out) + "\n"
