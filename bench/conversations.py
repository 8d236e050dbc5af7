"""Follow-up questions (issue 29): two-turn conversations over real pages, read with and without context.

    python bench/conversations.py [--split held-out-7|held-out-6|held-out-5|held-out-4|held-out-3|held-out-2|held-out|tune|all] [--reader] [--repeat 5] [--index DIR] [--show]
    python bench/conversations.py --cli [--split ...] [--reader]   # the same through `citebot ask --json -`

The conversations are bench/conversations.json (questions and short answer keys, written by
reading the pages; no article text). The index holds examples/, ../shared/corpus and the 181 pages
of ../shared/webpages (built once into --index, default bench/out/conversations-index). Each
conversation is asked three ways: the first question alone; the second question alone; the second
question after the first (`Engine.ask(..., conversation=[first.turn()])`). A first question is
also asked after the previous conversation's second turn (a new subject mid-thread) and compared
with itself alone.

A turn is right when the quoted sentence comes from one of its pages and holds every answer key.
Reported: follow-ups right with context vs alone; switches (second questions that name a new
subject) answered exactly as alone; first turns after an unrelated turn, right and identical vs
alone; the median time of a second question with context vs alone (the same questions, each asked
--repeat times in alternating order; cold, with the model's query caches cleared before each ask as
bench/speed.py does, and warm). Prints a table, then one JSON line.
"""
from __future__ import annotations

import argparse
import gzip
import json
import logging
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from index import Answer, Citation, Document, Engine, PassageReader, ReaderPair, SentenceReader, Turn, make_embedder  # noqa: E402

SET = ROOT / "bench" / "conversations.json"
SHARED = ROOT.parent / "shared"
WEBPAGES = SHARED / "webpages"
DEFAULT_INDEX = ROOT / "bench" / "out" / "conversations-index"
MODEL = "sentence-transformers/all-MiniLM-L6-v2"


def build(index_dir: Path) -> Engine:
    """The bench's engine; its index is built from examples/, the shared corpus and webpages when missing."""
    engine = Engine(index_dir, make_embedder(MODEL, "auto"))
    if engine.reader.exists and engine.reader.size:
        return engine
    engine.ingest_paths([ROOT / "examples", SHARED / "corpus"])
    truth = json.loads((WEBPAGES / "ground-truth.json").read_text(encoding="utf-8"))
    docs = [Document(name=f"{sha}.html", source=truth[sha]["url"], url=truth[sha]["url"],
                     data=gzip.decompress((WEBPAGES / "html" / f"{sha}.html.gz").read_bytes())) for sha in sorted(truth)]
    report = engine.ingest(docs)
    print(f"indexed {len(report.added)} pages ({report.passages} passages), skipped {len(report.skipped)}", file=sys.stderr)
    return engine


def page_keys(pages: Sequence[str], truth: dict[str, Any]) -> list[str]:
    """What a citation of each page holds: a file name for examples/corpus, the URL for a web page."""
    keys = []
    for p in pages:
        if "/" in p:
            keys.append(p.rsplit("/", 1)[1])
        else:
            keys += [v["url"] for sha, v in truth.items() if sha.startswith(p)]
    return keys


def right(answer: Answer, turn: dict[str, Any], truth: dict[str, Any]) -> bool:
    """The quote comes from one of the turn's pages and holds every answer key."""
    if not answer.found or not answer.answer:
        return False
    quoted = next((c for c in answer.citations if c.answer_start is not None), None)
    if quoted is None:
        return False
    keys = page_keys(turn["pages"], truth)
    from_page = any(k == quoted.url or k == quoted.source or quoted.source.endswith("/" + k) for k in keys)
    text = answer.answer.lower()
    return from_page and all(e.lower() in text for e in turn["expect"])


def same(a: Answer, b: Answer) -> bool:
    """The same reply: found the same way, the same quote from the same article."""
    return (a.found, a.answer, [c.source for c in a.citations[:1]]) == (b.found, b.answer, [c.source for c in b.citations[:1]])


def clear_caches(engine: Engine) -> None:
    """Forget the embedder's query-time caches, so the next ask meets the model as a new question does."""
    for name in ("_cache", "_tok_cache"):
        cache = getattr(engine.embedder, name, None)
        if cache is not None:
            cache.clear()


def timed(engine: Engine, q: str, conversation: Sequence[Turn] = (), *, cold: bool = False) -> tuple[Answer, float]:
    if cold:
        clear_caches(engine)
    t0 = time.perf_counter()
    ans = engine.ask(q, conversation=conversation)
    return ans, time.perf_counter() - t0


def run(engine: Engine, convs: list[dict[str, Any]], truth: dict[str, Any], repeat: int, show: bool) -> dict[str, Any]:
    """Every measurement of the module docstring, as one dict."""
    rows = []
    previous: Turn | None = None
    for c in convs:
        first, second = c["turns"]
        a1 = engine.ask(first["q"])
        a1_after = engine.ask(first["q"], conversation=[previous] if previous else [])
        alone = engine.ask(second["q"])
        ctx = engine.ask(second["q"], conversation=[a1.turn()])
        rows.append({"id": c["id"], "kind": c["kind"], "split": c["split"],
                     "first_right": right(a1, first, truth), "first_after_right": right(a1_after, first, truth),
                     "first_same": same(a1, a1_after), "alone_right": right(alone, second, truth),
                     "ctx_right": right(ctx, second, truth), "ctx_same": same(alone, ctx), "read_as": ctx.read_as,
                     "first_read_as": a1_after.read_as})
        if show:
            mark = "ok " if rows[-1]["ctx_right"] else "-- "
            print(f"{mark}{c['id']} {c['kind']:8} {second['q']!r} -> read as {ctx.read_as!r}: {(ctx.answer or 'NOT FOUND')[:110]!r}")
        previous = ctx.turn()
    # Time: the second questions alone and with context, in alternating order; cold (the model's
    # caches cleared before each ask, as a new question meets them: bench/speed.py's headline)
    # and warm (asked again).
    times: dict[str, list[float]] = {"alone": [], "ctx": [], "alone_warm": [], "ctx_warm": []}
    turns = {c["id"]: engine.ask(c["turns"][0]["q"]).turn() for c in convs}
    for r in range(repeat):
        for c in convs:
            q = c["turns"][1]["q"]
            pair = [("alone", ()), ("ctx", (turns[c["id"]],))]
            for name, conv in (pair if r % 2 == 0 else pair[::-1]):
                times[name].append(timed(engine, q, conv, cold=True)[1])
                times[name + "_warm"].append(timed(engine, q, conv)[1])
    t_alone, t_ctx = times["alone"], times["ctx"]
    follow = [r for r in rows if r["kind"] != "switch"]
    switch = [r for r in rows if r["kind"] == "switch"]

    def share(rs: list[dict[str, Any]], key: str) -> float:
        return round(sum(r[key] for r in rs) / len(rs), 3) if rs else 0.0

    return {
        "conversations": len(rows), "follow_ups": len(follow), "switches": len(switch),
        "follow_right_ctx": share(follow, "ctx_right"), "follow_right_alone": share(follow, "alone_right"),
        "switch_same_as_alone": share(switch, "ctx_same"), "switch_right_ctx": share(switch, "ctx_right"),
        "switch_right_alone": share(switch, "alone_right"), "switch_read_alone": share([{"x": r["read_as"] is None} for r in switch], "x"),
        "first_right_alone": share(rows, "first_right"), "first_right_after_other": share(rows, "first_after_right"),
        "first_same": share(rows, "first_same"),
        "ms_alone_median": round(statistics.median(t_alone) * 1000, 2),
        "ms_ctx_median": round(statistics.median(t_ctx) * 1000, 2),
        "added_time": round(statistics.median(t_ctx) / statistics.median(t_alone) - 1, 3),
        "ms_alone_warm_median": round(statistics.median(times["alone_warm"]) * 1000, 2),
        "ms_ctx_warm_median": round(statistics.median(times["ctx_warm"]) * 1000, 2),
        "misses": [r["id"] for r in follow if not r["ctx_right"]],
        "by_kind": {k: f"{sum(r['ctx_right'] for r in follow if r['kind'] == k)}/{sum(1 for r in follow if r['kind'] == k)}"
                    for k in sorted({r["kind"] for r in follow})},
    }


def standalone(engine: Engine, convs: list[dict[str, Any]], truth: dict[str, Any]) -> dict[str, int]:
    """The questions that stand alone (every first turn, and a switch's second), asked alone."""
    got = {"questions": 0, "right": 0, "wrong": 0, "refused": 0}
    for c in convs:
        for t in c["turns"][:2 if c["kind"] == "switch" else 1]:
            a = engine.ask(t["q"])
            got["questions"] += 1
            got["right" if right(a, t, truth) else "wrong" if a.found else "refused"] += 1
    return got


def run_cli(index_dir: Path, convs: list[dict[str, Any]], truth: dict[str, Any], reader: str | None) -> dict[str, Any]:
    """The same conversations through `citebot ask --json -` (the JSON-line interface), interleaved:
    every first question, then every follow-up in its conversation, then every follow-up alone."""
    import os
    import subprocess

    lines = [json.dumps({"question": c["turns"][0]["q"], "conversation": c["id"]}) for c in convs]
    lines += [json.dumps({"question": c["turns"][1]["q"], "conversation": c["id"]}) for c in convs]
    lines += [c["turns"][1]["q"] for c in convs]
    env = {k: v for k, v in os.environ.items() if not k.startswith("CITEBOT_")}
    env.update(CITEBOT_READER=reader or "off", HF_HUB_OFFLINE="1")
    out = subprocess.run([sys.executable, "-m", "bot.cli", "ask", "--json", "--index", str(index_dir), "-"],
                         input="\n".join(lines) + "\n", capture_output=True, text=True, env=env, cwd=ROOT, check=True)
    rows = [json.loads(x) for x in out.stdout.splitlines()]
    n = len(convs)
    if len(rows) != 3 * n or any("error" in r for r in rows):
        raise SystemExit(f"citebot ask answered {len(rows)} of {3 * n} lines: {out.stderr[-500:]}")

    def answer(r: dict[str, Any]) -> Answer:
        return Answer(question=r["question"], found=r["found"], answer=r["answer"],
                      citations=tuple(Citation(**c) for c in r["citations"]), read_as=r.get("read_as"))

    follow = [(c, answer(rows[n + i]), answer(rows[2 * n + i])) for i, c in enumerate(convs)]
    fu = [(c, ctx, alone) for c, ctx, alone in follow if c["kind"] != "switch"]
    sw = [(c, ctx, alone) for c, ctx, alone in follow if c["kind"] == "switch"]
    return {"follow_ups": len(fu), "switches": len(sw),
            "follow_right_ctx": round(sum(right(ctx, c["turns"][1], truth) for c, ctx, _ in fu) / max(1, len(fu)), 3),
            "follow_right_alone": round(sum(right(al, c["turns"][1], truth) for c, _, al in fu) / max(1, len(fu)), 3),
            "switch_same_as_alone": round(sum(same(ctx, al) for _, ctx, al in sw) / max(1, len(sw)), 3),
            "conversation_echoed": all(r.get("conversation") == c["id"] for r, c in zip(rows[n:2 * n], convs))}


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--split", default="held-out-4", choices=("held-out-7", "held-out-6", "held-out-5", "held-out-4", "held-out-3", "held-out-2", "held-out", "tune", "all"))
    ap.add_argument("--reader", nargs="?", const="sentence", choices=("passage", "sentence", "both"),
                    help="a shipped reader chooses the quote: sentence (alone, as in the earlier results), passage, or both (CITEBOT_READER=on)")
    ap.add_argument("--repeat", type=int, default=5, help="timing passes over the second questions")
    ap.add_argument("--index", type=Path, default=DEFAULT_INDEX)
    ap.add_argument("--show", action="store_true", help="print each follow-up's reading and answer")
    ap.add_argument("--cli", action="store_true", help="ask through `citebot ask --json -` instead (no timing)")
    ap.add_argument("--alone", action="store_true",
                    help="only the questions that stand alone (first turns and switches), each asked alone: right / wrong / refused")
    ap.add_argument("--passages", type=int, default=0, help="with --reader passage: passages read (0: as its confidence was fitted)")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    engine = build(args.index)
    if args.cli:
        convs = [c for c in json.loads(SET.read_text(encoding="utf-8"))["conversations"]
                 if args.split == "all" or c["split"] == args.split]
        truth = json.loads((WEBPAGES / "ground-truth.json").read_text(encoding="utf-8"))
        print(json.dumps(run_cli(args.index, convs, truth, args.reader)))
        return 0
    if args.reader:
        engine = Engine(args.index, engine.embedder,
                        sentence_reader={"passage": PassageReader, "sentence": SentenceReader, "both": ReaderPair}[args.reader]())
    if args.passages:
        engine.composer.reader_sentences = args.passages
    engine.warm_up()
    convs = [c for c in json.loads(SET.read_text(encoding="utf-8"))["conversations"]
             if args.split == "all" or c["split"] == args.split]
    truth = json.loads((WEBPAGES / "ground-truth.json").read_text(encoding="utf-8"))
    if args.alone:
        print(json.dumps({"split": args.split, "reader": args.reader or "off", **standalone(engine, convs, truth)}))
        return 0
    res = run(engine, convs, truth, args.repeat, args.show)
    print(f"split {args.split}, reader {args.reader or 'off'}: {res['conversations']} conversations")
    print(f"  follow-ups right     with context {res['follow_right_ctx']:.0%}   alone {res['follow_right_alone']:.0%}   ({res['follow_ups']})")
    print(f"  switches as if alone {res['switch_same_as_alone']:.0%}   right with context {res['switch_right_ctx']:.0%}, alone {res['switch_right_alone']:.0%}   ({res['switches']})")
    print(f"  first turns right    after another turn {res['first_right_after_other']:.0%}   alone {res['first_right_alone']:.0%}   identical {res['first_same']:.0%}")
    print(f"  time (median, cold)  with context {res['ms_ctx_median']} ms   alone {res['ms_alone_median']} ms   added {res['added_time']:+.1%}")
    print(f"  time (median, warm)  with context {res['ms_ctx_warm_median']} ms   alone {res['ms_alone_warm_median']} ms")
    print(json.dumps(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
