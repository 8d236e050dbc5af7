"""Fit and measure the reader's confidence: SQuAD part A through the engine's own retrieval, by article folds.

    python bench/fit_reader.py [--folds 3] [--ooc 1000] [--write]
    python bench/fit_reader.py --passage [FOLDER] --collect 4 --read 1 2 3 4 [--write]   # the passage reader (issue 28)

Every question goes through `HybridSearcher` (k=10, as `Engine.ask`) and `AnswerComposer` with the
shipped reader, which reads the lexically likeliest `--collect` sentences of the top 5 passages;
what is kept per candidate (its logit, wording evidence, whether it holds a gold answer, where it
lies) lets every figure be replayed offline for any smaller number of read sentences (the
composer's `reader_sentences`). Collected once into /tmp (never the repo):

  * v1.1 part A (5,397 answerable questions) and v2.0 part A (5,554, 2,701 unanswerable), against
    an index of the 24 part-A articles;
  * out of corpus: v1.1 questions of one article fold against an index of the other folds;
  * answer removed: one question per paragraph whose answer string occurs once in its article,
    asked against an index where the sentence holding it is deleted (the untouched twin is the
    same question in the v1.1 set).

The confidence is a logistic regression over some of `index.select.READER_EVIDENCE`, labelled
"the quoted sentence holds a gold answer", fitted on v2.0 and out-of-corpus questions of the other
folds' articles (article i is in fold i % folds): every figure printed is a held-out decision. The
threshold refuses --refuse (7%) of the answerable v2.0 questions it was fitted on; a further source
is listed under an answer when the reader's logit for one of its sentences reaches `related` (chosen
so that it keeps 75% of the read sentences that hold a gold answer). With --write, the model
fitted on all folds goes into index/fitted.json's `reader` section with provenance (the reader
file's sha256, data sha256, seed, date, evidence names). Needs scikit-learn (`pip install .[train]`).

With `--passage` the same is done for the passage reader (index/answer/passage.py, or the files in
FOLDER): it reads the top `--collect` passages whole, every sentence of them gets the best span inside
it as its logit, and `--read` replays reading the top n passages; it writes the `passage_reader`
section, whose `reader_sentences` is the number of passages read. A reader trained on part A's own
questions (`train_passage_reader.py --v2-stage`) is measured with `--passage-folds F0 F1 F2`: fold K's
questions are read by the reader trained without fold K, so every figure stays held out, and the
confidence written for the shipped reader (--passage FOLDER) is fitted on those held-out reads.
"""
from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import logging
import pickle
import random
import sys
import time
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import index.answer.select  # noqa: E402

index.answer.select.REFITTING = True  # this script rewrites index/fitted.json: a stale one must not stop it
from bench.quality import OUT, SquadArticle, _key, build_engine, load_squad, questions  # noqa: E402
from bench.refusal import _Q  # noqa: E402
from bench.refusal_fit import V1, V2  # noqa: E402
from index import AnswerComposer, HybridSearcher, PassageReader, SentenceReader, highlight, make_embedder, sentences  # noqa: E402
from index.answer.select import READER_EVIDENCE, read_set, reader_evidence, write_fitted_section  # noqa: E402

log = logging.getLogger("bench.fit_reader")
CITATIONS = 3  # the composer's default `citations`: the top passages whose article always has a sentence read
SAME_ARTICLE = True  # further passages of the quoted article are listed (AnswerComposer._citations)
CACHE = Path("/tmp/citebot-reader")
PASSAGE = False  # --passage: replay the passage reader (read the top n passages), not the sentence reader
SEED = 0
# Evidence sets compared (held out); the first that is best at 8% answerable refused is written.
EVIDENCE_SETS = {
    "reader": ("logit", "margin"),
    "reader+other": ("logit", "margin", "other_article"),
    "reader+wording": ("logit", "margin", "other_article", "coverage", "context", "names_missing", "negation", "typed", "missing", "passage_dense"),
}


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _record(q, golds: list[str], composer: AnswerComposer, searcher: HybridSearcher, src: str,  # type: ignore[no-untyped-def]
            article: int, fold: int, kind: str, qv: np.ndarray) -> dict:
    query = searcher.query(q.text, vector=qv)
    hits = searcher.search(query, k=10)
    cands = composer.score_sentences(query, hits)
    low = [g.lower() for g in golds]
    top = hits[: composer.candidates]
    return {
        "qid": q.qid, "question": q.text, "golds": list(golds), "kind": kind, "article": article, "fold": fold, "answerable": bool(low),
        "cands": [{"logit": c.logit, "label": bool(low) and any(g in c.text.lower() for g in low), "lex": c.lex_rank, "hr": c.hit_rank,
                   "art": c.hit.article_id, "start": c.start, "end": c.end,
                   "span": c.span, "text": c.text if c.logit is not None else None,
                   "feat": {k: getattr(c.feat, k) for k in ("coverage", "context", "names_missing", "negation", "typed", "missing")}}
                  for c in cands],
        "hits": [{"art": h.article_id, "start": h.start, "end": h.end, "gold": bool(low) and any(g in h.text.lower() for g in low)}
                 for h in hits],
        "passage_dense": max((h.dense for h in top), default=0.0),
    }


def removed_corpus(arts: list[SquadArticle]) -> tuple[list[SquadArticle], dict[str, int]]:
    """The articles with, per paragraph, the sentence answering one question deleted (where its
    answer occurs nowhere else in the article); returns them and the chosen question ids → article."""
    out, chosen = [], {}
    for i, a in enumerate(arts):
        paras = list(a.paragraphs)
        done: set[int] = set()
        for n, qa in a.qas:
            if n in done or not qa["answers"]:
                continue
            p = paras[n]
            golds = {x["text"].strip().lower() for x in qa["answers"] if x["text"].strip()}
            st = p.find(qa["answers"][0]["text"])
            span = next(((s, e) for s, e in sentences(p) if s <= st < e), None)
            if span is None or st < 0:
                continue
            cut = (p[: span[0]] + p[span[1]:]).strip()
            rest = "\n\n".join(paras[:n] + [cut] + paras[n + 1:]).lower()
            if not cut or any(g in rest for g in golds):
                continue
            paras[n] = cut
            done.add(n)
            chosen[qa["id"]] = i
        out.append(replace(a, paragraphs=paras, text="\n\n".join(paras)))
    return out, chosen


def collect(emb, reader: SentenceReader | PassageReader, folds: int, ooc: int, n_read: int, v1_n: int, v2_n: int,
            removed_n: int = 600, only: int | None = None) -> list[dict]:  # type: ignore[no-untyped-def]
    """Every record (see the module docstring); with `only`, those of article fold `only` alone (the
    same questions as a full collection holds for that fold: every sample is drawn as before)."""
    arts = load_squad(V1)
    key = hashlib.sha256(f"{_key(arts, emb)}-{reader.meta.get('onnx_sha256')}-{folds}-{ooc}-{n_read}-{v1_n}-{v2_n}-{removed_n}-{only}-v4".encode()).hexdigest()[:16]
    path = CACHE / f"collect-{key}.pkl"
    if path.exists():
        return pickle.loads(path.read_bytes())
    composer = AnswerComposer(emb, reader=reader, reader_sentences=n_read)
    full = build_engine("all", arts, emb, folder=OUT / f"all-{_key(arts, emb)}")
    searcher = HybridSearcher(full.reader, emb)
    out: list[dict] = []
    t0 = time.perf_counter()
    qs1 = questions(full, arts, range(len(arts)))
    rng = random.Random(SEED)
    sample1 = sorted(rng.sample(range(len(qs1)), min(v1_n, len(qs1))))
    sample1 = [i for i in sample1 if only is None or qs1[i].article % folds == only]
    for q, qv in zip([qs1[i] for i in sample1], emb.encode([qs1[i].text for i in sample1], batch_size=64)):
        out.append(_record(q, list(q.golds), composer, searcher, arts[q.article].source, q.article, q.article % folds, "v1", qv))
    log.info("v1.1 done, %.0f s", time.perf_counter() - t0)
    by_title = {a.title: i for i, a in enumerate(arts)}
    # Loading joins a line break inside a paragraph ("O\n3" -> "O 3"): match paragraphs by their words.
    para_span = {(q.article, " ".join(full.article_text(arts[q.article].source)[q.para_start:q.para_end].split())): (q.para_start, q.para_end)  # type: ignore[index]
                 for q in qs1}
    qs2 = []
    for a in json.loads(V2.read_text(encoding="utf-8"))["data"]:
        i = by_title[a["title"].replace("_", " ")]
        for p in a["paragraphs"]:
            s, e = para_span[(i, " ".join(p["context"].split()))]
            for qa in p["qas"]:
                golds = list(dict.fromkeys(x["text"].strip() for x in qa["answers"] if x["text"].strip()))
                qs2.append((_Q(qa["id"], qa["question"], s, e), golds, i))
    qs2 = [qs2[i] for i in sorted(rng.sample(range(len(qs2)), min(v2_n, len(qs2))))]
    qs2 = [x for x in qs2 if only is None or x[2] % folds == only]
    for (q, golds, i), qv in zip(qs2, emb.encode([q.text for q, _, _ in qs2], batch_size=64)):
        out.append(_record(q, golds, composer, searcher, arts[i].source, i, i % folds, "v2", qv))
    log.info("v2.0 done, %.0f s", time.perf_counter() - t0)
    for k in range(folds):
        sub = [arts[i] for i in range(len(arts)) if i % folds != k]
        eng = build_engine(f"F{k}of{folds}", sub, emb, folder=OUT / f"F{k}of{folds}-{_key(sub, emb)}")
        s2 = HybridSearcher(eng.reader, emb)
        pick = rng.sample([q for q in qs1 if q.article % folds == k], ooc)
        if only is not None and k != only:
            continue
        for q, qv in zip(pick, emb.encode([q.text for q in pick], batch_size=64)):
            out.append(_record(q, [], composer, s2, "", q.article, k, "ooc", qv))
    log.info("out of corpus done, %.0f s", time.perf_counter() - t0)
    cut, chosen = removed_corpus(arts)
    eng = build_engine("removed", cut, emb, folder=OUT / f"removed-{_key(cut, emb)}")
    s3 = HybridSearcher(eng.reader, emb)
    picked = [q for q in qs1 if q.qid in chosen]
    picked = [picked[i] for i in sorted(rng.sample(range(len(picked)), min(removed_n, len(picked))))]
    picked = [q for q in picked if only is None or q.article % folds == only]
    # The reader-off path too (the shipped scorer and confidence before the reader), for comparison.
    before = AnswerComposer(emb)
    for q, qv in zip(picked, emb.encode([q.text for q in picked], batch_size=64)):
        rec = _record(q, list(q.golds), composer, s3, arts[q.article].source, q.article, q.article % folds, "removed", qv)
        rec["twin"] = _record(q, list(q.golds), composer, searcher, arts[q.article].source, q.article, q.article % folds, "v1", qv)
        for name, srch in (("old_removed", s3), ("old_untouched", searcher)):
            query = srch.query(q.text, vector=qv)
            rec[name] = before.compose(query, srch.search(query, k=10)).confidence
        out.append(rec)
    log.info("answer removed done (%d questions), %.0f s", len(picked), time.perf_counter() - t0)
    CACHE.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pickle.dumps(out))
    return out


def reads(r: dict, n: int, passage: bool | None = None) -> list[dict]:
    """The candidates the composer reads with `reader_sentences` = n (select.read_set, replayed on
    the collected ones: the lexically likeliest, then the first of each top article not covered);
    `passage` (default: --passage) replays the passage reader instead."""
    if PASSAGE if passage is None else passage:  # every sentence of the top n passages (the collected ones are in lexical order)
        return [c for c in r["cands"] if c["hr"] < n]
    ranked = sorted(r["cands"], key=lambda c: c["lex"])
    return [ranked[k] for k in read_set([c["hr"] for c in ranked], [c["art"] for c in ranked], n, CITATIONS)]


def decide(r: dict, n: int, w: float = 0.0, passage: bool | None = None) -> dict:
    """What the composer does with the n read candidates (choosing by logit + w × coverage):
    the chosen one, its evidence, whether it is right."""
    cands = reads(r, n, passage)
    if not cands:
        return {"ev": None, "hit": False, "best": None}
    logits = [c["logit"] for c in cands]
    b = int(np.argmax([c["logit"] + w * c["feat"]["coverage"] for c in cands]))
    ev = reader_evidence(logits, b, [c["art"] for c in cands], SimpleNamespace(**cands[b]["feat"]), r["passage_dense"])
    return {"ev": ev, "hit": bool(cands[b]["label"]), "best": cands[b]}


def cited(r: dict, n: int, best: dict | None, related: float | None, k: int = 3, same_article: bool = SAME_ARTICLE,
          passage: bool | None = None) -> bool:
    """Whether one of the first k citations holds a gold answer (the chosen passage first, then the
    further passages: those of an article with a read sentence at or above `related` and, with
    `same_article`, those of the quoted article; the ones holding such a sentence first (best rated
    first), then retrieval's order — as `AnswerComposer._citations` lists them)."""
    if best is None:
        return False
    first = next((h for h in r["hits"][:5] if h["art"] == best["art"] and h["start"] <= best["start"] and best["end"] <= h["end"]), None)
    read = [c for c in reads(r, n, passage) if related is None or c["logit"] >= related]
    shown = [first] if first else []
    hits = r["hits"]
    if related is not None:  # passages holding a sentence rated related first, best rated first
        def order(ih: tuple[int, dict]) -> tuple[int, float]:
            inside = [c["logit"] for c in read if c["art"] == ih[1]["art"] and ih[1]["start"] <= c["start"] and c["end"] <= ih[1]["end"]]
            return (0, -max(inside)) if inside else (1, ih[0])

        hits = [h for _, h in sorted(enumerate(hits), key=order)]
    for h in hits:
        if h is first or any(s["art"] == h["art"] and h["start"] < s["end"] and s["start"] < h["end"] for s in shown):
            continue
        if related is None or (same_article and h["art"] == best["art"]) or any(c["art"] == h["art"] for c in read):
            shown.append(h)
    return any(h["gold"] for h in shown[:k])


def bold_words(right: list[dict]) -> dict:
    """The answer words bolded in right quotes: today's rules (`highlight`, nothing when unsure)
    against the passage reader's best span in the quoted sentence, and the two as the composer bolds
    (the rules where sure, else the span), scored by SQuAD's word F1 with the gold answers (a quote
    with nothing bolded scores 0)."""
    from bench.train_passage_reader import span_f1

    rules, spans, both, bolded = [], [], [], 0
    for r in right:
        best = r["d"]["best"]
        text = best["text"] or ""
        marks = highlight(r["question"], text)
        bolded += bool(marks)
        rules.append(span_f1(" ".join(text[a:b] for a, b in marks), r["golds"]) if marks else 0.0)
        a, b = best["span"] or (best["start"], best["start"])
        spans.append(span_f1(text[a - best["start"]: b - best["start"]], r["golds"]) if b > a else 0.0)
        both.append(rules[-1] if marks else spans[-1])  # what the composer bolds: the rules where sure, else the span
    n = max(1, len(right))
    return {"quotes": len(right), "rules_bolded": round(bolded / n, 3), "rules_f1": round(sum(rules) / n, 3),
            "rules_f1_where_bolded": round(sum(rules) / max(1, bolded), 3), "span_f1": round(sum(spans) / n, 3),
            "rules_else_span_f1": round(sum(both) / n, 3)}


def fit(rows: list[dict], names: tuple[str, ...]):  # type: ignore[no-untyped-def]
    from sklearn.linear_model import LogisticRegression

    x = np.array([[d["ev"][k] for k in names] for d in rows])
    y = np.array([d["hit"] for d in rows])
    return LogisticRegression(C=1.0, max_iter=2000).fit(x, y)


def prob(model, d: dict, names: tuple[str, ...]) -> float:  # type: ignore[no-untyped-def]
    if d["ev"] is None:
        return 0.0
    return float(model.predict_proba(np.array([[d["ev"][k] for k in names]]))[0, 1])


def ece(ps: list[float], ys: list[bool], bins: int = 10) -> float:
    ps_a, ys_a = np.array(ps), np.array(ys, dtype=float)
    total = 0.0
    for b in range(bins):
        m = (ps_a >= b / bins) & ((ps_a < (b + 1) / bins) if b < bins - 1 else (ps_a <= 1))
        if m.any():
            total += m.sum() / len(ps_a) * abs(ps_a[m].mean() - ys_a[m].mean())
    return float(total)


def threshold_at(ps: list[float], refuse: float) -> float:
    """The confidence below which a share `refuse` of these (answerable) questions falls."""
    return float(np.quantile(np.array(ps), refuse)) if ps else 0.5


def pair_figures(recs: dict[str, list[dict]], probs: dict[str, list[float]], twins: dict[str, list[float]],
                 sides: dict[str, tuple[int, float]], folds: int, refuse: float) -> dict:
    """Held-out figures (as `main`'s) for each reader alone and for both, the more probable quoting:
    `probs[side][i]` is record i's held-out probability (the model fitted on the other folds);
    the threshold refuses `refuse` of the other folds' answerable v2.0 questions."""
    base = recs["sentence"]
    choices = {"sentence": [False] * len(base), "passage": [True] * len(base),
               "both": [p > s for s, p in zip(probs["sentence"], probs["passage"])]}
    out = {}
    for name, use_p in choices.items():
        ps = [max(a, b) if name == "both" else (b if name == "passage" else a) for a, b in zip(probs["sentence"], probs["passage"])]
        tw = [max(a, b) if name == "both" else (b if name == "passage" else a) for a, b in zip(twins["sentence"], twins["passage"])]
        t = {k: threshold_at([p for p, r in zip(ps, base) if r["fold"] != k and r["kind"] == "v2" and r["answerable"]], refuse)
             for k in range(folds)}
        rows = [(r, p, t[r["fold"]], recs["passage" if isp else "sentence"][i]["d"], isp)
                for i, (r, p, isp) in enumerate(zip(base, ps, use_p))]
        v1 = [x for x in rows if x[0]["kind"] == "v1"]
        v2a = [x for x in rows if x[0]["kind"] == "v2" and x[0]["answerable"]]
        v2u = [x for x in rows if x[0]["kind"] == "v2" and not x[0]["answerable"]]
        removed = [(x, w) for x, w in zip(rows, tw) if x[0]["kind"] == "removed"]
        q8 = float(np.quantile([p for _, p, _, _, _ in v2a], 0.08))
        t8 = float(np.quantile([w for _, w in removed], 0.08))
        side_n = {False: sides["sentence"][0], True: sides["passage"][0]}
        out[name] = {
            "v1_answer_hit": round(float(np.mean([p >= t and d["hit"] for _, p, t, d, _ in v1])), 3),
            "v1_refused": round(float(np.mean([p < t for _, p, t, _, _ in v1])), 3),
            "v1_citation_hit@3_all": round(float(np.mean([p >= t and cited(r, side_n[isp], d["best"], None, passage=isp)
                                                          for r, p, t, d, isp in v1])), 3),
            "ooc_refused": round(float(np.mean([p < t for r, p, t, _, _ in rows if r["kind"] == "ooc"])), 3),
            "v2_unanswerable_refused": round(float(np.mean([p < t for _, p, t, _, _ in v2u])), 3),
            "v2_unanswerable_refused_at_8pct": round(float(np.mean([p < q8 for _, p, _, _, _ in v2u])), 3),
            "removed_refused_at_8pct_untouched": round(float(np.mean([x[1] < t8 for x, _ in removed])), 3),
            "ece_v2": round(ece([p for r, p, _, _, _ in rows if r["kind"] == "v2"], [d["hit"] for r, _, _, d, _ in rows if r["kind"] == "v2"]), 4),
            "passage_quotes": round(float(np.mean(use_p)), 3),
        }
        log.info("%s: %s", name, json.dumps(out[name]))
    return out


def fit_pair(args: argparse.Namespace, emb) -> dict:  # type: ignore[no-untyped-def]
    """--pair: both readers on the same records, each side as fitted.json's sections say (the sentences
    or passages read, coverage weight, evidence); figures held out by folds, then the threshold for
    the more probable side's confidence, from the shipped sections' models."""
    from index.answer.select import load_fitted

    fitted = load_fitted()
    if fitted is None or fitted.reader is None or fitted.passage_reader is None:
        raise SystemExit("--pair needs index/fitted.json's reader and passage_reader sections (fit each first)")
    readers = {"sentence": SentenceReader(), "passage": PassageReader()}
    shipped = {"sentence": fitted.reader, "passage": fitted.passage_reader}
    recs, probs, twins, sides = {}, {}, {}, {}
    for side, reader in readers.items():
        reader.warm_up()
        if reader.meta["onnx_sha256"] != shipped[side].reader_sha256:
            raise SystemExit(f"the {side} reader's section of fitted.json was fitted for another file: refit it first")
        rc = shipped[side]
        sides[side] = (rc.sentences, rc.coverage_weight)
        got = collect(emb, reader, args.folds, args.ooc, args.collect, args.v1, args.v2, args.removed)
        recs[side] = sorted(got, key=lambda r: (r["kind"], r["qid"]))
        names = rc.evidence
        isp = side == "passage"
        for r in recs[side]:
            r["d"] = decide(r, rc.sentences, rc.coverage_weight, isp)
            if r["kind"] == "removed":
                r["twin_d"] = decide(r["twin"], rc.sentences, rc.coverage_weight, isp)
        probs[side], twins[side] = [0.0] * len(recs[side]), [0.0] * len(recs[side])
        for k in range(args.folds):
            model = fit([r["d"] for r in recs[side] if r["fold"] != k and r["kind"] in ("v2", "ooc") and r["d"]["ev"] is not None], names)
            for i, r in enumerate(recs[side]):
                if r["fold"] == k:
                    probs[side][i] = prob(model, r["d"], names)
                    twins[side][i] = prob(model, r["twin_d"], names) if r["kind"] == "removed" else 0.0
    if [(r["kind"], r["qid"]) for r in recs["sentence"]] != [(r["kind"], r["qid"]) for r in recs["passage"]]:
        raise SystemExit("the two collections hold different questions")
    results: dict = {"held_out": pair_figures(recs, probs, twins, sides, args.folds, args.refuse)}

    def shipped_prob(side: str, d: dict) -> float:
        return 0.0 if d["ev"] is None else shipped[side].probability(d["ev"])

    both = [max(shipped_prob("sentence", s["d"]), shipped_prob("passage", p["d"]))
            for s, p in zip(recs["sentence"], recs["passage"]) if s["kind"] == "v2" and s["answerable"]]
    t = threshold_at(both, args.refuse)
    results["shipped"] = {"threshold": round(t, 4), "sides": sides,
                          "note": "the shipped sections' models on every v2.0 answerable question (in-sample)"}
    log.info("shipped: %s", json.dumps(results["shipped"]))
    if args.write:
        write_fitted_section("pair", {
            "rule": "both readers read; the quote is the one whose reader section gives the higher probability",
            "threshold": round(t, 6),
            "reader_sha256": shipped["sentence"].reader_sha256, "passage_sha256": shipped["passage"].reader_sha256,
            "provenance": {
                "script": "bench/fit_reader.py --pair", "date": datetime.date.today().isoformat(), "seed": SEED, "folds": args.folds,
                "data": {V1.name: sha256(V1), V2.name: sha256(V2)}, "licence": "SQuAD dev part A, CC BY-SA 4.0",
                "threshold_rule": f"refuses {args.refuse:.1%} of the answerable v2.0 questions (the higher of the two probabilities)",
                "questions": {"v1": args.v1, "v2": args.v2, "ooc_per_fold": args.ooc, "removed": args.removed},
            },
        })
    return results


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--folds", type=int, default=3)
    ap.add_argument("--ooc", type=int, default=300, help="out-of-corpus questions per fold")
    ap.add_argument("--collect", type=int, default=8, help="sentences read per question when collecting")
    ap.add_argument("--read", type=int, nargs="*", default=[3, 4, 6, 8], help="reader_sentences values to replay")
    ap.add_argument("--v1", type=int, default=2000, help="v1.1 questions (sampled with the seed)")
    ap.add_argument("--v2", type=int, default=3000, help="v2.0 questions (sampled with the seed)")
    ap.add_argument("--removed", type=int, default=600, help="answer-removed questions (sampled with the seed)")
    ap.add_argument("--refuse", type=float, default=0.07, help="share of answerable v2.0 questions the threshold refuses")
    ap.add_argument("--write", action="store_true")
    ap.add_argument("--ship", type=int, default=4, help="the reader_sentences the written confidence is fitted for")
    ap.add_argument("--coverage-weight", type=float, nargs="*", default=[0.0, 1.0, 2.0, 4.0],
                    help="choose by reader logit + this × the sentence's share of the question's words (replayed)")
    ap.add_argument("--related-share", type=float, default=0.25,
                    help="`related` = this quantile of the logits of read sentences that hold a gold answer")
    ap.add_argument("--passage", nargs="?", const="", default=None, metavar="FOLDER",
                    help="fit the passage reader's confidence (its shipped files, or those in FOLDER)")
    ap.add_argument("--pair", action="store_true",
                    help="both readers (CITEBOT_READER=both): held-out figures for each alone and for the two, the more "
                         "probable quoting; --write adds the `pair` section (its threshold)")
    ap.add_argument("--passage-folds", nargs="+", type=Path, metavar="FOLDER",
                    help="one passage reader per article fold, each trained without that fold (train_passage_reader.py "
                         "--v2-stage K): fold K's questions are read by the K-th; --passage names the shipped one")
    args = ap.parse_args(argv)
    global PASSAGE
    PASSAGE = args.passage is not None
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    for noisy in ("index.store", "sentence_transformers", "bm25s", "index.embed", "index.reader"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    emb = make_embedder("sentence-transformers/all-MiniLM-L6-v2", "auto")
    emb.warm_up()
    if args.pair:
        print(json.dumps(fit_pair(args, emb)))
        return 0
    reader: SentenceReader | PassageReader = (PassageReader(Path(args.passage) if args.passage else None) if PASSAGE
                                              else SentenceReader())
    reader.warm_up()
    if args.passage_folds:  # every record read by the reader that never saw its fold
        if not PASSAGE or len(args.passage_folds) != args.folds:
            raise SystemExit(f"--passage-folds: {args.folds} folders (one per fold), with --passage")
        recs, fold_shas = [], []
        for k, folder in enumerate(args.passage_folds):
            fold_reader = PassageReader(folder)
            fold_reader.warm_up()
            fold_shas.append(fold_reader.meta["onnx_sha256"][:16])
            recs += collect(emb, fold_reader, args.folds, args.ooc, args.collect, args.v1, args.v2, args.removed, only=k)
    else:
        recs = collect(emb, reader, args.folds, args.ooc, args.collect, args.v1, args.v2, args.removed)
    results: dict = {"read": {}}
    for n, w in [(n, w) for n in args.read for w in args.coverage_weight]:
        for r in recs:
            r["d"] = decide(r, n, w)
        res: dict = {}
        for name, names in EVIDENCE_SETS.items():
            held: dict[str, list] = {}
            models = {}
            for k in range(args.folds):
                train = [r["d"] for r in recs if r["fold"] != k and r["kind"] in ("v2", "ooc") and r["d"]["ev"] is not None]
                model = models[k] = fit(train, names)
                t = threshold_at([prob(model, r["d"], names) for r in recs if r["fold"] != k and r["kind"] == "v2" and r["answerable"]], args.refuse)
                for r in recs:
                    if r["fold"] == k:
                        held.setdefault(r["kind"], []).append((r, prob(model, r["d"], names), t))
            v2a = [(p, t) for r, p, t in held["v2"] if r["answerable"]]
            v2u = [(p, t) for r, p, t in held["v2"] if not r["answerable"]]
            # The curve: unanswerable refused when a share x of answerable ones is refused.
            pa = sorted(p for p, _ in v2a)
            curve = {f"{x:.2f}": round(float(np.mean([p < np.quantile(pa, x) for p, _ in v2u])), 3) for x in (0.02, 0.04, 0.06, 0.08, 0.10, 0.15, 0.20)}
            v1 = held["v1"]
            removed = held["removed"]
            # answer removed: refused at the threshold where 8% of the untouched twins are refused.
            twins = [prob(models[r["fold"]], decide(r["twin"], n, w), names) for r, _, _ in removed]
            t8 = float(np.quantile(twins, 0.08)) if twins else 0.5
            res[name] = {
                "v2_unanswerable_refused": round(float(np.mean([p < t for p, t in v2u])), 3),
                "v2_answerable_refused": round(float(np.mean([p < t for p, t in v2a])), 3),
                "v2_curve": curve,
                "v1_answer_hit": round(float(np.mean([p >= t and r["d"]["hit"] for r, p, t in v1])), 3),
                "v1_refused": round(float(np.mean([p < t for r, p, t in v1])), 3),
                "v1_citation_hit@3_all": round(float(np.mean([p >= t and cited(r, n, r["d"]["best"], None) for r, p, t in v1])), 3),
                "ooc_refused": round(float(np.mean([p < t for r, p, t in held["ooc"]])), 3),
                "removed_refused_at_shipped": round(float(np.mean([p < t for r, p, t in removed])), 3),
                "removed_refused_at_8pct_untouched": round(float(np.mean([p < t8 for r, p, _ in removed])), 3),
                "removed_n": len(removed),
                "ece_v2": round(ece([p for r, p, _ in held["v2"]], [r["d"]["hit"] for r, _, _ in held["v2"]]), 4),
                "ece_all": round(ece([p for kind in held for r, p, _ in held[kind] if kind != "removed"],
                                     [r["d"]["hit"] for kind in held for r, _, _ in held[kind] if kind != "removed"]), 4),
            }
            log.info("read %d, coverage weight %s, %s: %s", n, w, name, json.dumps(res[name]))
        results["read"][f"{n}/{w}"] = res
    # The related-source cut, for the shipped number of read sentences: the logit that keeps 95%
    # of further cited passages holding a gold answer (v1.1, answered correctly or not).
    n = args.ship
    golds = [c["logit"] for r in recs if r["kind"] == "v1" for c in reads(r, n) if c["label"]]
    related = float(np.quantile(golds, args.related_share)) if golds else 0.0
    # Shipped: for --ship sentences, the coverage weight and evidence set with the best held-out sum
    # of v2.0 unanswerable refused at 8% answerable refused and v1.1 answer hit.
    def merit(key: str, nm: str) -> float:
        got = results["read"][key][nm]
        return float(got["v2_curve"]["0.08"] + got["v1_answer_hit"])

    w, best_name = max(((w, nm) for w in args.coverage_weight for nm in EVIDENCE_SETS), key=lambda x: merit(f"{n}/{x[0]}", x[1]))
    names = EVIDENCE_SETS[best_name]
    for r in recs:
        r["d"] = decide(r, n, w)
    v1 = [r for r in recs if r["kind"] == "v1"]
    model = fit([r["d"] for r in recs if r["kind"] in ("v2", "ooc") and r["d"]["ev"] is not None], names)
    t = threshold_at([prob(model, r["d"], names) for r in recs if r["kind"] == "v2" and r["answerable"]], args.refuse)
    cite_related = float(np.mean([prob(model, r["d"], names) >= t and cited(r, n, r["d"]["best"], related) for r in v1]))
    cite_all = float(np.mean([prob(model, r["d"], names) >= t and cited(r, n, r["d"]["best"], None) for r in v1]))
    cite_reader_only = float(np.mean([prob(model, r["d"], names) >= t and cited(r, n, r["d"]["best"], related, same_article=False)
                                      for r in v1]))
    results.update(shipped={"read": n, "coverage_weight": w, "evidence": best_name, "threshold": round(t, 4), "related": round(related, 4),
                            "v1_citation_hit@3_related_only": round(cite_related, 3), "v1_citation_hit@3_all": round(cite_all, 3),
                            "v1_citation_hit@3_reader_only": round(cite_reader_only, 3),
                            "note": "fitted on all folds (in-sample): the held-out figures are in read[...]"})
    if PASSAGE:
        results["bold"] = bold_words([r for r in v1 if r["d"]["hit"]])
        log.info("bold answer words, rules against the span: %s", json.dumps(results["bold"]))
    removed = [r for r in recs if r["kind"] == "removed"]
    t8_old = float(np.quantile([r["old_untouched"] for r in removed], 0.08))
    results["reader_off_removed_refused_at_8pct_untouched"] = round(float(np.mean([r["old_removed"] < t8_old for r in removed])), 3)
    log.info("shipped: %s; reader off, answer removed refused at 8%% untouched refused: %s", json.dumps(results["shipped"]),
             results["reader_off_removed_refused_at_8pct_untouched"])
    if args.write:
        write_fitted_section("passage_reader" if PASSAGE else "reader", {
            "kind": "logistic regression over reader evidence (scikit-learn LogisticRegression, C=1)",
            "evidence": list(names), "intercept": float(model.intercept_[0]), "weights": [float(w) for w in model.coef_[0]],
            "threshold": round(t, 6), "related": round(related, 6), "reader_sha256": reader.meta["onnx_sha256"],
            "reader_sentences": n, "coverage_weight": w,
            "provenance": {
                "script": "bench/fit_reader.py", "date": datetime.date.today().isoformat(), "seed": SEED, "folds": args.folds,
                "data": {V1.name: sha256(V1), V2.name: sha256(V2)}, "licence": "SQuAD dev part A, CC BY-SA 4.0",
                "label": "the quoted sentence holds a gold answer", "fitted_on": "v2.0 part A + out-of-corpus v1.1 questions",
                "threshold_rule": f"refuses {args.refuse:.0%} of the answerable v2.0 questions",
                "related_rule": f"the {args.related_share:.0%} quantile of the logits of read sentences that hold a gold answer (v1.1)",
                "all_evidence": list(READER_EVIDENCE),
                **({"read_by": "each fold's questions by a reader trained without that fold (--passage-folds): "
                               + ", ".join(fold_shas)}
                   if args.passage_folds else {}),
            },
        })
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
