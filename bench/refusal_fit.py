"""Fitting and reporting for bench/refusal.py (kept apart so the cached collection is reused)."""
from __future__ import annotations

import datetime
import hashlib
import json
import math
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from bench.train_selector import export, fit
from index.answer.select import (
    EVIDENCE,
    FEATURES,
    Calibrated,
    TreeScorer,
    evidence_row,
    hand_confidence,
    write_fitted_section,
)

# The question sets, shared with bench/refusal.py (defined here, the lower of the two, so neither imports the other back).
SHARED = Path(__file__).resolve().parent.parent.parent / "shared" / "eval"
V1 = SHARED / "squad-v1.1-dev-part-a.json"
V2 = SHARED / "squad-v2.0-dev-part-a.json"
SEED = 0


def sha256(path: Path) -> str:
    """The data file's hash, for the provenance written beside the fitted numbers."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


# The logistic confidence shipped before issue 12 (over the first six EVIDENCE values), as a baseline.
OLD_CONFIDENCE = (-11.16076981365934, (3.4748822418575545, 3.648930765519682, 5.886846205581171, 7.871953290645601, -0.2184063228186074, 3.3664737337332746))
REFUSE = 0.07  # share of answerable questions the shipped threshold refuses on the fitting data (target ≤ 8% held out)
TREES, DEPTH, RATE = 50, 3, 0.1
OOC_WEIGHT = 2.0  # out-of-corpus questions count double: their refusal is the promise kept so far


def _scored(recs: list[dict], scorer: TreeScorer | None) -> None:
    """Choose each record's sentence with `scorer` (None = hand-set) and compute its evidence."""
    for r in recs:
        if not r["rows"]:
            r["ev"] = None
            continue
        sc = scorer.score(np.array(r["rows"])) if scorer is not None else np.array(r["linear"])
        b = int(np.argmax(sc))
        r["ev"] = evidence_row(r["feat"], list(sc), b, r["hits_dense"])
        r["right"] = bool(r["label"][b])
        r["in_para"] = bool(r["para"][b])
        r["chars"] = r["chars_all"][b]


def out_of_fold_evidence(recs: list[dict], folds: int, exclude: set[int]) -> dict[int, list[dict]]:
    """Per fold f not in `exclude`: copies of fold f's records scored by trees fitted on v1.1
    questions of articles in neither f nor `exclude` (so no tree ever saw the article it decides for)."""
    out = {}
    for f in range(folds):
        if f in exclude:
            continue
        train = [r for r in recs if r["kind"] == "v1" and r["fold"] != f and r["fold"] not in exclude]
        scorer = TreeScorer(export(fit(train, TREES, DEPTH, RATE)), FEATURES)
        mine = [dict(r) for r in recs if r["fold"] == f]
        _scored(mine, scorer)
        out[f] = mine
    return out


def _x(rows: list[dict]) -> np.ndarray:
    return np.array([r["ev"] for r in rows], dtype=float)


def _logistic(rows: list[dict]):  # type: ignore[no-untyped-def]
    """Logistic regression (label: the chosen sentence holds a gold answer) over EVIDENCE, fitted
    on standardised evidence; out-of-corpus questions weigh OOC_WEIGHT. Returns (model, mu, sd)."""
    from sklearn.linear_model import LogisticRegression

    have = [r for r in rows if r["ev"] is not None]
    X, y = _x(have), np.array([r["right"] for r in have])
    w = np.array([OOC_WEIGHT if r["kind"] == "ooc" else 1.0 for r in have])
    mu, sd = X.mean(axis=0), X.std(axis=0) + 1e-9
    return LogisticRegression(C=1.0, max_iter=5000).fit((X - mu) / sd, y, sample_weight=w), mu, sd


def fit_confidence(sets: dict[int, list[dict]]) -> tuple[Calibrated, dict]:
    """The confidence fitted on every fold in `sets`, then calibrated by Platt scaling: a logistic
    map of its log-odds to the share right, fitted on out-of-fold log-odds (each fold's v2.0 rows
    scored by a logistic fitted on the other folds of `sets`). Platt's map folds into the weights
    (sigmoid(a·z + c) of a linear z is again a logistic), so the stored model is one logistic and
    the ranking, hence every refusal curve, is the uncalibrated one's."""
    from sklearn.linear_model import LogisticRegression

    rows = [r for rs in sets.values() for r in rs if r["ev"] is not None and r["kind"] in ("v2", "ooc")]
    m, mu, sd = _logistic(rows)
    w = m.coef_[0] / sd
    b = float(m.intercept_[0] - (m.coef_[0] * mu / sd).sum())
    oof_z, oof_y = [], []
    for f, rs in sets.items():
        train = [r for g, x in sets.items() if g != f for r in x if r["ev"] is not None and r["kind"] in ("v2", "ooc")]
        mf, muf, sdf = _logistic(train)
        test = [r for r in rs if r["ev"] is not None and r["kind"] == "v2"]
        oof_z += mf.decision_function((_x(test) - muf) / sdf).tolist()
        oof_y += [r["right"] for r in test]
    platt = LogisticRegression(C=1e6, max_iter=5000).fit(np.array(oof_z)[:, None], oof_y)
    a, c = float(platt.coef_[0][0]), float(platt.intercept_[0])
    conf = Calibrated(a * b + c, tuple(float(a * v) for v in w))
    X = _x(rows)
    check = {"rows": X[:: max(1, len(X) // 8)][:8].tolist()}
    z = m.decision_function((np.array(check["rows"]) - mu) / sd)
    check["probabilities"] = platt.predict_proba(z[:, None])[:, 1].tolist()
    check["platt"] = [a, c]
    return conf, check


def conf_of(kind: str, model: Calibrated | None = None) -> Callable[[dict], float]:
    """A confidence over one record's evidence (0 when nothing was retrieved)."""
    def f(r: dict) -> float:
        if r["ev"] is None:
            return 0.0
        if kind == "new":
            return model(r["ev"])  # type: ignore[misc]
        if kind == "old":
            z = OLD_CONFIDENCE[0] + sum(a * b for a, b in zip(OLD_CONFIDENCE[1], r["ev"][:6]))
            return 1 / (1 + math.exp(-z))
        if kind == "hand":
            return hand_confidence(r["ev"])
        if kind == "bm25":
            return r["hits_lexical"]
        if kind == "dense":
            return r["hits_dense"]
        raise ValueError(kind)
    return f


def at_threshold(rows: list[dict], c: Callable[[dict], float], t: float) -> dict[str, float]:
    """Refusal rates and answer hit of what is answered, at threshold t."""
    ans = [r for r in rows if r["kind"] == "v2" and r["answerable"]]
    una = [r for r in rows if r["kind"] == "v2" and not r["answerable"]]
    ooc = [r for r in rows if r["kind"] == "ooc"]
    v1 = [r for r in rows if r["kind"] == "v1"]
    shown = lambda r: r["ev"] is not None and c(r) >= t
    answered = [r for r in ans if shown(r)]
    v1_shown = [r for r in v1 if shown(r)]
    return {
        "threshold": t,
        "answerable_refused": 1 - len(answered) / max(1, len(ans)),
        "unanswerable_refused": 1 - sum(map(shown, una)) / max(1, len(una)),
        "answer_hit_answered": sum(r["right"] for r in answered) / max(1, len(answered)),
        "ooc_refused": 1 - sum(map(shown, ooc)) / max(1, len(ooc)),
        "v1_answer_hit": sum(r["right"] for r in v1_shown) / max(1, len(v1)),
        "v1_refused": 1 - len(v1_shown) / max(1, len(v1)),
    }


def curve(rows: list[dict], c: Callable[[dict], float], rates: Sequence[float]) -> list[dict[str, float]]:
    """The operating points whose threshold refuses each share of the answerable questions."""
    confs = np.sort([c(r) if r["ev"] is not None else -np.inf for r in rows if r["kind"] == "v2" and r["answerable"]])
    return [at_threshold(rows, c, float(confs[min(len(confs) - 1, int(p * len(confs)))]) if p > 0 else -np.inf) for p in rates]


def reliability(rows: list[dict], c: Callable[[dict], float], bins: int = 10) -> tuple[list[tuple[str, int, float, float]], float]:
    """10-bin reliability table (bin, questions, mean confidence, share right) and the ECE."""
    have = [(c(r), r["right"]) for r in rows if r["ev"] is not None]
    n = len(have)
    table, ece = [], 0.0
    for k in range(bins):
        lo, hi = k / bins, (k + 1) / bins
        inb = [(p, y) for p, y in have if lo <= p < hi or (k == bins - 1 and p == 1.0)]
        if not inb:
            table.append((f"{lo:.1f}–{hi:.1f}", 0, float("nan"), float("nan")))
            continue
        mp = float(np.mean([p for p, _ in inb]))
        acc = float(np.mean([y for _, y in inb]))
        ece += len(inb) / n * abs(mp - acc)
        table.append((f"{lo:.1f}–{hi:.1f}", len(inb), mp, acc))
    return table, ece


RATES = (0.0, 0.02, 0.04, 0.06, 0.08, 0.10, 0.15, 0.20, 0.30, 0.40, 0.50)


def report(recs: list[dict], args, backend: str) -> int:  # type: ignore[no-untyped-def]
    for r in recs:  # per-candidate quote lengths; `_scored` sets "chars" to the chosen one's
        r.setdefault("chars_all", r.pop("chars", []))
    folds = args.folds
    held: list[dict] = []
    chosen = []
    for k in range(folds):
        # Held-out fold k: its records scored by trees that never saw fold k ...
        test = out_of_fold_evidence(recs, folds, set())[k]
        # ... and the confidence fitted on the other folds, whose evidence comes from trees that saw
        # neither their own fold nor fold k.
        train_sets = out_of_fold_evidence(recs, folds, {k}) if folds >= 3 else {f: v for f, v in out_of_fold_evidence(recs, folds, set()).items() if f != k}
        train = [r for f, rs in train_sets.items() for r in rs if r["kind"] in ("v2", "ooc")]
        model, _ = fit_confidence(train_sets)
        c = conf_of("new", model)
        confs = np.sort([c(r) for r in train if r["kind"] == "v2" and r["answerable"]])
        t = float(confs[int(REFUSE * len(confs))])
        for r in test:
            r["conf_new"] = c(r)
        chosen.append((k, t, at_threshold(test, c, t)))
        held += test
    cnew = lambda r: r["conf_new"]
    kinds = {"new (this issue)": cnew, "shipped before": conf_of("old"), "hand-set": conf_of("hand"),
             "BM25 alone (top BM25 score)": conf_of("bm25"), "dense alone (top cosine)": conf_of("dense")}
    n_ans = sum(1 for r in held if r["kind"] == "v2" and r["answerable"])
    n_una = sum(1 for r in held if r["kind"] == "v2" and not r["answerable"])
    n_ooc = sum(1 for r in held if r["kind"] == "ooc")
    print(f"\nHeld-out article folds ({folds}): {n_ans} answerable and {n_una} unanswerable SQuAD v2.0 questions, "
          f"{n_ooc} out-of-corpus, backend {backend}\n")
    print("Curve: unanswerable refused (and answer hit of the answered answerable ones) when the threshold refuses a given share of answerable questions\n")
    print("| answerable refused | " + " | ".join(kinds) + " |\n|---" * 1 + "|---" * len(kinds) + "|")
    curves = {name: curve(held, c, RATES) for name, c in kinds.items()}
    for i, p in enumerate(RATES):
        print(f"| {p:.2f} | " + " | ".join(f"{curves[n][i]['unanswerable_refused']:.3f} ({curves[n][i]['answer_hit_answered']:.3f})" for n in kinds) + " |")
    print("\nOperating point: threshold chosen on the fitting folds (refusing "
          f"{REFUSE:.0%} of their answerable questions), applied to the held-out fold\n")
    print("| held-out fold | threshold | answerable refused | unanswerable refused | answer hit (answered) | out-of-corpus refused | v1.1 answer hit (refused = 0) |\n|---|---|---|---|---|---|---|")
    for k, t, m in chosen:
        print(f"| {k} | {t:.3f} | {m['answerable_refused']:.3f} | {m['unanswerable_refused']:.3f} | {m['answer_hit_answered']:.3f} | {m['ooc_refused']:.3f} | {m['v1_answer_hit']:.3f} |")
    pooled = {key: float(np.mean([m[key] for _, _, m in chosen])) for key in chosen[0][2]}
    print(f"| mean | {pooled['threshold']:.3f} | {pooled['answerable_refused']:.3f} | {pooled['unanswerable_refused']:.3f} | "
          f"{pooled['answer_hit_answered']:.3f} | {pooled['ooc_refused']:.3f} | {pooled['v1_answer_hit']:.3f} |")
    v2 = [r for r in held if r["kind"] == "v2"]
    table, ece = reliability(v2, cnew)
    print("\nReliability on held-out SQuAD v2.0 questions (all, answered or not; right = the quote holds a gold answer)\n")
    print("| confidence | questions | mean confidence | share right |\n|---|---|---|---|")
    for b, n, mp, acc in table:
        print(f"| {b} | {n} | {mp:.3f} | {acc:.3f} |")
    print(f"\nECE (10 bins) = {ece:.4f}")
    ece_all = reliability(held, cnew)[1]
    ece_old = reliability(v2, conf_of("old"))[1]
    print(f"ECE with out-of-corpus and v1.1 questions too = {ece_all:.4f}; the confidence shipped before: {ece_old:.4f}")
    v1 = [r for r in held if r["kind"] == "v1"]
    print(f"\nv1.1 held-out (no refusal): answer hit {np.mean([r['right'] for r in v1]):.3f}, paragraph hit@1 {np.mean([r['in_para'] for r in v1]):.3f}, "
          f"mean quote {np.mean([r['chars'] for r in v1]):.0f} chars")
    result = {"folds": folds, "backend": backend, "operating_point": pooled, "per_fold": chosen, "ece_v2": ece, "ece_all": ece_all,
              "ece_shipped_before": ece_old, "curves": {n: [{k: round(v, 4) for k, v in m.items()} for m in cs] for n, cs in curves.items()}}
    if args.write:
        all_sets = out_of_fold_evidence(recs, folds, set())
        rows = [r for rs in all_sets.values() for r in rs if r["kind"] in ("v2", "ooc")]
        model, check = fit_confidence(all_sets)
        c = conf_of("new", model)
        confs = np.sort([c(r) for r in rows if r["kind"] == "v2" and r["answerable"]])
        t = float(confs[int(REFUSE * len(confs))])
        write_fitted_section("confidence", {
            "kind": "logistic", "evidence": list(EVIDENCE), "intercept": model.intercept, "weights": list(model.weights),
            "calibration": {"x": [], "y": [], "platt_folded_in": check["platt"]}, "threshold": t,
            "provenance": {
                "script": "bench/refusal.py --write", "date": datetime.date.today().isoformat(), "seed": SEED,
                "data": {V2.name: sha256(V2), V1.name: sha256(V1)}, "backend": backend, "folds": folds,
                "label": "the chosen sentence holds a gold answer (unanswerable and out-of-corpus: never)",
                "fitted_on": f"{sum(1 for r in rows if r['kind'] == 'v2')} SQuAD v2.0 part A questions + {sum(1 for r in rows if r['kind'] == 'ooc')} out-of-corpus, evidence from out-of-fold trees",
                "threshold_rule": f"refuses {REFUSE:.0%} of the answerable v2.0 questions it was fitted on",
                "held_out": {k: round(v, 4) for k, v in pooled.items()} | {"ece_v2": round(ece, 4)},
                "check": check,
            },
        })
        print(f"\nwrote the confidence section of index/fitted.json (threshold {t:.4f})")
    print(json.dumps(result, default=str))
    return 0
