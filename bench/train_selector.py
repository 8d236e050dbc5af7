"""Fit the sentence scorer (index/_selector_trees.py) on a SQuAD-format question set, checked across folds.

    python bench/train_selector.py [--data ../shared/eval/squad-v1.1-dev-part-a.json] [--write]

Every question goes through the engine's own retrieval (`HybridSearcher`, k=10) and the answer
composer's own candidate features (`AnswerComposer.score_sentences`), so what is fitted is exactly
what runs. A candidate is labelled 1 when it contains a gold answer. The model: gradient-boosted
trees (scikit-learn's HistGradientBoostingClassifier, 50 trees of depth 3).

Honest figures: the articles are split in two folds (even / odd positions); a model fitted on one
fold picks the sentences for the other fold's questions, and the printed answer / paragraph hit
rates are those held-out picks, next to the hand-set linear score on the same candidates. With
--write, a model fitted on all questions is written to index/_selector_trees.py. Prints a table
and, last, one JSON line. Needs scikit-learn (installed with sentence-transformers).
"""
from __future__ import annotations

import argparse
import datetime
import json
import logging
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.quality import DEFAULT_DATA, OUT, _key, build_engine, load_squad, questions  # noqa: E402
from index.answer import AnswerComposer  # noqa: E402
from index.embed import make_embedder  # noqa: E402
from index.search import HybridSearcher  # noqa: E402
from index.select import FEATURES, TreeScorer  # noqa: E402

log = logging.getLogger("bench.train_selector")
TARGET = ROOT / "index" / "_selector_trees.py"


def collect(data: Path, backend: str, embed_sentences: int) -> tuple[list[dict], str]:
    """Per question: candidate rows, labels (holds a gold answer / lies in its paragraph), article."""
    emb = make_embedder("sentence-transformers/all-MiniLM-L6-v2", backend)
    emb.warm_up()
    arts = load_squad(data)
    engine = build_engine("all", arts, emb, folder=OUT / f"all-{_key(arts, emb)}")
    qs = questions(engine, arts, range(len(arts)))
    searcher = HybridSearcher(engine.reader, emb)
    composer = AnswerComposer(emb, scorer=False, embed_sentences=embed_sentences)
    qvecs = emb.encode([q.text for q in qs], batch_size=64)
    out = []
    t0 = time.perf_counter()
    for n, (q, qv) in enumerate(zip(qs, qvecs)):
        hits = searcher.search(q.text, k=10, qvec=qv)
        cands = composer.score_sentences(q.text, hits, qv)
        src = arts[q.article].source
        golds = [g.lower() for g in q.golds]
        out.append({
            "article": q.article,
            "rows": [c.row for c in cands],
            "label": [any(g in c.text.lower() for g in golds) for c in cands],
            "para": [c.hit.source == src and q.para_start <= c.start and c.end <= q.para_end for c in cands],
            "linear": [c.score for c in cands],
        })
        if n % 1000 == 999:
            log.info("%d questions, %.0f s", n + 1, time.perf_counter() - t0)
    return out, getattr(emb, "backend", "?")


def fit(qs: list[dict], trees: int, depth: int, rate: float):  # type: ignore[no-untyped-def]
    """A boosted-tree classifier over all candidate rows of these questions."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    X = np.array([r for q in qs for r in q["rows"]])
    y = np.array([lab for q in qs for lab in q["label"]])
    return HistGradientBoostingClassifier(max_iter=trees, max_depth=depth, learning_rate=rate, random_state=0).fit(X, y)


def export(model) -> list[list[tuple[int, float, int, int, float]]]:  # type: ignore[no-untyped-def]
    """sklearn's fitted trees as (feature, threshold, left, right, value) tuples; leaves have left = -1."""
    out = []
    for (pred,) in model._predictors:
        nodes = []
        for nd in pred.nodes:
            if nd["is_leaf"]:
                nodes.append((0, 0.0, -1, -1, float(nd["value"])))
            else:
                nodes.append((int(nd["feature_idx"]), float(nd["num_threshold"]), int(nd["left"]), int(nd["right"]), 0.0))
        out.append(nodes)
    return out


def picks(qs: list[dict], scores: list[list[float]]) -> dict[str, float]:
    """Answer / paragraph hit of the best-scored candidate per question (no refusals)."""
    n = len(qs) or 1
    ans = para = oracle = 0
    for q, sc in zip(qs, scores):
        if not q["rows"]:
            continue
        b = int(np.argmax(sc))
        ans += q["label"][b]
        para += q["para"][b]
        oracle += any(q["label"])
    return {"answer_hit": ans / n, "paragraph_hit@1": para / n, "answer_in_candidates": oracle / n}


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--backend", default="auto", help="embedding backend (auto = what citebot uses by default)")
    ap.add_argument("--embed-sentences", type=int, default=4)
    ap.add_argument("--trees", type=int, default=50)
    ap.add_argument("--depth", type=int, default=3)
    ap.add_argument("--rate", type=float, default=0.1)
    ap.add_argument("--write", action="store_true", help=f"write the model fitted on all questions to {TARGET.relative_to(ROOT)}")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    for noisy in ("index.store", "sentence_transformers", "httpx", "bm25s", "index.embed"):
        logging.getLogger(noisy).setLevel(logging.WARNING)

    qs, backend = collect(args.data, args.backend, args.embed_sentences)
    folds = [[q for q in qs if q["article"] % 2 == k] for k in (0, 1)]
    held_out: list[tuple[dict, list[float]]] = []
    for k in (0, 1):
        scorer = TreeScorer(export(fit(folds[k], args.trees, args.depth, args.rate)), FEATURES)
        held_out += [(q, list(scorer.score(np.array(q["rows"]))) if q["rows"] else []) for q in folds[1 - k]]
    trees = picks([q for q, _ in held_out], [s for _, s in held_out])
    linear = picks(qs, [q["linear"] for q in qs])
    print(f"\n{args.data.name}: {len(qs)} questions, backend {backend}, {args.embed_sentences} sentences scored per question\n")
    print("| sentence scorer | answer hit | paragraph hit@1 | answer among the candidates |\n|---|---|---|---|")
    print(f"| hand-set linear | {linear['answer_hit']:.3f} | {linear['paragraph_hit@1']:.3f} | {linear['answer_in_candidates']:.3f} |")
    print(f"| trees, held-out fold | {trees['answer_hit']:.3f} | {trees['paragraph_hit@1']:.3f} | {trees['answer_in_candidates']:.3f} |")
    if args.write:
        model = export(fit(qs, args.trees, args.depth, args.rate))
        today = datetime.date.today().isoformat()
        TARGET.write_text(
            f'"""Sentence scorer trees: generated by `python bench/train_selector.py --write` on {today}; do not edit.\n\n'
            f"Fitted on {args.data.name} ({len(qs)} questions, backend {backend}); held-out-fold answer hit "
            f"{trees['answer_hit']:.3f} vs {linear['answer_hit']:.3f} for the hand-set score.\n"
            f'Each tree is a tuple of nodes (feature, threshold, left, right, value); leaves have left = -1.\n"""\n'
            f"FEATURES = {FEATURES!r}\n\nTREES = (\n"
            + "".join(f"    {tuple(t)!r},\n" for t in model)
            + ")\n"
        )
        print(f"\nwrote {TARGET.relative_to(ROOT)} ({len(model)} trees)")
    print(json.dumps({"questions": len(qs), "backend": backend, "linear": linear, "trees_held_out": trees,
                      "trees": args.trees, "depth": args.depth, "embed_sentences": args.embed_sentences}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
