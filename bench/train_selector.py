"""Fit the sentence scorer (the `scorer` section of index/fitted.json) on a SQuAD-format question set, checked across folds.

    python bench/train_selector.py [--data ../shared/eval/squad-v1.1-dev-part-a.json] [--write]

Every question goes through the engine's own retrieval (`HybridSearcher`, k=10) and the answer
composer's own candidate features (`AnswerComposer.score_sentences`), so what is fitted is exactly
what runs. A candidate is labelled 1 when it contains a gold answer. The model: gradient-boosted
trees (scikit-learn's HistGradientBoostingClassifier, 50 trees of depth 3, random_state 0).

Honest figures: the articles are split in two folds (even / odd positions); a model fitted on one
fold decides for the other fold's questions, and the printed rates are those held-out decisions,
next to the hand-set scores on the same questions. With --write, the model fitted on all questions
is written to index/fitted.json (scorer section: trees, feature names in order, provenance and
check rows with sklearn's own scores). The confidence and its threshold are fitted by
bench/refusal.py. Prints tables and, last, one JSON line. Needs scikit-learn (`pip install .[train]`).
"""
from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import logging
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import index.answer.select  # noqa: E402

index.answer.select.REFITTING = True  # this script rewrites index/fitted.json: a stale one must not stop it
from bench.quality import DEFAULT_DATA, OUT, _key, build_engine, load_squad, questions  # noqa: E402
from index import AnswerComposer, HybridSearcher, make_embedder  # noqa: E402
from index.answer.select import FEATURES, TreeScorer, write_fitted_section  # noqa: E402

log = logging.getLogger("bench.train_selector")
TARGET = ROOT / "index" / "fitted.json"


def collect(arts: list, emb, embed_sentences: int, embed_words: int) -> list[dict]:  # type: ignore[no-untyped-def]
    """Per question: candidate rows, labels (holds a gold answer / lies in its paragraph), article."""
    engine = build_engine("all", arts, emb, folder=OUT / f"all-{_key(arts, emb)}")
    qs = questions(engine, arts, range(len(arts)))
    searcher = HybridSearcher(engine.reader, emb)
    composer = AnswerComposer(emb, scorer=False, embed_sentences=embed_sentences, embed_words=embed_words)
    qvecs = emb.encode([q.text for q in qs], batch_size=64)
    out = []
    t0 = time.perf_counter()
    for n, (q, qv) in enumerate(zip(qs, qvecs)):
        query = searcher.query(q.text, vector=qv)
        hits = searcher.search(query, k=10)
        cands = composer.score_sentences(query, hits)
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
    return out


def fit(qs: list[dict], trees: int, depth: int, rate: float):  # type: ignore[no-untyped-def]
    """A boosted-tree classifier over all candidate rows of these questions."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    X = np.array([r for q in qs for r in q["rows"]])
    y = np.array([lab for q in qs for lab in q["label"]])
    return HistGradientBoostingClassifier(max_iter=trees, max_depth=depth, learning_rate=rate, random_state=0).fit(X, y)


def export(model) -> list[list[tuple[int, float, int, int, float]]]:  # type: ignore[no-untyped-def]
    """sklearn's fitted trees as (feature, threshold, left, right, value) tuples; leaves have left = -1.

    The first "tree" is one leaf holding sklearn's baseline, so the sum is exactly its decision_function."""
    out = [[(0, 0.0, -1, -1, float(np.ravel(model._baseline_prediction)[0]))]]
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
    defaults = AnswerComposer.__init__.__kwdefaults__ or {}
    ap.add_argument("--embed-sentences", type=int, default=defaults.get("embed_sentences", 4))
    ap.add_argument("--embed-words", type=int, default=defaults.get("embed_words", 24))
    ap.add_argument("--trees", type=int, default=50)
    ap.add_argument("--depth", type=int, default=3)
    ap.add_argument("--rate", type=float, default=0.1)
    ap.add_argument("--write", action="store_true", help=f"write the model fitted on all questions to {TARGET.relative_to(ROOT)}")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    for noisy in ("index.store", "sentence_transformers", "httpx", "bm25s", "index.model.embed"):
        logging.getLogger(noisy).setLevel(logging.WARNING)

    emb = make_embedder("sentence-transformers/all-MiniLM-L6-v2", args.backend)
    emb.warm_up()
    backend = getattr(emb, "backend", "?")
    arts = load_squad(args.data)
    qs = collect(arts, emb, args.embed_sentences, args.embed_words)
    folds = [[q for q in qs if q["article"] % 2 == k] for k in (0, 1)]
    held_out: list[tuple[dict, list[float]]] = []
    for k in (0, 1):
        scorer = TreeScorer(export(fit(folds[k], args.trees, args.depth, args.rate)), FEATURES)
        held_out += [(q, list(scorer.score(np.array(q["rows"]))) if q["rows"] else []) for q in folds[1 - k]]
    trees = picks([q for q, _ in held_out], [s for _, s in held_out])
    linear = picks(qs, [q["linear"] for q in qs])
    print(f"\n{args.data.name}: {len(qs)} questions, backend {backend}, {args.embed_sentences} sentences scored per question, "
          f"each embedded by its first {args.embed_words} words\n")
    print("| sentence scorer | answer hit | paragraph hit@1 | answer among the candidates |\n|---|---|---|---|")
    print(f"| hand-set linear | {linear['answer_hit']:.3f} | {linear['paragraph_hit@1']:.3f} | {linear['answer_in_candidates']:.3f} |")
    print(f"| trees, held-out fold | {trees['answer_hit']:.3f} | {trees['paragraph_hit@1']:.3f} | {trees['answer_in_candidates']:.3f} |")

    clf = fit(qs, args.trees, args.depth, args.rate)
    model = export(clf)
    if args.write:
        X = np.array([r for q in qs for r in q["rows"]])
        check = X[:: max(1, len(X) // 8)][:8]
        write_fitted_section("scorer", {
            "kind": "boosted_trees", "features": list(FEATURES),
            "node": ["feature", "threshold", "left", "right", "value"],
            "trees": [[list(n) for n in t] for t in model],
            "provenance": {
                "script": "bench/train_selector.py --write", "date": datetime.date.today().isoformat(), "seed": 0,
                "data": {args.data.name: hashlib.sha256(args.data.read_bytes()).hexdigest()}, "backend": backend,
                "model": f"scikit-learn HistGradientBoostingClassifier(max_iter={args.trees}, max_depth={args.depth}, learning_rate={args.rate}, random_state=0)",
                "sklearn": __import__("sklearn").__version__,
                "label": "the candidate sentence holds a gold answer",
                "questions": len(qs), "embed_sentences": args.embed_sentences, "embed_words": args.embed_words,
                "held_out": {"answer_hit": round(trees["answer_hit"], 4), "paragraph_hit@1": round(trees["paragraph_hit@1"], 4), "folds": "articles at even / odd positions"},
                # Rows and sklearn's decision_function for them: tests check the stored trees reproduce them.
                "check": {"rows": check.tolist(), "scores": clf.decision_function(check).tolist()},
            },
        })
        print(f"\nwrote the scorer section of {TARGET.relative_to(ROOT)} ({len(model)} trees)")
    print(json.dumps({"questions": len(qs), "backend": backend, "linear": linear, "trees_held_out": trees,
                      "trees": args.trees, "depth": args.depth, "embed_sentences": args.embed_sentences,
                      "embed_words": args.embed_words}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
