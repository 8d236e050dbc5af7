"""What the reader costs per question: `Engine.ask` with the reader off and on, side by side.

    python bench/reader_cost.py [--questions 300] [--seed 0] [--variants 0:0 passage:2 both]

Both engines read one index (the 24 SQuAD v1.1 dev part-A articles, cached in bench/out/ by
bench/quality.py) with their own embedder, so neither warms the other's caches. The questions are
asked alternately, off then on, each once (the sentence/token caches as they come, as for a
team's questions), after 20 warm-up questions that are not counted. Reported: median and p95 ms
per question, the ratio, and the reader's own share of a reader-on question (time inside
`SentenceReader.scores`, and how many pairs it read; for the passage reader, `PassageReader.read` and
the passages; for both readers, the two added up). Prints one JSON line last.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from bench.quality import DEFAULT_DATA, build_engine, load_squad, questions  # noqa: E402
from bench.reader_kernels import cpu_name  # noqa: E402
from bench.reader_speed import TimedReader  # noqa: E402
from index import Engine, PassageReader, ReaderPair, make_embedder  # noqa: E402


class _Timed(TimedReader):
    """The shipped reader, adding up its time (bench/reader_speed.py) and the pairs it reads."""

    pairs = 0

    def scores(self, question: str, candidates: Any) -> Any:
        self.pairs += len(candidates)
        return super().scores(question, candidates)


class _TimedPassage(PassageReader):
    """The passage reader, adding up its time and the passages it reads."""

    spent = 0.0
    pairs = 0

    def read(self, question: str, passages: Any) -> Any:
        self.pairs += len(passages)
        t0 = time.perf_counter()
        try:
            return super().read(question, passages)
        finally:
            self.spent += time.perf_counter() - t0


def _parts(r: Any) -> list[Any]:
    """The timed readers inside a reader setting (both of a ReaderPair)."""
    return [r.sentence, r.passage] if isinstance(r, ReaderPair) else [r]


def _pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--questions", type=int, default=300)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--variants", nargs="*", default=["0:0"],
                    help="reader settings to compare, each MAX_LEN:SENTENCES (word pieces a pair is cut to, 0 = as "
                         "trained; sentences read, 0 = as its confidence was fitted), or passage:N (the passage "
                         "reader reading the top N passages, 0 = as fitted), or both (CITEBOT_READER=both)")
    ap.add_argument("--passage-folder", type=Path, help="the passage reader's files (default: the shipped ones)")
    args = ap.parse_args()
    arts = load_squad(DEFAULT_DATA)
    folder = build_engine("all", arts, make_embedder("sentence-transformers/all-MiniLM-L6-v2")).index_dir
    specs = {v: [*v.split(":"), "0"][:2] for v in args.variants}
    readers: dict[str, Any] = {f"on {v}": ReaderPair(_Timed(), _TimedPassage(args.passage_folder)) if m == "both"
                               else _TimedPassage(args.passage_folder) if m == "passage" else _Timed(max_len=int(m) or None)
                               for v, (m, _) in specs.items()}
    engines = {"off": Engine(folder, make_embedder("sentence-transformers/all-MiniLM-L6-v2"))}
    engines |= {k: Engine(folder, make_embedder("sentence-transformers/all-MiniLM-L6-v2"), sentence_reader=r) for k, r in readers.items()}
    for v, (_, n) in specs.items():
        if int(n):  # a lever of issue 27: fewer sentences read (the shipped confidence is fitted for its own number)
            engines[f"on {v}"].composer.reader_sentences = int(n)
    for e in engines.values():
        e.warm_up()
    qs = [q.text for q in questions(engines["off"], arts, range(len(arts)))]
    random.Random(args.seed).shuffle(qs)
    warm, qs = qs[:20], qs[20: 20 + args.questions]
    for q in warm:
        for e in engines.values():
            e.ask(q)
    for r in readers.values():
        for part in _parts(r):
            part.spent, part.pairs = 0.0, 0
    times: dict[str, list[float]] = {k: [] for k in engines}
    for q in qs:
        for name, eng in engines.items():
            t0 = time.perf_counter()
            eng.ask(q)
            times[name].append(1000 * (time.perf_counter() - t0))
    med = {k: statistics.median(v) for k, v in times.items()}
    out: dict[str, Any] = {
        "cpu": cpu_name(), "load": os.getloadavg()[0], "questions": len(qs),
        "git": subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip(),
        "off_ms_p50": round(med["off"], 2), "off_ms_p95": round(_pct(times["off"], 0.95), 2),
    }
    print(f"reader off: p50 {out['off_ms_p50']} ms, p95 {out['off_ms_p95']} ms ({out['cpu']}, load {out['load']:.2f})")
    for k, r in readers.items():
        row = {"ms_p50": round(med[k], 2), "ms_p95": round(_pct(times[k], 0.95), 2),
               "ratio_p50": round(med[k] / med["off"], 3), "ratio_mean": round(sum(times[k]) / sum(times["off"]), 3),
               "reader_share": round(1000 * sum(p.spent for p in _parts(r)) / sum(times[k]), 3),
               "pairs_per_question": round(sum(p.pairs for p in _parts(r)) / len(qs), 2)}
        out[k] = row
        print(f"{k}: p50 {row['ms_p50']} ms, p95 {row['ms_p95']} ms | on/off {row['ratio_p50']}× (mean {row['ratio_mean']}×)"
              f" | reader's share {row['reader_share']:.0%}, {row['pairs_per_question']} pairs (passages) a question")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
