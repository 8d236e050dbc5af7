"""Typo forgiveness on SQuAD part A: one injected typo per question, answers with and without correction.

    python bench/typos.py [--data ../shared/eval/squad-v1.1-dev-part-a.json] [--limit 1000]
                          [--ooc-limit 300] [--seed 0]

Uses bench/quality.py's real indexes (cached in bench/out/) and its metrics. Each sampled
question gets one typo (fixed seed): in a random word of 3+ letters that is not a stopword, one
letter deleted, inserted, replaced, or swapped with its neighbour. Every question is asked four
ways: {clean, with the typo} x {correction off, on}. Clean questions must not lose anything: the
run lists every clean question that hit without correction and misses with it. Out-of-corpus
questions (the other fold's, as in quality.py) check that a correction does not turn a right
"not found" into a wrong answer. Prints a table, then one JSON line.
"""
from __future__ import annotations

import argparse
import json
import logging
import random
import sys
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
for p in (ROOT, ROOT / "bench"):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

from quality import (  # noqa: E402
    DEFAULT_DATA,
    OUT,
    Question,
    _key,
    abstained,
    answerable_metrics,
    ask_all,
    build_engine,
    load_squad,
    questions,
)

from index import DEFAULT_MIN_CONFIDENCE, STOPWORDS, make_embedder  # noqa: E402

LETTERS = "abcdefghijklmnopqrstuvwxyz"


def inject_typo(text: str, rng: random.Random) -> str:
    """`text` with one typo in one of its words (3+ letters, not a stopword); unchanged if it has none."""
    import re

    words = [m for m in re.finditer(r"[A-Za-z]{3,}", text) if m.group(0).lower() not in STOPWORDS]
    if not words:
        return text
    m = rng.choice(words)
    w = m.group(0)
    for _ in range(20):
        op, i = rng.choice(("delete", "insert", "replace", "swap")), rng.randrange(len(w))
        if op == "delete":
            t = w[:i] + w[i + 1:]
        elif op == "insert":
            t = w[:i] + rng.choice(LETTERS) + w[i:]
        elif op == "replace":
            t = w[:i] + rng.choice(LETTERS) + w[i + 1:]
        else:
            i = min(i, len(w) - 2)
            t = w[:i] + w[i + 1] + w[i] + w[i + 2:]
        if t.lower() != w.lower():
            return text[: m.start()] + t + text[m.end():]
    return text


def main(argv: Sequence[str] | None = None) -> int:
    """Run the comparison and print it."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--limit", type=int, default=1000, help="answerable questions to sample (0 = all)")
    ap.add_argument("--ooc-limit", type=int, default=300, help="out-of-corpus questions per fold (0 = none)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--backend", default="auto")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    if not args.data.is_file():
        print(f"no data at {args.data}", file=sys.stderr)
        return 2
    embedder = make_embedder("sentence-transformers/all-MiniLM-L6-v2", args.backend)
    arts = load_squad(args.data)
    full = build_engine("all", arts, embedder, folder=OUT / f"all-{_key(arts, embedder)}")
    rng = random.Random(args.seed)
    qs_all = questions(full, arts, range(len(arts)))
    sample = rng.sample(qs_all, min(args.limit, len(qs_all))) if args.limit else qs_all
    typo_rng = random.Random(args.seed + 1)
    typoed = [replace(q, text=inject_typo(q.text, typo_rng)) for q in sample]
    changed = sum(a.text != b.text for a, b in zip(sample, typoed))

    def run(engine, qs: list[Question], on: bool) -> list:
        engine.correct_typos = on
        return ask_all(engine, qs, arts, "hybrid")

    th = DEFAULT_MIN_CONFIDENCE
    rows: dict[str, dict] = {}
    recs: dict[tuple[str, bool], list] = {}
    t0 = time.perf_counter()
    for name, qs in (("clean", sample), ("one typo", typoed)):
        for on in (False, True):
            recs[name, on] = run(full, qs, on)
            m = answerable_metrics(recs[name, on], th)
            rows[f"{name}, correction {'on' if on else 'off'}"] = {
                k: round(m[k], 4) for k in ("answer_hit", "paragraph_hit@1", "citation_hit@3", "refused_answerable", "ms_per_question")}
    lost = [q.text for q, a, b in zip(sample, recs["clean", False], recs["clean", True])
            if a.answer_hit and a.found and a.confidence >= th and not (b.answer_hit and b.found and b.confidence >= th)]
    gained_clean = sum(1 for a, b in zip(recs["clean", False], recs["clean", True])
                       if not (a.answer_hit and a.confidence >= th) and b.answer_hit and b.confidence >= th)
    clean_corrected = sum(full.spelled(q.text) != q.text for q in sample)
    typo_corrected = sum(full.spelled(q.text) != q.text for q in typoed)
    typo_fixed_exactly = sum(full.spelled(t.text) == c.text for c, t in zip(sample, typoed) if c.text != t.text)

    ooc: dict[str, float] = {}
    if args.ooc_limit:
        half = (list(range(0, len(arts), 2)), list(range(1, len(arts), 2)))
        for on in (False, True):
            counts = {"clean": [0.0, 0], "one typo": [0.0, 0]}
            for k, keep in enumerate(half):
                sub = [arts[i] for i in keep]
                eng = build_engine(f"A{k + 1}", sub, embedder, folder=OUT / f"A{k + 1}-{_key(sub, embedder)}")
                other = [q for q in qs_all if q.article in half[1 - k]]
                picked = random.Random(args.seed + 2 + k).sample(other, min(args.ooc_limit, len(other)))
                typo_picked = [replace(q, text=inject_typo(q.text, random.Random(q.qid))) for q in picked]
                for name, variant in (("clean", picked), ("one typo", typo_picked)):
                    eng.correct_typos = on
                    # ask_all scores against `arts` positions; only found/confidence matter here.
                    r = ask_all(eng, [replace(q, article=0) for q in variant], arts, "hybrid")
                    counts[name][0] += abstained(r, th) * len(r)
                    counts[name][1] += len(r)
            for name, (abst, n) in counts.items():
                ooc[f"{name}, correction {'on' if on else 'off'}"] = round(abst / max(1, n), 4)

    report = {
        "date": time.strftime("%Y-%m-%d"), "data": str(args.data.name), "seed": args.seed, "questions": len(sample),
        "questions_with_a_typo": changed, "threshold": th, "rows": rows,
        "clean_questions_changed_by_correction": clean_corrected, "clean_lost": len(lost), "clean_lost_questions": lost[:20],
        "clean_gained": gained_clean, "typo_questions_changed_by_correction": typo_corrected,
        "typo_restored_exactly": typo_fixed_exactly, "abstain_out_of_corpus": ooc,
        "seconds": round(time.perf_counter() - t0, 1),
    }
    print(f"{'':32} {'answer':>7} {'para@1':>7} {'cite@3':>7} {'refused':>8} {'ms/q':>6}")
    for name, m in rows.items():
        print(f"{name:32} {m['answer_hit']:7.3f} {m['paragraph_hit@1']:7.3f} {m['citation_hit@3']:7.3f} "
              f"{m['refused_answerable']:8.3f} {m['ms_per_question']:6.1f}")
    print(f"clean questions changed by correction: {clean_corrected}; lost {len(lost)}, gained {gained_clean}")
    print(f"typo questions changed: {typo_corrected} of {changed}; restored exactly: {typo_fixed_exactly}")
    if ooc:
        print(f"out-of-corpus questions refused: {ooc}")
    print(json.dumps(report, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
