"""Levers on the cold answer path, each measured on the same first-time questions of one index.

    python bench/speed_levers.py [--index bench/out/speed/idx-100k] [--questions 100] [--rounds 3] [--profile]

One process, one index (by default the 100k index `bench/speed.py` builds into bench/out/speed).
Every lever is a variant of the ONNX session or of the composer; the variants are interleaved
round by round over the same real SQuAD questions (the ones `bench/speed.py` times), with the
sentence/token caches emptied before every ask ("cold"), so machine noise spreads over all of
them alike. Per lever: cold p50/p95 over all rounds, and whether every answer (quote, found,
confidence to 6 places, citations) is the same as the baseline's, and whether the quotes and
citations are (confidence aside). `--profile` adds a cProfile of the cold
asks of the baseline (top functions by own time). Prints a table and one JSON line.
"""
from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np  # noqa: E402

OUT = ROOT / "bench" / "out" / "speed"


def session(emb, *, level: str = "all", intra: int | None = None, inter: int = 1, spinning: bool = False,
            arena: bool = True, parallel: bool = False):
    """A fresh ORT session on the embedder's model file with the given options."""
    import onnxruntime as ort

    from index import resolve_model
    from index.model.onnx_embed import _model_key

    folder = emb.cache_dir / _model_key(Path(resolve_model(emb.name)))
    opts = ort.SessionOptions()
    if intra:
        opts.intra_op_num_threads = intra
    opts.inter_op_num_threads = inter
    opts.add_session_config_entry("session.intra_op.allow_spinning", "1" if spinning else "0")
    opts.graph_optimization_level = {"basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
                                     "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
                                     "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL}[level]
    opts.enable_cpu_mem_arena = arena
    if parallel:
        opts.execution_mode = ort.ExecutionMode.ORT_PARALLEL
    opts.log_severity_level = 3
    return ort.InferenceSession(str(folder / "model-int8.onnx"), opts, providers=["CPUExecutionProvider"])


def bucketed_run(emb, ratio: float = 1.5):
    """emb._run that splits a batch where a text is `ratio`× longer than the batch's shortest."""
    base = emb._run

    def run(texts, batch_size, *, tokens, query=False):
        encs = emb._tokenizer.encode_batch(list(texts))
        lens = [len(e.ids) for e in encs]
        order = np.argsort(lens, kind="stable")
        groups, cur = [], []
        for i in order:
            if cur and lens[i] > ratio * lens[cur[0]]:
                groups.append(cur)
                cur = []
            cur.append(int(i))
        groups.append(cur)
        out = np.empty((len(texts), emb.dim), dtype=np.float32)
        toks = [None] * len(texts)
        for g in groups:
            v, t = base([texts[i] for i in g], batch_size, tokens=tokens, query=query)
            out[g] = v
            for j, i in enumerate(g):
                if tokens:
                    toks[i] = t[j]
        return out, [t for t in toks if t is not None]

    return run


def signature(a) -> tuple:
    """What a user sees of an answer: found, quote, confidence, cited passages."""
    return (a.found, a.answer, round(float(a.confidence or 0.0), 6), tuple((c.source, c.start, c.end) for c in a.citations))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--index", type=Path, default=OUT / "idx-100k")
    ap.add_argument("--qfile", type=Path, default=OUT / "questions.json")
    ap.add_argument("--questions", type=int, default=100)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--profile", action="store_true")
    ap.add_argument("--only", default="", help="comma-separated substrings: run only the levers whose name has one")
    args = ap.parse_args()

    from index import Engine, make_embedder

    emb = make_embedder("sentence-transformers/all-MiniLM-L6-v2", "auto")
    emb.warm_up()
    eng = Engine(args.index, emb)
    eng.warm_up()
    qs = json.loads(args.qfile.read_text())
    warm, qs = qs[:20], qs[20:20 + args.questions]
    for q in warm:
        eng.ask(q)
    default_session, default_run = emb._session, emb._run
    query_session = getattr(emb, "_query_session", None)
    n_sent, n_words = eng.composer.embed_sentences, eng.composer.embed_words

    def setup(sess=None, run=None, sentences=None, words=None):
        def apply():
            # Both sessions: the lever applies to the query-time runs being timed.
            emb._session = sess or default_session
            if query_session is not None:
                emb._query_session = sess or default_session
            emb._run = run or default_run
            eng.composer.embed_sentences = sentences or n_sent
            eng.composer.embed_words = words or n_words
        return apply

    levers = {
        "baseline (ENABLE_ALL, intra=cores, inter 1, no spin, arena)": setup(),
        **({"shipped: query-time session with 1 intra-op thread": setup(query_session)} if query_session is not None else {}),
        "graph opt BASIC": setup(session(emb, level="basic")),
        "graph opt EXTENDED": setup(session(emb, level="extended")),
        "intra-op threads 1": setup(session(emb, intra=1)),
        "intra-op threads 2": setup(session(emb, intra=2)),
        "spinning on": setup(session(emb, spinning=True)),
        "arena off": setup(session(emb, arena=False)),
        "execution mode PARALLEL, inter 2": setup(session(emb, inter=2, parallel=True)),
        "intra-op threads 1 + graph opt EXTENDED": setup(session(emb, intra=1, level="extended")),
        "intra-op threads 1 + arena off": setup(session(emb, intra=1, arena=False)),
        "bucketed batches (split at 1.5x length)": setup(run=bucketed_run(emb)),
        f"pre-score: {n_sent - 1} sentences to the model": setup(sentences=n_sent - 1),
        f"pre-score: sentences cut at {n_words * 2 // 3} words": setup(words=n_words * 2 // 3),
    }
    if args.only:
        keep = [x.strip() for x in args.only.split(",") if x.strip()]
        levers = {k: v for i, (k, v) in enumerate(levers.items()) if i == 0 or any(x in k for x in keep)}
    times: dict[str, list[float]] = {k: [] for k in levers}
    answers: dict[str, list[tuple]] = {k: [] for k in levers}
    for r in range(args.rounds):
        for name, apply in levers.items():
            apply()
            for q in qs:
                emb._cache.clear()
                emb._tok_cache.clear()
                t0 = time.perf_counter()
                a = eng.ask(q)
                times[name].append((time.perf_counter() - t0) * 1000)
                if r == 0:
                    answers[name].append(signature(a))
        print(f"round {r + 1}/{args.rounds} done", file=sys.stderr)
    setup()()
    if query_session is not None:
        emb._query_session = query_session
    base = next(iter(levers))
    rows = []
    for name in levers:
        same = sum(x == y for x, y in zip(answers[name], answers[base])) / len(qs)
        quotes = sum(x[:2] + x[3:] == y[:2] + y[3:] for x, y in zip(answers[name], answers[base])) / len(qs)
        rows.append({"lever": name, "cold_p50_ms": float(np.percentile(times[name], 50)),
                     "cold_p95_ms": float(np.percentile(times[name], 95)), "same_answers": same,
                     "same_quotes_and_citations": quotes})
    prof = ""
    if args.profile:
        pr = cProfile.Profile()
        for q in qs:
            emb._cache.clear()
            emb._tok_cache.clear()
            pr.enable()
            eng.ask(q)
            pr.disable()
        s = io.StringIO()
        pstats.Stats(pr, stream=s).sort_stats("tottime").print_stats(15)
        prof = s.getvalue()
        print(prof)
    print(f"\n{args.index.name}, {len(qs)} cold questions x {args.rounds} rounds, {os.cpu_count()} cores, {time.strftime('%Y-%m-%d %H:%M')}")
    print(f"{'lever':58} {'cold p50':>9} {'cold p95':>9} {'same answers':>12} {'same quotes':>11}")
    for r in rows:
        print(f"{r['lever']:58} {r['cold_p50_ms']:9.1f} {r['cold_p95_ms']:9.1f} {r['same_answers']:12.3f} {r['same_quotes_and_citations']:11.3f}")
    print(json.dumps({"date": time.strftime("%Y-%m-%d"), "index": args.index.name, "questions": len(qs),
                      "rounds": args.rounds, "levers": rows}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
