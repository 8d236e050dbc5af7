"""Fit the sentence scorer and the confidence (index/_fitted.py) on a SQuAD-format question set, checked across folds.

    python bench/train_selector.py [--data ../shared/eval/squad-v1.1-dev-part-a.json] [--write]

Every question goes through the engine's own retrieval (`HybridSearcher`, k=10) and the answer
composer's own candidate features (`AnswerComposer.score_sentences`), so what is fitted is exactly
what runs. A candidate is labelled 1 when it contains a gold answer. The model: gradient-boosted
trees (scikit-learn's HistGradientBoostingClassifier, 50 trees of depth 3).

The confidence ("is this question about something in the index?") is a logistic regression over
the evidence of the scored sentences (`index.answer.evidence`), fitted on questions asked against
an index of their own fold's articles (label 1) and of the other fold's (label 0, out of corpus);
its threshold refuses 3% of the answerable ones.

Honest figures: the articles are split in two folds (even / odd positions); a model fitted on one
fold decides for the other fold's questions, and the printed rates are those held-out decisions,
next to the hand-set scores on the same questions. With --write, models fitted on all questions
are written to index/_fitted.py. Prints tables and, last, one JSON line. Needs scikit-learn
(installed with sentence-transformers).
"""
from __future__ import annotations

import argparse
import datetime
import json
import logging
import random
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.quality import DEFAULT_DATA, OUT, _key, build_engine, load_squad, questions  # noqa: E402
from index.answer import AnswerComposer, evidence  # noqa: E402
from index.embed import make_embedder  # noqa: E402
from index.search import HybridSearcher  # noqa: E402
from index.select import EVIDENCE, FEATURES, TreeScorer, hand_confidence, logistic  # noqa: E402

log = logging.getLogger("bench.train_selector")
TARGET = ROOT / "index" / "_fitted.py"
REFUSE = 0.03  # share of answerable questions the shipped threshold may refuse


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
    return out


def collect_evidence(arts: list, emb, scorer: TreeScorer, per_fold: int, embed_sentences: int, embed_words: int) -> list[tuple[int, int, list[float] | None]]:  # type: ignore[no-untyped-def]
    """(fold, 1 = about an article in the index / 0 = out of corpus, evidence or None) per question."""
    rng = random.Random(0)
    full = build_engine("all", arts, emb, folder=OUT / f"all-{_key(arts, emb)}")
    qs_all = questions(full, arts, range(len(arts)))
    rows = []
    for k in (0, 1):
        keep = [i for i in range(len(arts)) if i % 2 == k]
        sub = [arts[i] for i in keep]
        engine = build_engine(f"A{k + 1}", sub, emb, folder=OUT / f"A{k + 1}-{_key(sub, emb)}")
        searcher = HybridSearcher(engine.reader, emb)
        composer = AnswerComposer(emb, scorer=scorer, embed_sentences=embed_sentences, embed_words=embed_words)
        mine = [q for q in qs_all if q.article % 2 == k]
        other = [q for q in qs_all if q.article % 2 != k]
        for label, sample in ((1, rng.sample(mine, min(per_fold, len(mine)))), (0, rng.sample(other, min(per_fold, len(other))))):
            for q in sample:
                qv = emb.encode([q.text])[0]
                hits = searcher.search(q.text, k=10, qvec=qv)
                cands = composer.score_sentences(q.text, hits, qv)
                best = max(cands, key=lambda c: c.score) if cands else None
                rows.append((k, label, evidence(best, cands, hits[: composer.candidates]) if best else None))
    return rows


def fit_confidence(rows: list[tuple[int, int, list[float] | None]]) -> tuple[float, tuple[float, ...], float]:
    """Logistic regression over the evidence; threshold = the REFUSE quantile of answerable questions."""
    from sklearn.linear_model import LogisticRegression

    have = [r for r in rows if r[2] is not None]
    m = LogisticRegression(max_iter=2000).fit([r[2] for r in have], [r[1] for r in have])
    b, w = float(m.intercept_[0]), tuple(float(x) for x in m.coef_[0])
    answerable = [logistic((b, w), r[2]) if r[2] is not None else 0.0 for r in rows if r[1] == 1]
    return b, w, float(np.quantile(answerable, REFUSE))


def abstention(rows: list[tuple[int, int, list[float] | None]], confidence) -> dict[str, float]:  # type: ignore[no-untyped-def]
    """Out-of-corpus questions refused and answerable ones refused, under a confidence rule."""
    ooc = [r for r in rows if r[1] == 0]
    ans = [r for r in rows if r[1] == 1]
    refused = lambda r: r[2] is None or not confidence(r[2])
    return {"abstain_out_of_corpus": sum(map(refused, ooc)) / max(1, len(ooc)),
            "refused_answerable": sum(map(refused, ans)) / max(1, len(ans))}


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
    defaults = AnswerComposer.__init__.__kwdefaults__ or {}
    ap.add_argument("--embed-sentences", type=int, default=defaults.get("embed_sentences", 4))
    ap.add_argument("--embed-words", type=int, default=defaults.get("embed_words", 24))
    ap.add_argument("--trees", type=int, default=50)
    ap.add_argument("--depth", type=int, default=3)
    ap.add_argument("--rate", type=float, default=0.1)
    ap.add_argument("--confidence-questions", type=int, default=1000, help="answerable and out-of-corpus questions per fold")
    ap.add_argument("--write", action="store_true", help=f"write the model fitted on all questions to {TARGET.relative_to(ROOT)}")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    for noisy in ("index.store", "sentence_transformers", "httpx", "bm25s", "index.embed"):
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

    model = export(fit(qs, args.trees, args.depth, args.rate))
    rows = collect_evidence(arts, emb, TreeScorer(model, FEATURES), args.confidence_questions, args.embed_sentences, args.embed_words)
    conf_cv = []
    for k in (0, 1):
        b, w, t = fit_confidence([r for r in rows if r[0] == k])
        conf_cv.append(abstention([r for r in rows if r[0] != k], lambda ev, c=(b, w), t=t: logistic(c, ev) >= t))
    hand_rates = abstention(rows, lambda ev: hand_confidence(ev) >= 0.42)
    b, w, threshold = fit_confidence(rows)
    print(f"\nConfidence, {sum(1 for r in rows if r[1])} answerable and {sum(1 for r in rows if not r[1])} out-of-corpus questions:\n")
    print("| confidence | out-of-corpus → not found | answerable → not found |\n|---|---|---|")
    print(f"| hand-set, threshold 0.42 | {hand_rates['abstain_out_of_corpus']:.3f} | {hand_rates['refused_answerable']:.3f} |")
    for k, c in enumerate(conf_cv):
        print(f"| fitted on fold A{k + 1} (threshold refusing {REFUSE:.0%} there), scored on A{2 - k} | "
              f"{c['abstain_out_of_corpus']:.3f} | {c['refused_answerable']:.3f} |")
    if args.write:
        today = datetime.date.today().isoformat()
        TARGET.write_text(
            f'"""Fitted sentence scorer and confidence: generated by `python bench/train_selector.py --write` on {today}; do not edit.\n\n'
            f"Fitted on {args.data.name} ({len(qs)} questions, backend {backend}). Held-out folds: answer hit "
            f"{trees['answer_hit']:.3f} (hand-set score {linear['answer_hit']:.3f}); out-of-corpus refused "
            f"{conf_cv[0]['abstain_out_of_corpus']:.3f} / {conf_cv[1]['abstain_out_of_corpus']:.3f} with answerable refused "
            f"{conf_cv[0]['refused_answerable']:.3f} / {conf_cv[1]['refused_answerable']:.3f}.\n"
            f'Each tree is a tuple of nodes (feature, threshold, left, right, value); leaves have left = -1.\n"""\n'
            f"FEATURES = {FEATURES!r}\n\nEVIDENCE = {EVIDENCE!r}\n\n"
            f"# Logistic regression over EVIDENCE: (intercept, weights).\nCONFIDENCE = ({b!r}, {w!r})\n\n"
            f"# Refuses {REFUSE:.0%} of the answerable questions above.\nTHRESHOLD = {threshold!r}\n\nTREES = (\n"
            + "".join(f"    {tuple(t)!r},\n" for t in model)
            + ")\n"
        )
        print(f"\nwrote {TARGET.relative_to(ROOT)} ({len(model)} trees, threshold {threshold:.4f})")
    print(json.dumps({"questions": len(qs), "backend": backend, "linear": linear, "trees_held_out": trees,
                      "confidence_held_out": conf_cv, "confidence_hand_set": hand_rates,
                      "trees": args.trees, "depth": args.depth, "embed_sentences": args.embed_sentences,
                      "embed_words": args.embed_words}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
