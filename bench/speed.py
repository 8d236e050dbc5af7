"""Speed and scale: ingest throughput, answer latency, memory and start-up, from 1k to 1M passages.

    python bench/speed.py [--sizes 1k,10k,100k,1m] [--questions 200] [--plot bench/speed.png]

Everything is measured in this one run, on this machine:
  * embedding throughput, side by side on the same real passages (SQuAD part A, chunked as
    ingest chunks them): plain `SentenceTransformer.encode` with its defaults, the torch
    embedder, and the ONNX int8 embedder citebot uses by default;
  * retrieval quality of int8 vectors against torch fp32 vectors on the same SQuAD index
    (citation hit@5 of dense and hybrid search, answer hit of `Engine.ask`, and top-10 agreement);
  * end-to-end ingest (`Engine.ingest`: load, chunk, embed, write, BM25, publish) in passages/s;
  * per size, the headline: cold `Engine.ask` latency p50/p95 (first-time real questions, the
    sentence/token caches emptied before each) beside warm (the same question again), the cache
    hit rate and the model's share of each ask (bench/speed_levers.py compares ONNX settings);
  * per size: index build time, `Engine.ask` latency p50/p95 with caches as they come (in
    process), dense and lexical latency, recall@10 of the dense index against exact search,
    RSS of a fresh serving process and bytes per passage (disk and RSS);
  * cold start of `citebot ask` and of the bot until ready (`citebot run` without chat tokens
    starts the shell after warm-up: its banner is the "ready" moment).

Corpora: 1k = real SQuAD passages; 10k = those plus passages of articles recombined from real
SQuAD sentences of the odd-numbered articles (the timed questions come from the even-numbered ones), all embedded for real by the ingest being measured; 100k and 1M add synthetic
passages: texts recombined from real sentences, vectors synthesised around real passage
vectors (cosine ~0.8 to a real "parent"), so neighbourhoods look like real data. Each
serving measurement runs in a fresh process so its RSS is its own. Indexes go to bench/out/speed.
Prints a table and, last, one JSON line.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np  # noqa: E402

log = logging.getLogger("bench.speed")
DATA = ROOT.parent / "shared" / "eval" / "squad-v1.1-dev-part-a.json"
OUT = ROOT / "bench" / "out" / "speed"
SIZES = {"1k": 1_000, "10k": 10_000, "100k": 100_000, "1m": 1_000_000}


def pct(xs: list[float], p: float) -> float:
    """Percentile of a list (linear interpolation)."""
    return float(np.percentile(np.asarray(xs), p)) if xs else float("nan")


# --- corpus ------------------------------------------------------------------------------

def squad() -> tuple[list[tuple[str, str]], list[dict]]:
    """SQuAD articles as (title, text) and the questions with their gold answers."""
    d = json.loads(DATA.read_text())
    arts, qs = [], []
    for n, a in enumerate(d["data"]):
        title = a["title"].replace("_", " ")
        arts.append((title, "\n\n".join(p["context"] for p in a["paragraphs"])))
        for p in a["paragraphs"]:
            for q in p["qas"]:
                qs.append({"q": q["question"], "golds": sorted({x["text"] for x in q["answers"]}), "article": n})
    return arts, qs


def sentences_of(arts: list[tuple[str, str]]) -> list[str]:
    """Real sentences to recombine into more articles."""
    out = []
    for _t, text in arts:
        out += [s.strip() for s in re.split(r"(?<=[.!?])\s+", text) if len(s.split()) >= 5]
    return out


def recombined(sents: list[str], n_articles: int, seed: int, paras: int = 8) -> list[tuple[str, str]]:
    """Articles made of shuffled real sentences (plausible text, vocabulary and lengths)."""
    rng = random.Random(seed)
    arts = []
    for i in range(n_articles):
        body = "\n\n".join(" ".join(rng.sample(sents, 3)) for _ in range(paras))
        arts.append((f"Recombined report {seed}-{i}", body))
    return arts


def docs_of(arts: list[tuple[str, str]], prefix: str):
    """Engine Documents (markdown, title as heading) for articles."""
    from index import Document

    return [Document(name=f"{prefix}-{i:06d}.md", source=f"{prefix}/{i:06d}.md",
                     data=f"# {t}\n\n{x}\n".encode()) for i, (t, x) in enumerate(arts)]


class CachedEmbedder:
    """Serves vectors computed earlier in this run (so one index per backend costs one embedding pass)."""

    def __init__(self, base, cache: dict[str, np.ndarray]) -> None:
        self.base, self.cache, self.name, self.dim = base, cache, base.name, base.dim

    def encode(self, texts, *, batch_size: int = 32) -> np.ndarray:
        missing = [t for t in dict.fromkeys(texts) if t not in self.cache]
        if missing:
            self.cache.update(zip(missing, self.base.encode(missing)))
        return np.vstack([self.cache[t] for t in texts]) if texts else np.zeros((0, self.dim), np.float32)


# --- embedding throughput and quality ------------------------------------------------------

def embedding_throughput(passages: list[str], onnx, torch_emb) -> dict:
    """passages/s of plain SentenceTransformer.encode (defaults), torch embedder and ONNX int8, same texts."""
    from sentence_transformers import SentenceTransformer

    from index import resolve_model

    plain = SentenceTransformer(resolve_model(onnx.name), device="cpu")
    plain.encode(passages[:64])
    onnx.encode(passages[:64])
    t0 = time.perf_counter()
    ref = plain.encode(passages)  # defaults: batch 32, no normalisation flag (the model normalises)
    t_plain = time.perf_counter() - t0
    t0 = time.perf_counter()
    vo = onnx.encode(passages)
    t_onnx = time.perf_counter() - t0
    ref = ref / np.linalg.norm(ref, axis=1, keepdims=True)
    cos = (ref * vo).sum(1)
    return {
        "passages": len(passages),
        "plain_encode_per_s": len(passages) / t_plain,
        "onnx_int8_per_s": len(passages) / t_onnx,
        "speedup": t_plain / t_onnx,
        "cosine_mean": float(cos.mean()), "cosine_min": float(cos.min()),
        "_torch_vecs": ref.astype(np.float32), "_onnx_vecs": vo,
    }


def quality(arts, qs, passages, tvecs, ovecs, onnx, torch_emb, n_questions: int, seed: int) -> dict:
    """Hit rates of torch-built vs int8-built SQuAD indexes (and int8 queries on the torch index)."""
    from index import Engine, HybridSearcher

    rng = random.Random(seed)
    sample = rng.sample(qs, min(n_questions, len(qs)))
    out = {}
    indexes = {}
    for name, emb, vecs in (("torch", torch_emb, tvecs), ("int8", onnx, ovecs)):
        folder = OUT / f"quality-{name}"
        shutil.rmtree(folder, ignore_errors=True)
        cached = CachedEmbedder(emb, dict(zip(passages, vecs)))
        Engine(folder, cached).ingest(docs_of(arts, "squad"))
        indexes[name] = folder
    tops = {}
    for label, idx, qemb in (("torch", "torch", torch_emb), ("int8", "int8", onnx), ("int8 queries on torch index", "torch", onnx)):
        eng = Engine(indexes[idx], qemb)
        reader = eng.reader
        dense5 = hyb5 = ans = 0
        tops[label] = []
        for q in sample:
            golds = [g.lower() for g in q["golds"]]
            qv = qemb.encode([q["q"]])[0]
            d = reader.dense_search(qv, 10)
            tops[label].append([pid for pid, _ in d])
            dh = reader.hits([(pid, s, s, 0.0) for pid, s in d[:5]])
            dense5 += any(g in h.text.lower() for h in dh for g in golds)
            hs = HybridSearcher(reader, qemb)
            hh = hs.search(hs.query(q["q"], vector=qv), k=5)
            hyb5 += any(g in h.text.lower() for h in hh for g in golds)
            a = eng.ask(q["q"])
            ans += bool(a.found and a.answer and any(g in a.answer.lower() for g in golds))
        n = len(sample)
        out[label] = {"dense_hit@5": dense5 / n, "hybrid_hit@5": hyb5 / n, "answer_hit": ans / n}
    agree = [len(set(a) & set(b)) / 10 for a, b in zip(tops["torch"], tops["int8"])]
    out["top10_agreement_int8_vs_torch"] = float(np.mean(agree))
    out["questions"] = len(sample)
    return out


# --- building the indexes of each size -----------------------------------------------------

def build_real(folder: Path, arts, emb) -> dict:
    """Ingest articles through Engine.ingest with the given embedder; returns passages and seconds."""
    from index import Engine

    shutil.rmtree(folder, ignore_errors=True)
    t0 = time.perf_counter()
    rep = Engine(folder, emb).ingest(docs_of(arts, folder.name), batch_articles=64)
    return {"passages": rep.passages, "build_s": time.perf_counter() - t0}


def build_synthetic(folder: Path, base: Path, target: int, sents: list[str], seed: int) -> dict:
    """Copy a real index's articles and add synthetic passages (recombined texts, vectors near real ones)."""
    from index import Article, IndexReader, IndexWriter, Passage

    shutil.rmtree(folder, ignore_errors=True)
    shutil.copytree(base, folder)
    r = IndexReader(folder)
    parents = np.asarray(r._rows.vectors[r._live_rows], dtype=np.float32)
    dim, have = parents.shape[1], r.size
    model = r.info["model"]
    r.close()
    rng = np.random.default_rng(seed)
    prng = random.Random(seed)
    per = 20
    n_new = target - have
    t0 = time.perf_counter()
    with IndexWriter(folder, model=model, dim=dim) as w:
        for a in range((n_new + per - 1) // per):
            k = min(per, n_new - a * per)
            parts, ps, pos = [], [], 0
            for _ in range(k):
                ss = prng.sample(sents, 3)
                text = " ".join(ss)
                sent_spans, off = [], pos
                for s in ss:
                    sent_spans.append((off, off + len(s)))
                    off += len(s) + 1
                ps.append(Passage(start=pos, end=pos + len(text), text=text, sentences=tuple(sent_spans)))
                parts.append(text)
                pos += len(text) + 2
            v = parents[rng.integers(0, len(parents), k)] + 0.75 * rng.standard_normal((k, dim)).astype(np.float32) / np.sqrt(dim)
            v /= np.linalg.norm(v, axis=1, keepdims=True)
            art = Article(source=f"synthetic/{a:07d}", title=f"Synthetic report {a}", text="\n\n".join(parts))
            w.add(art, f"s{a}", ps, v)
        t_add = time.perf_counter() - t0
        w.commit()
    return {"passages": target, "build_s": time.perf_counter() - t0, "add_s": t_add}


def disk_bytes(folder: Path) -> int:
    """Bytes of the live generation."""
    gen = folder / (folder / "CURRENT").read_text().strip()
    return sum(f.stat().st_size for f in gen.rglob("*") if f.is_file())


# --- serving (runs in a fresh process per size) ---------------------------------------------

def bm25_full_sort(lex, query: str, k: int) -> list[tuple[int, float]]:
    """The earlier BM25 search, for comparison: bm25s' `retrieve`, which sorts every document's score.

    `LexicalIndex.search` now scores with bm25s and partially sorts only the matching documents.
    """
    from index import tokenize

    bm25 = lex._bm25
    vocab = getattr(bm25, "vocab_dict", None) or {} if bm25 is not None else {}
    toks = [t for t in tokenize(query) if t in vocab]
    if not toks:
        return []
    docs, scores = bm25.retrieve([toks], k=min(k, len(lex.ids)), show_progress=False, n_threads=1)
    return [(int(lex.ids[int(d)]), float(sc)) for d, sc in zip(docs[0], scores[0]) if sc > 0]


def serve(folder: Path, qfile: Path, warm: int) -> dict:
    """Fresh-process figures for one index: RSS, ask/dense/lexical latency, recall@10 vs exact."""
    import psutil

    from index import Engine, make_embedder

    proc = psutil.Process()
    questions = json.loads(qfile.read_text())
    emb = make_embedder("sentence-transformers/all-MiniLM-L6-v2", "auto")
    emb.warm_up()
    emb.encode(["warm up"])
    rss_model = proc.memory_info().rss
    eng = Engine(folder, emb)
    t0 = time.perf_counter()
    reader = eng.reader
    open_s = time.perf_counter() - t0
    for q in questions[:warm]:
        eng.ask(q)
    # Cold (the headline): the timed questions are real SQuAD questions asked after the warm-up
    # ones; the sentence/token caches are emptied before each, so every candidate sentence meets
    # the model as if this process had never seen it (a team's corpus has no recombined repeats).
    # Then the same question again, fully warm.
    meter = ModelMeter(emb)
    cold, warm_again, model_share = [], [], []
    for q in questions[warm:]:
        meter.clear_caches()
        meter.start()
        t0 = time.perf_counter()
        eng.ask(q)
        dt = (time.perf_counter() - t0) * 1000
        cold.append(dt)
        model_share.append(meter.stop() / dt)
        t0 = time.perf_counter()
        eng.ask(q)
        warm_again.append((time.perf_counter() - t0) * 1000)
    cold_hits, cold_lookups = meter.hits, meter.lookups
    cold_model = meter.model_ms[:]
    cold_runs = meter.runs[:]
    cold_texts = meter.texts[:]
    meter.unwrap()
    meter.clear_caches()  # the figures below start, as before, from caches filled only as they come
    from index import HybridSearcher

    ask, dense, lex, qvecs, qemb, retrieve, compose, nocache = [], [], [], [], [], [], [], []
    lex_new, same = [], []
    # The timed ask in parts: each question's first ask is the one that meets cold pages (SQLite
    # rows, float16 vectors) of passages no earlier question touched; the parts below repeat it warm.
    parts = {name: [] for name in ("dense", "lexical", "vectors", "hits", "compose")}
    timers = _PartTimers(parts)
    timers.wrap(reader, ("dense_search", "dense"), ("lexical_search", "lexical"), ("vectors", "vectors"), ("hits", "hits"))
    timers.wrap(eng.composer, ("compose", "compose"))
    for q in questions:
        timers.start()
        t0 = time.perf_counter()
        eng.ask(q)
        ask.append((time.perf_counter() - t0) * 1000)
        timers.stop()
        # The same path in parts, without the embedder's sentence cache: question embedding, hybrid retrieval (+ hits), answer composition.
        getattr(emb, "_cache", {}).clear()
        getattr(emb, "_tok_cache", {}).clear()
        t0 = time.perf_counter()
        qv = emb.encode([q])[0]
        t1 = time.perf_counter()
        hs = HybridSearcher(reader, emb)
        query = hs.query(q, vector=qv)
        hits = hs.search(query, k=10)
        t2 = time.perf_counter()
        eng.composer.compose(query, hits)
        t3 = time.perf_counter()
        nocache.append((t3 - t0) * 1000)
        qemb.append((t1 - t0) * 1000)
        retrieve.append((t2 - t1) * 1000)
        compose.append((t3 - t2) * 1000)
        qvecs.append(qv)
        t0 = time.perf_counter()
        reader.dense_search(qv, 50)
        dense.append((time.perf_counter() - t0) * 1000)
        t0 = time.perf_counter()
        cur = reader.lexical_search(q, 50)
        lex.append((time.perf_counter() - t0) * 1000)
        t0 = time.perf_counter()
        new = bm25_full_sort(reader.lexical, q, 50)
        lex_new.append((time.perf_counter() - t0) * 1000)
        same.append(len({p for p, _ in cur} & {p for p, _ in new}) / max(1, len(cur)))
    timers.unwrap()
    rss = proc.memory_info().rss
    # Recall@10 of the dense index against an exact scan of the stored vectors.
    Q = np.vstack(qvecs)
    vec, ids = reader._rows.vectors, reader._rows.ids
    live = ids >= 0
    best = np.full((len(Q), 10), -np.inf, np.float32)
    best_ids = np.zeros((len(Q), 10), np.int64)
    step = 1 << 17
    for s in range(0, len(ids), step):
        sc = Q @ np.asarray(vec[s:s + step], dtype=np.float32).T
        sc[:, ~live[s:s + step]] = -np.inf
        both = np.concatenate([best, sc], axis=1)
        both_ids = np.concatenate([best_ids, np.broadcast_to(ids[s:s + step], sc.shape)], axis=1)
        top = np.argsort(-both, axis=1)[:, :10]
        best, best_ids = np.take_along_axis(both, top, 1), np.take_along_axis(both_ids, top, 1)
    rec = [len({p for p, _ in reader.dense_search(q, 10)} & set(t.tolist())) / 10 for q, t in zip(Q, best_ids)]
    return {
        "passages": reader.size, "kind": reader.kind, "backend": getattr(emb, "backend", "torch"),
        "open_s": open_s, "ask_p50_ms": pct(ask, 50), "ask_p95_ms": pct(ask, 95),
        "dense_p50_ms": pct(dense, 50), "dense_p95_ms": pct(dense, 95),
        "lexical_p50_ms": pct(lex, 50), "lexical_p95_ms": pct(lex, 95),
        "lexical_full_sort_p50_ms": pct(lex_new, 50), "lexical_full_sort_p95_ms": pct(lex_new, 95),
        "lexical_full_sort_same_top50": float(np.mean(same)),
        "query_embed_p50_ms": pct(qemb, 50), "retrieve_p50_ms": pct(retrieve, 50), "retrieve_p95_ms": pct(retrieve, 95),
        "compose_p50_ms": pct(compose, 50), "nocache_p50_ms": pct(nocache, 50), "nocache_p95_ms": pct(nocache, 95),
        "recall@10": float(np.mean(rec)), "rss_mb": rss / 2**20, "rss_index_mb": (rss - rss_model) / 2**20,
        "questions": len(questions),
        "query_embed_p95_ms": pct(qemb, 95), "compose_p95_ms": pct(compose, 95),
        # Inside the timed ask (first ask of each question): ms per part; "other" is the rest
        # (question embedding, fusion, building the hits), summed per question.
        # Cold headline (caches cleared before each question) and the same question asked again.
        "cold_questions": len(cold), "cold_ask_p50_ms": pct(cold, 50), "cold_ask_p95_ms": pct(cold, 95),
        "warm_ask_p50_ms": pct(warm_again, 50), "warm_ask_p95_ms": pct(warm_again, 95),
        # Share of text lookups served by the sentence/token caches during the cold asks (the
        # question's token vectors, computed for retrieval and reused by the composer, are the hits).
        "cold_cache_hit_rate": cold_hits / max(1, cold_lookups),
        "cold_model_ms_p50": pct(cold_model, 50), "cold_model_runs_mean": float(np.mean(cold_runs)) if cold_runs else 0.0,
        # Texts through the model per cold ask (question + distinct candidate sentences): the
        # recombined filler repeats real sentences, so at 100k/1M a few candidates share a text.
        "cold_model_texts_mean": float(np.mean(cold_texts)) if cold_texts else 0.0,
        "cold_model_share_p50": pct(model_share, 50), "cold_model_share_mean": float(np.mean(model_share)) if model_share else 0.0,
        "ask_parts": {name: {"p50_ms": pct(xs, 50), "p95_ms": pct(xs, 95)} for name, xs in
                      {**parts, "retrieval": timers.retrieval(), "other": timers.other(ask)}.items()},
    }


class ModelMeter:
    """Counts an OnnxEmbedder's model runs (time, calls) and its caches' hits, per question."""

    def __init__(self, emb) -> None:
        self.emb = emb
        self.hits = self.lookups = 0
        self.model_ms: list[float] = []
        self.runs: list[int] = []
        self._ms = 0.0
        self._n = 0
        self.texts: list[int] = []
        self._t = 0
        self._on = False
        self._wrapped: list[tuple[object, str]] = []
        emb.warm_up()
        for name in ("_session", "_query_session"):
            session = getattr(emb, name, None)
            if session is not None:
                self._wrap(session, "run", self._timed)
        for name in ("_cache", "_tok_cache"):
            lru = getattr(emb, name, None)
            if lru is not None:
                self._wrap(lru, "get_many", self._counted(lru))

    def _wrap(self, obj: object, method: str, make) -> None:
        setattr(obj, method, make(getattr(obj, method)))
        self._wrapped.append((obj, method))

    def _timed(self, fn):
        def run(*a, **kw):
            t0 = time.perf_counter()
            try:
                return fn(*a, **kw)
            finally:
                if self._on:
                    self._ms += (time.perf_counter() - t0) * 1000
                    self._n += 1
                    self._t += len(a[1]["input_ids"]) if len(a) > 1 else 0
        return run

    def _counted(self, lru):
        def make(fn):
            def get_many(texts, compute):
                if self._on:
                    distinct = list(dict.fromkeys(texts))
                    self.lookups += len(distinct)
                    self.hits += sum(t in lru for t in distinct)
                return fn(texts, compute)
            return get_many
        return make

    def clear_caches(self) -> None:
        """Empty the sentence and token caches (the next ask meets every sentence for the first time)."""
        for name in ("_cache", "_tok_cache"):
            lru = getattr(self.emb, name, None)
            if lru is not None:
                lru.clear()

    def start(self) -> None:
        """Begin one question."""
        self._ms, self._n, self._t, self._on = 0.0, 0, 0, True

    def stop(self) -> float:
        """End one question; returns its ms in the model."""
        self.model_ms.append(self._ms)
        self.runs.append(self._n)
        self.texts.append(self._t)
        self._on = False
        return self._ms

    def unwrap(self) -> None:
        """Put the original methods back."""
        for obj, method in self._wrapped:
            try:
                delattr(obj, method)
            except AttributeError:
                pass
        self._wrapped = []


class _PartTimers:
    """Times some methods of live objects during the timed asks (per question, summed per part)."""

    def __init__(self, parts: dict[str, list[float]]) -> None:
        self.parts = parts
        self._now: dict[str, float] | None = None
        self._wrapped: list[tuple[object, str]] = []
        self._per_q: list[dict[str, float]] = []

    def wrap(self, obj: object, *names: tuple[str, str]) -> None:
        """Replace obj.method with a timed one that adds to part `label` (as an instance attribute)."""
        for method, label in names:
            fn = getattr(obj, method)

            def timed(*a, _fn=fn, _label=label, **kw):
                t0 = time.perf_counter()
                try:
                    return _fn(*a, **kw)
                finally:
                    if self._now is not None:
                        self._now[_label] = self._now.get(_label, 0.0) + (time.perf_counter() - t0) * 1000

            setattr(obj, method, timed)
            self._wrapped.append((obj, method))

    def unwrap(self) -> None:
        """Put the original methods back."""
        for obj, method in self._wrapped:
            delattr(obj, method)
        self._wrapped = []

    def start(self) -> None:
        """Begin timing one question."""
        self._now = {}

    def stop(self) -> None:
        """End timing one question; parts it did not call count 0 ms."""
        assert self._now is not None
        for label, xs in self.parts.items():
            xs.append(self._now.get(label, 0.0))
        self._per_q.append(self._now)
        self._now = None

    def retrieval(self) -> list[float]:
        """Dense + BM25 + stored vectors + SQLite hits, per question."""
        return [sum(d.get(x, 0.0) for x in ("dense", "lexical", "vectors", "hits")) for d in self._per_q]

    def other(self, ask: list[float]) -> list[float]:
        """Ask time outside the timed parts, per question."""
        return [a - sum(d.values()) for a, d in zip(ask, self._per_q)]


def run_serve(folder: Path, qfile: Path, warm: int) -> dict:
    """`serve` in a fresh Python process (so RSS is the serving process's own)."""
    p = subprocess.run([sys.executable, __file__, "--serve", str(folder), "--qfile", str(qfile), "--warm", str(warm)],
                       capture_output=True, text=True, cwd=ROOT)
    if p.returncode != 0:
        raise RuntimeError(p.stderr[-3000:])
    return json.loads(p.stdout.strip().splitlines()[-1])


# --- cold start --------------------------------------------------------------------------------

def cold_starts(folder: Path, question: str, runs: int = 3) -> dict:
    """Wall time of `citebot ask` and of `citebot run` (shell) until its banner, median of runs."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CITEBOT_", "DISCORD_", "SLACK_"))}
    env["CITEBOT_INDEX_DIR"] = str(folder)
    cli = [sys.executable, "-m", "bot.cli"]
    out: dict[str, float] = {}
    for backend in ("auto", "torch"):
        env["CITEBOT_EMBEDDING_BACKEND"] = backend
        ask, ready = [], []
        for _ in range(runs):
            t0 = time.perf_counter()
            subprocess.run(cli + ["ask", question], env=env, cwd="/tmp", capture_output=True, check=True)
            ask.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            p = subprocess.Popen(cli + ["run"], env=env, cwd="/tmp", stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                 stderr=subprocess.DEVNULL, text=True)
            assert p.stdout is not None and p.stdin is not None
            line = p.stdout.readline()
            ready.append(time.perf_counter() - t0)
            assert line.startswith("citebot"), line
            p.stdin.close()
            p.wait(30)
        out[f"ask_{backend}_s"] = statistics.median(ask)
        out[f"bot_ready_{backend}_s"] = statistics.median(ready)
    return out


# --- report ------------------------------------------------------------------------------------

def plot(rows: list[dict], path: Path) -> None:
    """Latency and memory against passages (log scale)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = [r["passages"] for r in rows]
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4.2))
    if all("cold_ask_p50_ms" in r for r in rows):
        a.plot(n, [r["cold_ask_p50_ms"] for r in rows], "o-", color="black", label="answer p50, cold (headline)")
        a.plot(n, [r["cold_ask_p95_ms"] for r in rows], "o--", color="black", label="answer p95, cold")
    a.plot(n, [r["ask_p50_ms"] for r in rows], "o-", label="answer p50")
    a.plot(n, [r["ask_p95_ms"] for r in rows], "o--", label="answer p95")
    a.plot(n, [r["nocache_p50_ms"] for r in rows], "x-", label="answer p50, sentence cache off")
    a.plot(n, [r["retrieve_p50_ms"] for r in rows], "d-", label="retrieval p50 (dense+BM25+hits)")
    a.plot(n, [r["dense_p50_ms"] for r in rows], "s:", label="dense search p50")
    a.plot(n, [r["lexical_p50_ms"] for r in rows], "^:", label="BM25 search p50 (bm25s retrieve)")
    if all("lexical_full_sort_p50_ms" in r for r in rows):
        a.plot(n, [r["lexical_full_sort_p50_ms"] for r in rows], "v:", label="BM25 p50, partial sort (proposed)")
    a.axhline(15, color="grey", lw=0.6)
    a.axhline(30, color="grey", lw=0.6, ls="--")
    a.set(xscale="log", yscale="log", xlabel="passages", ylabel="ms", title="Latency (question → Answer)")
    a.legend(fontsize=8)
    b.plot(n, [r["rss_mb"] for r in rows], "o-", label="RSS of the serving process")
    b.plot(n, [r["disk_mb"] for r in rows], "s--", label="index on disk")
    b.axhline(3072, color="grey", lw=0.6)
    b.set(xscale="log", yscale="log", xlabel="passages", ylabel="MB", title="Memory and disk")
    b.legend(fontsize=8)
    fig.suptitle(f"citebot on {os.cpu_count()} cores, {time.strftime('%Y-%m-%d')}", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="1k,10k,100k,1m", help="comma-separated subset of 1k,10k,100k,1m")
    ap.add_argument("--questions", type=int, default=200, help="questions timed per size")
    ap.add_argument("--quality-questions", type=int, default=400, help="questions for the int8 vs torch check (0 skips)")
    ap.add_argument("--plot", type=Path, default=ROOT / "bench" / "speed.png")
    ap.add_argument("--embed-limit", type=int, default=0, help="passages for the side-by-side embedding (0 = all)")
    ap.add_argument("--reuse", action="store_true", help="serve the indexes of the previous run (no build; 1k is built if missing)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--serve", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--qfile", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--warm", type=int, default=20, help=argparse.SUPPRESS)
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s: %(message)s")
    if args.serve:
        print(json.dumps(serve(args.serve, args.qfile, args.warm)))
        return 0
    log.setLevel(logging.INFO)
    sizes = [s.strip().lower() for s in args.sizes.split(",") if s.strip()]
    unknown = [s for s in sizes if s not in SIZES]
    if unknown:
        ap.error(f"unknown sizes {unknown}; choose from {', '.join(SIZES)}")
    OUT.mkdir(parents=True, exist_ok=True)
    t_start = time.perf_counter()

    from index import OnnxEmbedder, SentenceTransformerEmbedder, make_embedder
    from index import chunk_article as chunk

    arts, qs = squad()
    passages = list(dict.fromkeys(p.text for t, x in arts for p in chunk(x, title=t)))
    onnx = make_embedder("sentence-transformers/all-MiniLM-L6-v2", "auto")
    assert isinstance(onnx, OnnxEmbedder)
    onnx.warm_up()
    torch_emb = SentenceTransformerEmbedder()
    torch_emb.warm_up()
    log.info("embedding %d real passages with each backend", len(passages))
    emb = embedding_throughput(passages[: args.embed_limit or None], onnx, torch_emb)
    tvecs, ovecs = emb.pop("_torch_vecs"), emb.pop("_onnx_vecs")
    qual = {}
    if args.quality_questions:
        log.info("quality: int8 vs torch on SQuAD (%d questions)", args.quality_questions)
        qual = quality(arts, qs, passages, tvecs, ovecs, onnx, torch_emb, args.quality_questions, args.seed)
    qfile = OUT / "questions.json"
    rng = random.Random(args.seed + 1)
    # Timed questions come from the even-numbered articles; the recombined filler (10k and up) is
    # made only of the odd-numbered articles' sentences, so a timed question's candidate sentences
    # are real sentences that occur once, as in a team's corpus (no repeats for the cache to serve).
    timed = [q for q in qs if q["article"] % 2 == 0]
    qfile.write_text(json.dumps([q["q"] for q in rng.sample(timed, args.questions + 20)]))

    cache = dict(zip(passages, ovecs))  # SQuAD passages were just embedded: not twice
    rows, built = [], {}
    sents = sentences_of(arts[1::2])
    need_10k = any(SIZES[s] >= 10_000 for s in sizes) and not args.reuse
    ingest = {}
    if args.reuse:
        built = {s: {"build_s": None} for s in sizes}
    if "1k" in sizes and (not args.reuse or not (OUT / "idx-1k").exists()):
        # (Cheap, ~1k passages from cached vectors: built even with --reuse when missing.)
        # Real SQuAD articles, whole, until ~1k passages.
        n, part = 0, []
        for t, x in arts:
            part.append((t, x))
            n += len(chunk(x, title=t))
            if n >= 1000:
                break
        built["1k"] = build_real(OUT / "idx-1k", part, CachedEmbedder(onnx, cache))
    if need_10k:
        # Ingest measured end to end: SQuAD (cached vectors) first, then new recombined articles embedded now.
        shutil.rmtree(OUT / "idx-10k", ignore_errors=True)
        build_real(OUT / "idx-10k", arts, CachedEmbedder(onnx, cache))
        per_article = np.mean([len(chunk(x, title=t)) for t, x in recombined(sents, 20, seed=99)])
        extra = recombined(sents, int(np.ceil((10_000 - len(passages)) / per_article)), seed=args.seed)
        from index import Engine

        t0 = time.perf_counter()
        rep = Engine(OUT / "idx-10k", onnx).ingest(docs_of(extra, "recombined"))
        dt = time.perf_counter() - t0
        ingest = {"passages": rep.passages, "seconds": dt, "passages_per_s": rep.passages / dt}
        r = __import__("index", fromlist=["IndexReader"]).IndexReader(OUT / "idx-10k")
        built["10k"] = {"passages": r.size, "build_s": None}
        log.info("ingest: %d passages in %.1f s (%.0f/s)", rep.passages, dt, rep.passages / dt)
    for s in ("100k", "1m"):
        if s in sizes and not args.reuse:
            log.info("building %s (synthetic vectors around real ones)", s)
            built[s] = build_synthetic(OUT / f"idx-{s}", OUT / "idx-10k", SIZES[s], sents, seed=args.seed + SIZES[s])
            log.info("built %s in %.0f s", s, built[s]["build_s"])
    for s in sizes:
        folder = OUT / f"idx-{s}"
        log.info("serving %s", s)
        res = run_serve(folder, qfile, args.warm)
        res.update(size=s, build_s=built[s]["build_s"], disk_mb=disk_bytes(folder) / 2**20,
                   disk_bytes_per_passage=disk_bytes(folder) / res["passages"],
                   rss_bytes_per_passage=res["rss_index_mb"] * 2**20 / res["passages"])
        rows.append(res)
    cold = cold_starts(OUT / ("idx-10k" if (OUT / "idx-10k").exists() else f"idx-{sizes[0]}"), qs[0]["q"])

    print(f"\ncitebot speed, {time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} cores, `python bench/speed.py --sizes {args.sizes}`")
    print(f"\nembedding {emb['passages']} real passages: plain SentenceTransformer.encode {emb['plain_encode_per_s']:.0f}/s, "
          f"ONNX int8 {emb['onnx_int8_per_s']:.0f}/s ({emb['speedup']:.2f}x), cosine to fp32 mean {emb['cosine_mean']:.4f} "
          f"min {emb['cosine_min']:.4f}")
    if ingest:
        print(f"ingest end to end (Engine.ingest, ONNX int8): {ingest['passages']} passages in {ingest['seconds']:.1f} s = "
              f"{ingest['passages_per_s']:.0f} passages/s")
    if qual:
        print(f"\nquality on SQuAD part A, {qual['questions']} questions (top-10 agreement int8 vs torch "
              f"{qual['top10_agreement_int8_vs_torch']:.3f}):")
        print(f"{'vectors':32} {'dense hit@5':>12} {'hybrid hit@5':>13} {'answer hit':>11}")
        for k, v in qual.items():
            if isinstance(v, dict):
                print(f"{k:32} {v['dense_hit@5']:12.3f} {v['hybrid_hit@5']:13.3f} {v['answer_hit']:11.3f}")
    print(f"\n{'passages':>9} {'index':>8} {'build s':>8} {'ask p50':>8} {'ask p95':>8} {'q-emb':>6} {'retr p50':>8} {'retr p95':>8} "
          f"{'compose':>7} {'no-cache p50/p95':>16} {'dense p50':>9} {'bm25 p50':>9} "
          f"{'bm25 p95':>9} {'bm25* p50/p95':>13} {'recall@10':>9} {'RSS MB':>7} {'B/pass RSS':>10} {'B/pass disk':>11}")
    for r in rows:
        b = f"{r['build_s']:.0f}" if r["build_s"] is not None else "-"
        print(f"{r['passages']:>9} {r['kind']:>8} {b:>8} {r['ask_p50_ms']:8.1f} {r['ask_p95_ms']:8.1f} {r['query_embed_p50_ms']:6.1f} "
              f"{r['retrieve_p50_ms']:8.1f} {r['retrieve_p95_ms']:8.1f} {r['compose_p50_ms']:7.1f} "
              f"{r['nocache_p50_ms']:8.1f}/{r['nocache_p95_ms']:<7.1f} {r['dense_p50_ms']:9.2f} "
              f"{r['lexical_p50_ms']:9.2f} {r['lexical_p95_ms']:9.2f} "
              f"{r['lexical_full_sort_p50_ms']:6.2f}/{r['lexical_full_sort_p95_ms']:<6.2f} {r['recall@10']:9.3f} {r['rss_mb']:7.0f} "
              f"{r['rss_bytes_per_passage']:10.0f} {r['disk_bytes_per_passage']:11.0f}")
    print("\nheadline, cold: sentence/token caches cleared before each question (first-time real questions), "
          "then the same question again (warm):")
    print(f"{'passages':>9} {'cold p50':>9} {'cold p95':>9} {'warm p50':>9} {'warm p95':>9} {'model ms p50':>12} "
          f"{'model share':>11} {'runs/q':>6} {'texts/q':>7} {'cache hits':>10}")
    for r in rows:
        if "cold_ask_p50_ms" in r:
            print(f"{r['passages']:>9} {r['cold_ask_p50_ms']:9.1f} {r['cold_ask_p95_ms']:9.1f} {r['warm_ask_p50_ms']:9.1f} "
                  f"{r['warm_ask_p95_ms']:9.1f} {r['cold_model_ms_p50']:12.1f} {r['cold_model_share_p50']:11.2f} "
                  f"{r['cold_model_runs_mean']:6.2f} {r['cold_model_texts_mean']:7.2f} {r['cold_cache_hit_rate']:10.2f}")
    print("inside the timed ask (first ask of each question), p50/p95 ms:")
    for r in rows:
        if "ask_parts" in r:
            print(f"{r['passages']:>9} " + ", ".join(f"{name} {v['p50_ms']:.2f}/{v['p95_ms']:.2f}" for name, v in r["ask_parts"].items())
                  + f"; warm repeat: query embed {r['query_embed_p50_ms']:.2f}/{r['query_embed_p95_ms']:.2f}, "
                  f"compose {r['compose_p50_ms']:.2f}/{r['compose_p95_ms']:.2f}")
    print("bm25*: the earlier search, bm25s.retrieve with a full sort (bm25_full_sort), same top-50 as the current one: "
          + ", ".join(f"{r['lexical_full_sort_same_top50']:.3f}" for r in rows))
    print(f"\ncold start (median of 3): citebot ask {cold['ask_auto_s']:.2f} s (torch backend {cold['ask_torch_s']:.2f} s); "
          f"bot ready {cold['bot_ready_auto_s']:.2f} s (torch {cold['bot_ready_torch_s']:.2f} s)")
    if args.plot and rows:
        try:
            plot(rows, args.plot)
            print(f"plot: {args.plot}")
        except ImportError:  # matplotlib is optional: the tables and the JSON line still come out
            print("plot skipped: matplotlib is not installed")
    total = time.perf_counter() - t_start
    print(f"total {total:.0f} s")
    print(json.dumps({"date": time.strftime("%Y-%m-%d"), "cores": os.cpu_count(), "embedding": emb, "ingest": ingest,
                      "quality": qual, "sizes": rows, "cold_start": cold, "seconds": round(total, 1)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
