"""Ingest throughput and warm per-question latency on a folder of articles or a SQuAD file.

    python bench/corpus.py ../shared/corpus "who founded 01.AI?" "What did OpenAI unveil last week?"
    python bench/corpus.py ../shared/eval/squad-v1.1-dev-part-a.json --questions 200

Prints a short table and one JSON line. A SQuAD file is ingested one article per title
(paragraphs joined by blank lines) and its own questions are asked.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from index import Document, Engine, make_embedder  # noqa: E402


def squad(path: Path) -> tuple[list[Document], list[str]]:
    """SQuAD v1.1 JSON → one document per article, and all its questions."""
    data = json.loads(path.read_text())["data"]
    docs, questions = [], []
    for art in data:
        title = art["title"].replace("_", " ")
        text = "\n\n".join(p["context"] for p in art["paragraphs"])
        docs.append(Document(name=f"{title}.txt", source=title, data=f"{title}\n\n{text}".encode()))
        questions += [qa["question"] for p in art["paragraphs"] for qa in p["qas"]]
    return docs, questions


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("corpus", type=Path)
    ap.add_argument("question", nargs="*")
    ap.add_argument("--questions", type=int, default=200, help="SQuAD questions to time (sampled, seed 0)")
    ap.add_argument("--backend", default="auto")
    args = ap.parse_args()

    embedder = make_embedder("sentence-transformers/all-MiniLM-L6-v2", args.backend)
    embedder.encode(["warm up"])  # model load and ONNX export are start-up, not ingest
    with tempfile.TemporaryDirectory() as tmp:
        engine = Engine(Path(tmp), embedder)
        if args.corpus.suffix == ".json":
            docs, questions = squad(args.corpus)
            questions = random.Random(0).sample(questions, min(args.questions, len(questions)))
            report = engine.ingest(docs)
        else:
            report = engine.ingest_paths([args.corpus])
            questions = args.question or ["who founded 01.AI?"]
        for q in ("what is this about?", "who is mentioned here?", "when did it happen?"):
            engine.ask(q)  # open the index and warm the runtime, without caching the timed questions
        times = []
        for q in questions:
            t = time.perf_counter()
            engine.ask(q)
            times.append((time.perf_counter() - t) * 1000)
    times.sort()
    out = {
        "corpus": str(args.corpus), "backend": type(embedder).__name__, "articles": len(report.added),
        "passages": report.passages, "ingest_s": round(report.seconds, 2),
        "passages_per_s": round(report.passages / report.seconds, 1) if report.seconds else None,
        "questions": len(times), "ask_p50_ms": round(statistics.median(times), 1),
        "ask_p95_ms": round(times[min(len(times) - 1, int(0.95 * len(times)))], 1),
    }
    print(f"{out['articles']} articles, {out['passages']} passages ingested in {out['ingest_s']} s "
          f"({out['passages_per_s']} passages/s, {out['backend']}); "
          f"{out['questions']} warm questions: p50 {out['ask_p50_ms']} ms, p95 {out['ask_p95_ms']} ms")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
