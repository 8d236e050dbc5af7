"""In-topic refusal and calibration: fit the confidence on SQuAD v2.0 part A by article folds.

    python bench/refusal.py [--folds 3] [--ooc 1000] [--write]

What is measured (issue 12): with the articles indexed, an unanswerable question (SQuAD v2.0,
written against the very paragraph indexed) should get "not found", an answerable one its answer.

Every question goes through the engine's own retrieval (`HybridSearcher`, k=10, as `Engine.ask`)
and the composer's own candidate features (`AnswerComposer.score_sentences`); what the confidence
reads is `index.answer.compose.evidence`, exactly as at query time. Collected once per question into a
cache under /tmp (never in the repo), so fitting and reporting is seconds:

  * v1.1 part A, all 5,397 questions against an index of its 24 articles (to fit the sentence
    scorer per fold, so a held-out article's sentence choice is made by trees that never saw it);
  * v2.0 part A, all 5,554 questions (2,701 unanswerable) against the same index;
  * out of corpus: v1.1 questions of one article fold against an index of the other fold's articles.

Article folds: article i of part A belongs to fold i % folds. For each held-out fold the trees and
the confidence are fitted on the other folds' articles only, and every figure printed is a held-out
decision. The confidence is a logistic regression whose label is "the quoted sentence holds a gold
answer" (an unanswerable or out-of-corpus question's quote never does), so it is a probability of
being right; a 10-bin reliability table and the expected calibration error check that.

Baselines in the same run: the shipped confidence before this change (read from the data file's
`confidence` section when it is the old one, else the hand-set), BM25 alone (the top passage's
BM25 score) and dense alone (the top passage's cosine), each as a refusal curve.

With --write the confidence fitted on all folds, and its threshold, go into index/fitted.json's
`confidence` section with provenance. Needs scikit-learn (`pip install .[train]`).
"""
from __future__ import annotations

import argparse
import json
import logging
import pickle
import random
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import index.answer.select  # noqa: E402

index.answer.select.REFITTING = True  # this script rewrites index/fitted.json: a stale one must not stop it
from bench import refusal_fit  # noqa: E402
from bench.quality import OUT, _key, build_engine, load_squad, questions  # noqa: E402
from bench.refusal_fit import SEED, V1, V2  # noqa: E402
from index import AnswerComposer, HybridSearcher, make_embedder  # noqa: E402

log = logging.getLogger("bench.refusal")
CACHE = Path("/tmp/citebot-refusal")
COLLECT_VERSION = 2


def _cands(composer: AnswerComposer, searcher: HybridSearcher, text: str, qv: np.ndarray) -> dict:
    query = searcher.query(text, vector=qv)
    hits = searcher.search(query, k=10)
    cands = composer.score_sentences(query, hits)
    top = hits[: composer.candidates]
    return {
        "cands": cands,
        "hits_dense": max((h.dense for h in top), default=0.0),
        "hits_lexical": max((h.lexical for h in top), default=0.0),
        "hits": top,
    }


def _record(q, golds: list[str], got: dict, src: str, article: int, fold: int, kind: str) -> dict:  # type: ignore[no-untyped-def]
    cands = got["cands"]
    low = [g.lower() for g in golds]
    return {
        "qid": q.qid, "kind": kind, "article": article, "fold": fold,
        "answerable": bool(golds) and kind != "ooc",
        "rows": [c.row for c in cands],
        "label": [bool(low) and kind != "ooc" and any(g in c.text.lower() for g in low) for c in cands],
        "para": [c.hit.source == src and q.para_start <= c.start and c.end <= q.para_end for c in cands] if kind != "ooc" else [False] * len(cands),
        "linear": [c.score for c in cands],
        "chars": [len(c.text) for c in cands],
        # What `evidence` reads, per candidate, so any sentence scorer can be replayed offline.
        "feat": [(c.coverage, c.context, c.dense, c.typed, c.feat.align, c.feat.align_strong, c.feat.align_min, c.feat.missing, c.feat.names_missing, c.feat.negation) for c in cands],
        "hits_dense": got["hits_dense"], "hits_lexical": got["hits_lexical"],
    }


def collect(emb, folds: int, ooc_per_fold: int) -> list[dict]:  # type: ignore[no-untyped-def]
    """Every question's candidates and evidence inputs (cached on disk by corpus and code)."""
    arts = load_squad(V1)
    # Keyed by corpus, model and settings (bump COLLECT_VERSION when the features change).
    path = CACHE / f"collect-{_key(arts, emb)}-v{COLLECT_VERSION}-{folds}-{ooc_per_fold}.pkl"
    if path.exists():
        return pickle.loads(path.read_bytes())
    full = build_engine("all", arts, emb, folder=OUT / f"all-{_key(arts, emb)}")
    searcher = HybridSearcher(full.reader, emb)
    composer = AnswerComposer(emb, scorer=False)
    by_title = {a.title: i for i, a in enumerate(arts)}
    out: list[dict] = []
    t0 = time.perf_counter()
    qs1 = questions(full, arts, range(len(arts)))
    qv1 = emb.encode([q.text for q in qs1], batch_size=64)
    for n, (q, qv) in enumerate(zip(qs1, qv1)):
        out.append(_record(q, list(q.golds), _cands(composer, searcher, q.text, qv), arts[q.article].source, q.article, q.article % folds, "v1"))
        if n % 1000 == 999:
            log.info("v1.1: %d questions, %.0f s", n + 1, time.perf_counter() - t0)
    # v2.0: same paragraphs; map each paragraph to its span in the stored article text.
    data2 = json.loads(V2.read_text(encoding="utf-8"))["data"]
    spans = {(q.article, q.para_start, q.para_end) for q in qs1}
    para_span: dict[tuple[int, str], tuple[int, int]] = {}
    for a_i, s, e in spans:
        para_span[(a_i, full.article_text(arts[a_i].source)[s:e])] = (s, e)  # type: ignore[index]
    qs2 = []
    for a in data2:
        i = by_title[a["title"].replace("_", " ")]
        for p in a["paragraphs"]:
            s, e = para_span[(i, p["context"].strip())]
            for qa in p["qas"]:
                golds = list(dict.fromkeys(x["text"].strip() for x in qa["answers"] if x["text"].strip()))
                qs2.append((_Q(qa["id"], qa["question"], s, e), golds, i))
    qv2 = emb.encode([q.text for q, _, _ in qs2], batch_size=64)
    for n, ((q, golds, i), qv) in enumerate(zip(qs2, qv2)):
        out.append(_record(q, golds, _cands(composer, searcher, q.text, qv), arts[i].source, i, i % folds, "v2"))
        if n % 1000 == 999:
            log.info("v2.0: %d questions, %.0f s", n + 1, time.perf_counter() - t0)
    # Out of corpus: questions of fold k's articles against an index of every other fold's articles.
    rng = random.Random(SEED)
    for k in range(folds):
        sub_i = [i for i in range(len(arts)) if i % folds != k]
        sub = [arts[i] for i in sub_i]
        eng = build_engine(f"F{k}of{folds}", sub, emb, folder=OUT / f"F{k}of{folds}-{_key(sub, emb)}")
        s2 = HybridSearcher(eng.reader, emb)
        mine = [q for q in qs1 if q.article % folds == k]
        pick = rng.sample(mine, min(ooc_per_fold, len(mine)))
        qv = emb.encode([q.text for q in pick], batch_size=64)
        for q, v in zip(pick, qv):
            out.append(_record(q, [], _cands(composer, s2, q.text, v), "", q.article, k, "ooc"))
        log.info("out of corpus fold %d done, %.0f s", k, time.perf_counter() - t0)
    CACHE.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pickle.dumps(out))
    return out


class _Q:
    def __init__(self, qid: str, text: str, s: int, e: int) -> None:
        self.qid, self.text, self.para_start, self.para_end = qid, text, s, e


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--folds", type=int, default=3)
    ap.add_argument("--ooc", type=int, default=1000, help="out-of-corpus questions per fold")
    ap.add_argument("--backend", default="auto")
    ap.add_argument("--collect-only", action="store_true")
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    for noisy in ("index.store", "sentence_transformers", "httpx", "bm25s", "index.model.embed"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    emb = make_embedder("sentence-transformers/all-MiniLM-L6-v2", args.backend)
    emb.warm_up()
    recs = collect(emb, args.folds, args.ooc)
    log.info("%d records", len(recs))
    if args.collect_only:
        return 0
    return refusal_fit.report(recs, args, backend=getattr(emb, "backend", "?"))


if __name__ == "__main__":
    raise SystemExit(main())
