"""Answer quality on a SQuAD-format question set, through the same `Engine.ask` path the bot uses.

    python bench/quality.py [--data ../shared/eval/squad-v1.1-dev-part-a.json] [--limit 1000]
                            [--ooc-limit 300] [--seed 0] [--modes lexical,dense,hybrid]

Each SQuAD article becomes one document (paragraphs joined by blank lines). Three real indexes
are built with `index.engine.Engine` and cached in bench/out/ (keyed by the corpus and the code
that shapes an index):
  * all articles: answerable questions (answer / citation / paragraph hits, wrongly refused);
  * fold A1 (articles 0, 2, 4, ...) and fold A2 (1, 3, 5, ...): questions of the other fold's
    articles are out of corpus, and the right reply to them is "not found".
The not-found threshold is applied after the fact to the confidence each Answer carries (the
bot's rule: found iff confidence >= threshold), so one run reports the shipped threshold and a
two-fold check of it: a threshold chosen on one fold's questions, scored on the other fold's.
`--modes hybrid,reader` puts the reader (CITEBOT_READER=on, at its own fitted threshold) beside
the default path on the same questions. Prints a table and, last, one JSON line.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import random
import re
import statistics
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from index import (  # noqa: E402
    DEFAULT_MIN_CONFIDENCE,
    Answer,
    CrossEncoderReranker,
    Document,
    Embedder,
    Engine,
    PassageReader,
    ReaderPair,
    SentenceReader,
)

log = logging.getLogger(__name__)

DEFAULT_DATA = ROOT.parent / "shared" / "eval" / "squad-v1.1-dev-part-a.json"
OUT = ROOT / "bench" / "out"
MODES = ("lexical", "dense", "hybrid")
# Not a default mode: hybrid retrieval with citebot's reader choosing the quote (CITEBOT_READER=on),
# scored at the reader's own fitted threshold.
READER_MODE = "reader"
# Nor this one: hybrid retrieval with the passage reader (issue 28) reading the top passages whole.
PASSAGE_MODE = "passage"
# And both readers, the more confident one quoting (CITEBOT_READER=both), at the `pair` threshold.
PAIR_MODE = "both"
# The code that decides what an index holds: a change in any of these rebuilds the cached index.
_INDEX_CODE = ("index/ingest/chunk.py", "index/words.py", "index/store/lexical.py", "index/ingest/load.py",
               "index/ingest/text.py", "index/ingest/html.py", "index/ingest/html_repair.py", "index/ingest/meta.py",
               "index/ingest/pdf.py", "index/store/layout.py", "index/store/schema.py", "index/store/vectors.py",
               "index/store/writer.py")


@dataclass(frozen=True)
class Question:
    """One SQuAD question with where its paragraph sits in the ingested article."""

    qid: str
    text: str
    golds: tuple[str, ...]
    article: int  # index into the article list
    para_start: int  # offsets of the question's paragraph in the stored article text
    para_end: int


@dataclass
class SquadArticle:
    """One SQuAD article as citebot ingests it."""

    title: str
    text: str
    paragraphs: list[str]
    qas: list[tuple[int, dict]]  # (paragraph number, qa)

    @property
    def source(self) -> str:
        return "squad:" + self.title


def load_squad(path: Path, articles: Sequence[int] | None = None, max_paragraphs: int = 0) -> list[SquadArticle]:
    """Articles of a SQuAD v1.1 file (optionally only some, by position, and their first paragraphs)."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))["data"]
    picked = range(len(data)) if articles is None else articles
    out = []
    for i in picked:
        a = data[i]
        ps = a["paragraphs"][:max_paragraphs] if max_paragraphs else a["paragraphs"]
        paras = [p["context"] for p in ps]
        qas = [(n, qa) for n, p in enumerate(ps) for qa in p["qas"]]
        out.append(SquadArticle(a["title"].replace("_", " "), "\n\n".join(paras), paras, qas))
    return out


def _doc(a: SquadArticle) -> Document:
    safe = re.sub(r"[^\w.,() -]+", " ", a.title).strip() or "article"
    return Document(name=f"{safe}.txt", source=a.source, data=a.text.encode("utf-8"))


def _key(articles: Sequence[SquadArticle], embedder: Embedder) -> str:
    h = hashlib.sha256(embedder.name.encode())
    for a in articles:
        h.update(a.title.encode() + b"\0" + a.text.encode() + b"\0")
    for f in _INDEX_CODE:
        p = ROOT / f
        h.update(p.read_bytes() if p.exists() else b"")
    return h.hexdigest()[:16]


def build_engine(name: str, articles: Sequence[SquadArticle], embedder: Embedder, *, folder: Path | None = None) -> Engine:
    """A real Engine over `articles`, reusing a cached index built from the same corpus and code."""
    folder = folder or OUT / f"{name}-{_key(articles, embedder)}"
    engine = Engine(folder, embedder, min_confidence=0.0)
    if not (folder / "CURRENT").exists():
        t0 = time.perf_counter()
        rep = engine.ingest([_doc(a) for a in articles])
        if rep.skipped:
            raise RuntimeError(f"articles skipped: {rep.skipped}")
        log.info("indexed %s: %d articles, %d passages in %.1f s", name, len(articles), rep.passages, time.perf_counter() - t0)
    return engine


def questions(engine: Engine, articles: Sequence[SquadArticle], numbers: Iterable[int]) -> list[Question]:
    """The questions of the chosen articles, with paragraph spans found in the stored text."""
    out = []
    for i in numbers:
        a = articles[i]
        stored = engine.article_text(a.source)
        if stored is None:
            raise RuntimeError(f"{a.title} is not in the index")
        spans, pos = [], 0
        for p in a.paragraphs:
            p = p.strip()
            s = stored.find(p, pos)
            if s < 0:  # loading joins a line break inside a paragraph into a space ("O\n3" -> "O 3")
                p = re.sub(r"[ \t]*\n[ \t]*", " ", p)
                s = stored.find(p, pos)
            if s < 0:
                raise RuntimeError(f"paragraph not found in the stored text of {a.title}")
            spans.append((s, s + len(p)))
            pos = s + len(p)
        for n, qa in a.qas:
            golds = tuple(dict.fromkeys(x["text"].strip() for x in qa["answers"] if x["text"].strip()))
            out.append(Question(qa["id"], qa["question"], golds, i, *spans[n]))
    return out


@dataclass
class Record:
    """What one question got, in the terms the metrics need."""

    found: bool
    confidence: float
    answer_hit: bool = False
    cite_hits: list[bool] = field(default_factory=list)  # per citation: contains a gold answer
    para_hits: list[bool] = field(default_factory=list)  # per citation: inside the question's paragraph
    ms: float = 0.0
    quote_chars: int = 0  # length of the quoted answer (a longer quote must not pass for a better one)


def _contains(text: str | None, golds: Sequence[str]) -> bool:
    low = (text or "").lower()
    return any(g.lower() in low for g in golds)


def ask_all(engine: Engine, qs: Sequence[Question], articles: Sequence[SquadArticle], mode: str) -> list[Record]:
    """Ask every question through `Engine.ask` and score what a user would see."""
    recs = []
    for q in qs:
        t0 = time.perf_counter()
        ans: Answer = engine.ask(q.text, mode=mode)
        ms = (time.perf_counter() - t0) * 1000
        cites = list(ans.citations) + list(ans.more)
        src = articles[q.article].source
        recs.append(Record(
            found=ans.found,
            confidence=ans.confidence,
            answer_hit=ans.found and _contains(ans.answer, q.golds),
            cite_hits=[_contains(c.snippet, q.golds) for c in cites],
            para_hits=[c.source == src and q.para_start <= c.start and c.end <= q.para_end for c in cites],
            ms=ms,
            quote_chars=len(ans.answer or ""),
        ))
    return recs


def answerable_metrics(recs: Sequence[Record], threshold: float) -> dict[str, float]:
    """Answer / citation / paragraph hits over answerable questions; a refused one scores 0."""
    n = len(recs) or 1
    ok = [r.found and r.confidence >= threshold for r in recs]
    mrr = 0.0
    for r, shown in zip(recs, ok):
        if shown:
            mrr += next((1.0 / (i + 1) for i, h in enumerate(r.para_hits[:10]) if h), 0.0)
    return {
        "answer_hit": sum(r.answer_hit and s for r, s in zip(recs, ok)) / n,
        "citation_hit@1": sum(s and any(r.cite_hits[:1]) for r, s in zip(recs, ok)) / n,
        "citation_hit@3": sum(s and any(r.cite_hits[:3]) for r, s in zip(recs, ok)) / n,
        "paragraph_hit@1": sum(s and any(r.para_hits[:1]) for r, s in zip(recs, ok)) / n,
        "paragraph_hit@5": sum(s and any(r.para_hits[:5]) for r, s in zip(recs, ok)) / n,
        "mrr@10": mrr / n,
        "refused_answerable": sum(not s for s in ok) / n,
        "ms_per_question": statistics.fmean(r.ms for r in recs) if recs else 0.0,
        "mean_quote_chars": statistics.fmean([r.quote_chars for r, s in zip(recs, ok) if s] or [0]),
    }


def abstained(recs: Sequence[Record], threshold: float) -> float:
    """Share of out-of-corpus questions answered 'not found'."""
    return sum(not (r.found and r.confidence >= threshold) for r in recs) / (len(recs) or 1)


def pick_threshold(answerable: Sequence[Record], ooc: Sequence[Record], max_refused: float = 0.05) -> float:
    """The threshold that refuses the most out-of-corpus questions while refusing ≤ max_refused answerable ones."""
    confs = sorted(r.confidence for r in answerable if r.found)
    if not confs:
        return 0.0
    # Refusing share p of answerable questions means the threshold sits at their p-quantile.
    allowed = int(max_refused * len(answerable)) - sum(not r.found for r in answerable)
    return confs[max(0, min(len(confs) - 1, allowed))] if allowed > 0 else 0.0


def run(
    data: Path,
    embedder: Embedder,
    *,
    limit: int = 1000,
    ooc_limit: int = 300,
    seed: int = 0,
    modes: Sequence[str] = MODES,
    articles: Sequence[int] | None = None,
    max_paragraphs: int = 0,
    threshold: float = DEFAULT_MIN_CONFIDENCE,
    cache: Path | None = None,
    trees: bool = True,
    reranker: CrossEncoderReranker | None = None,
    standalone: bool = True,
    reader_max_len: int = 0,
    reader_sentences: int = 0,
    passage_folder: Path | None = None,
) -> dict:
    """Build (or reuse) the three indexes, ask the sampled questions in each mode, return the metrics."""
    default_threshold = threshold
    arts = load_squad(data, articles, max_paragraphs)
    half = (list(range(0, len(arts), 2)), list(range(1, len(arts), 2)))
    base = cache or OUT
    t0 = time.perf_counter()
    key = lambda name, sub: base / f"{name}-{_key(sub, embedder)}"
    full = build_engine("all", arts, embedder, folder=key("all", arts))
    folds = []
    for name, keep in (("A1", half[0]), ("A2", half[1])):
        sub = [arts[i] for i in keep]
        folds.append(build_engine(name, sub, embedder, folder=key(name, sub)))
    index_s = time.perf_counter() - t0
    if not trees:  # the hand-set linear sentence score, for before/after comparisons
        for eng in (full, *folds):
            eng.composer.scorer = None
    engines = {mode: (full, *folds) for mode in modes if mode not in (READER_MODE, PASSAGE_MODE, PAIR_MODE)}
    if PAIR_MODE in modes:
        pair = ReaderPair(passage=PassageReader(passage_folder))
        engines[PAIR_MODE] = tuple(Engine(e.index_dir, embedder, min_confidence=0.0, sentence_reader=pair) for e in (full, *folds))
    if PASSAGE_MODE in modes:
        passage = PassageReader(passage_folder)
        engines[PASSAGE_MODE] = tuple(Engine(e.index_dir, embedder, min_confidence=0.0, sentence_reader=passage)
                                      for e in (full, *folds))
    if READER_MODE in modes:  # the same index folders, opened by engines that read with the reader
        reader = SentenceReader(max_len=reader_max_len or None)
        engines[READER_MODE] = tuple(Engine(e.index_dir, embedder, min_confidence=0.0, sentence_reader=reader)
                                     for e in (full, *folds))
    for engs in engines.values():
        for eng in engs:
            eng.reranker = reranker
            eng.composer.standalone = standalone  # quote the sentence a leaning answer sentence needs
            if reader_sentences and eng.composer.reader is not None:  # a lever of issue 27 (its confidence is fitted for 4)
                eng.composer.reader_sentences = reader_sentences

    rng = random.Random(seed)
    qs_all = questions(full, arts, range(len(arts)))
    sample = rng.sample(qs_all, min(limit, len(qs_all))) if limit else qs_all
    # Out-of-corpus: fold k's index gets questions of the other fold's articles.
    ooc_qs = []
    for k in range(len(folds)):
        other = [q for q in qs_all if q.article in half[1 - k]]
        ooc_qs.append(rng.sample(other, min(ooc_limit, len(other))) if ooc_limit else other)
    # In-corpus questions against the fold indexes, for choosing a threshold per fold.
    in_qs = []
    for k in range(len(folds)):
        mine = [q for q in sample if q.article in half[k]]
        in_qs.append(mine[: max(1, ooc_limit)])

    results: dict[str, dict] = {}
    for mode in modes:
        t1 = time.perf_counter()
        full_m, *folds_m = engines[mode]
        reads = mode in (READER_MODE, PASSAGE_MODE, PAIR_MODE)
        retrieval = "hybrid" if reads else mode
        confidence = full_m.composer.pair_confidence if mode == PAIR_MODE else full_m.composer.reader_confidence
        # A reader without a fitted confidence: its raw probability, refusing below one half.
        threshold = (confidence.threshold if confidence is not None else 0.5) if reads else default_threshold
        recs = ask_all(full_m, sample, arts, retrieval)
        ooc = [ask_all(folds_m[k], ooc_qs[k], arts, retrieval) for k in range(2)]
        ins = [ask_all(folds_m[k], in_qs[k], arts, retrieval) for k in range(2)]
        m = answerable_metrics(recs, threshold)
        m["threshold"] = threshold
        m["abstain_out_of_corpus"] = (abstained(ooc[0], threshold) * len(ooc[0]) + abstained(ooc[1], threshold) * len(ooc[1])) / max(1, len(ooc[0]) + len(ooc[1]))
        # Two-fold check: choose on fold k, score on fold 1-k.
        cv = []
        for k in range(2):
            t = pick_threshold(ins[k], ooc[k])
            cv.append({
                "chosen_on": f"A{k + 1}", "threshold": round(t, 4),
                "abstain_out_of_corpus": abstained(ooc[1 - k], t),
                "refused_answerable": answerable_metrics(ins[1 - k], t)["refused_answerable"],
            })
        m["cv"] = cv
        m["seconds"] = time.perf_counter() - t1
        results[mode] = m
    return {
        "data": str(data), "articles": len(arts), "questions": len(sample),
        "out_of_corpus_questions": sum(len(x) for x in ooc_qs), "seed": seed, "threshold": default_threshold,
        "index_seconds": round(index_s, 1), "results": results,
    }


ROWS = (
    ("answer hit", "answer_hit"),
    ("citation hit@1", "citation_hit@1"),
    ("citation hit@3", "citation_hit@3"),
    ("paragraph hit@1", "paragraph_hit@1"),
    ("paragraph hit@5", "paragraph_hit@5"),
    ("paragraph MRR@10", "mrr@10"),
    ("out-of-corpus → not found", "abstain_out_of_corpus"),
    ("answerable → not found", "refused_answerable"),
    ("ms / question", "ms_per_question"),
    ("mean quote (characters)", "mean_quote_chars"),
)
_LABEL = {"lexical": "BM25 alone", "dense": "dense alone", "hybrid": "hybrid (citebot)"}


def table(report: dict) -> str:
    """A Markdown table: one row per metric, one column per mode."""
    modes = list(report["results"])
    lines = ["| metric | " + " | ".join(_LABEL.get(m, m) for m in modes) + " |", "|---" * (len(modes) + 1) + "|"]
    for label, key in ROWS:
        vals = [report["results"][m][key] for m in modes]
        fmt = (lambda v: f"{v:.1f}") if key in ("ms_per_question", "mean_quote_chars") else (lambda v: f"{v:.3f}")
        lines.append(f"| {label} | " + " | ".join(fmt(v) for v in vals) + " |")
    cvs = []
    for m in modes:
        for c in report["results"][m]["cv"]:
            cvs.append(f"{_LABEL.get(m, m)}: threshold {c['threshold']} chosen on {c['chosen_on']} → other fold "
                       f"abstains {c['abstain_out_of_corpus']:.3f}, refuses {c['refused_answerable']:.3f}")
    return "\n".join(lines) + "\n\nTwo-fold threshold check (≤ 5% refused on the choosing fold):\n" + "\n".join("- " + c for c in cvs)


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--limit", type=int, default=1000, help="answerable questions to sample (0 = all)")
    ap.add_argument("--ooc-limit", type=int, default=300, help="out-of-corpus questions per fold (0 = all)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--modes", default=",".join(MODES), help=f"of {', '.join(MODES)}, {READER_MODE} (hybrid + the reader, at its fitted threshold), "
                    f"{PASSAGE_MODE} (hybrid + the passage reader), {PAIR_MODE} (hybrid + both readers)")
    ap.add_argument("--threshold", type=float, default=DEFAULT_MIN_CONFIDENCE, help="not-found threshold to score")
    ap.add_argument("--linear", action="store_true", help="score sentences with the hand-set linear score, not the fitted trees")
    ap.add_argument("--backend", default="auto", help="embedding backend: auto (what citebot uses by default), onnx or torch")
    ap.add_argument("--rerank-model", default="", help="a cross-encoder to re-order the top passages (as CITEBOT_RERANK_MODEL)")
    ap.add_argument("--rerank-depth", type=int, default=10)
    ap.add_argument("--reader-max-len", type=int, default=0, help="cut the reader's pairs to this many word pieces (0: as trained)")
    ap.add_argument("--reader-sentences", type=int, default=0, help="sentences the reader reads (0: as its confidence was fitted)")
    ap.add_argument("--passage-folder", type=Path, help="the passage reader's files (default: the shipped ones)")
    ap.add_argument("--single-sentence", action="store_true", help="never quote the previous sentence with a leaning one (before issue 12)")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    for noisy in ("index.store", "sentence_transformers", "httpx", "bm25s"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    from index import make_embedder

    emb = make_embedder("sentence-transformers/all-MiniLM-L6-v2", args.backend)
    emb.warm_up()
    reranker = None
    if args.rerank_model:
        reranker = CrossEncoderReranker(args.rerank_model, depth=args.rerank_depth)
        reranker.warm_up()
    rep = run(args.data, emb, limit=args.limit, ooc_limit=args.ooc_limit, seed=args.seed,
              modes=[m for m in args.modes.split(",") if m], threshold=args.threshold, trees=not args.linear,
              reranker=reranker, standalone=not args.single_sentence, reader_max_len=args.reader_max_len,
              reader_sentences=args.reader_sentences, passage_folder=args.passage_folder)
    rep["backend"] = getattr(emb, "backend", "?")
    rep["reranker"] = args.rerank_model or None
    rep["sentence_scorer"] = "linear" if args.linear else "trees"
    rep["quotes"] = "single sentence" if args.single_sentence else "with the sentence a leaning one needs"
    print(f"\n{rep['data']}: {rep['articles']} articles, backend {rep['backend']}, {rep['questions']} answerable questions "
          f"(seed {rep['seed']}), {rep['out_of_corpus_questions']} out-of-corpus; threshold {rep['threshold']}\n")
    print(table(rep))
    print(json.dumps(rep))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
