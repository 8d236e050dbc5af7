"""Cold answer time with the reader on and off, one and two threads, side by side in one process.

    python bench/reader_speed.py [--questions 101] [--rounds 3] [--busy]

The index: the 24 articles of SQuAD v1.1 dev part A (`../shared/eval`), built once into bench/out.
The questions: --questions of its questions, drawn with a fixed seed. Four variants of the engine
over that one index, each with its own ONNX sessions: reader off or on, question-time sessions
with one or two threads. Variants are interleaved question by question, round by round, and the
embedder's caches are emptied before every ask ("cold": a team's first question), so machine
noise spreads over all of them alike. Per variant: p50/p95 of `Engine.ask`, and the reader's own
share of it. `--busy` keeps one core busy with another process meanwhile (a loaded host). Prints
the CPU model and load average first, a table, and one JSON line last.
"""
from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from bench.quality import OUT, _key, build_engine, load_squad, questions  # noqa: E402
from bench.refusal_fit import V1  # noqa: E402
from index import Engine, OnnxEmbedder, SentenceReader  # noqa: E402


class TimedReader(SentenceReader):
    """The shipped reader, adding up the time its runs take."""

    spent = 0.0

    def scores(self, question, candidates):  # type: ignore[no-untyped-def]
        t0 = time.perf_counter()
        try:
            return super().scores(question, candidates)
        finally:
            self.spent += time.perf_counter() - t0


def _spin() -> None:
    while True:
        pass


def cpu() -> str:
    """The CPU's model name and its int8 kind (bench/reader_kernels.py reads it the one way)."""
    from bench.reader_kernels import cpu_name

    return cpu_name()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--questions", type=int, default=101)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--busy", action="store_true", help="keep one core busy meanwhile")
    args = ap.parse_args()
    arts = load_squad(V1)
    base = OnnxEmbedder()
    base.warm_up()
    engine = build_engine("all", arts, base, folder=OUT / f"all-{_key(arts, base)}")
    qs = random.Random(7).sample(questions(engine, arts, range(len(arts))), args.questions)
    variants = {}
    for name, reader_on, threads in (("reader off, 1 thread", False, 1), ("reader off, 2 threads", False, 2),
                                     ("reader on, 1 thread", True, 1), ("reader on, 2 threads", True, 2)):
        emb = OnnxEmbedder(query_threads=threads)
        emb.warm_up()
        reader = TimedReader(threads=threads) if reader_on else None
        eng = Engine(engine.index_dir, emb, sentence_reader=reader)
        eng.warm_up()
        eng.ask(qs[0].text)
        variants[name] = (eng, emb, reader, [])
    busy = None
    if args.busy:
        busy = multiprocessing.Process(target=_spin, daemon=True)
        busy.start()
    load = os.getloadavg()
    print(f"CPU: {cpu()}, {os.cpu_count()} cores; load average before: {load[0]:.2f}; busy core: {args.busy}")
    reader_time = {n: 0.0 for n in variants}
    try:
        for _ in range(args.rounds):
            for q in qs:
                for name, (eng, emb, reader, times) in variants.items():
                    emb._cache.clear()
                    emb._tok_cache.clear()
                    if reader is not None:
                        reader.spent = 0.0
                    t0 = time.perf_counter()
                    eng.ask(q.text)
                    times.append((time.perf_counter() - t0) * 1000)
                    if reader is not None:
                        reader_time[name] += reader.spent * 1000
    finally:
        if busy is not None:
            busy.terminate()
    rows = {}
    for name, (_, _, reader, times) in variants.items():
        times.sort()
        rows[name] = {"p50_ms": round(statistics.median(times), 1), "p95_ms": round(times[int(0.95 * (len(times) - 1))], 1),
                      "reader_share": round(reader_time[name] / sum(times), 3) if reader is not None else 0.0}
    print(f"{'variant':<24} {'p50 ms':>8} {'p95 ms':>8} {'reader share':>13}")
    for name, r in rows.items():
        print(f"{name:<24} {r['p50_ms']:>8} {r['p95_ms']:>8} {r['reader_share']:>13.0%}")
    print(json.dumps({"cpu": cpu(), "busy": args.busy, "questions": len(qs), "rounds": args.rounds,
                      "load_before": round(load[0], 2), "variants": rows}))


if __name__ == "__main__":
    main()
