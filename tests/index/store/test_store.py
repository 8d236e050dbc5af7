"""The index on disk: exact and IVF dense search, collection filters, removals, reload across processes."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from index.store import IndexReader, IndexWriter
from index.types import Article, Passage
from tests.conftest import ROOT

DIM = 32
MODEL = "fake-model"


def clustered(n: int, seed: int, centers: int = 64) -> np.ndarray:
    """Unit vectors in clusters, like real embeddings (uniform random vectors have no neighbours)."""
    rng = np.random.default_rng(seed)
    c = rng.standard_normal((centers, DIM))
    v = c[rng.integers(0, centers, n)] + 0.6 * rng.standard_normal((n, DIM))
    return (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)


def article(i: int, collection: str = "global", n: int = 10) -> tuple[Article, list[Passage]]:
    """An article of n one-sentence passages, each with a unique word (so BM25 can find it)."""
    sents = [f"Passage {i} {j} mentions token{i}x{j} plainly." for j in range(n)]
    text = " ".join(sents)
    out, pos = [], 0
    for s in sents:
        out.append(Passage(start=pos, end=pos + len(s), text=s, sentences=((pos, pos + len(s)),)))
        pos += len(s) + 1
    return Article(source=f"doc-{collection}-{i}", title=f"Doc {i}", text=text, collection=collection), out


def build(root: Path, vecs: np.ndarray, *, per: int = 10, exact_below: int = 50_000, collections=("a", "b")) -> None:
    """Index vecs as articles of `per` passages, alternating between collections."""
    with IndexWriter(root, model=MODEL, dim=DIM, exact_below=exact_below) as w:
        for i in range(len(vecs) // per):
            art, ps = article(i, collections[i % len(collections)], per)
            w.add(art, f"d{i}", ps, vecs[i * per:(i + 1) * per])
        w.commit()


def exact_top(vecs: np.ndarray, q: np.ndarray, k: int, allowed: np.ndarray | None = None) -> list[int]:
    s = vecs @ q
    if allowed is not None:
        s = np.where(allowed, s, -np.inf)
    return [int(i) + 1 for i in np.argsort(-s)[:k]]  # passage ids are rows + 1 in a fresh index


@pytest.fixture(scope="module")
def data() -> np.ndarray:
    return clustered(3000, seed=1)


@pytest.fixture(scope="module", params=["flat", "ivf-sq8"])
def index(request, data: np.ndarray, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same 3,000 passages indexed exactly and with IVF (threshold lowered via the constructor)."""
    root = tmp_path_factory.mktemp(request.param)
    build(root, data, exact_below=50_000 if request.param == "flat" else 1_000)
    return root


def recall(got: list[list[int]], want: list[list[int]]) -> float:
    return float(np.mean([len(set(g) & set(w)) / len(w) for g, w in zip(got, want)]))


def test_index_kind_follows_size(index: Path) -> None:
    r = IndexReader(index)
    assert r.size == 3000
    assert index.name.startswith(r.kind)


def test_dense_search_matches_exact_search(index: Path, data: np.ndarray) -> None:
    r = IndexReader(index)
    queries = clustered(50, seed=2)
    got = [[pid for pid, _ in r.dense_search(q, 10)] for q in queries]
    want = [exact_top(data, q, 10) for q in queries]
    assert recall(got, want) >= (0.99 if r.kind == "flat" else 0.9)  # float16 storage may swap near-ties
    # Scores are cosines (re-scored exactly on IVF), so they agree with the vectors.
    pid, score = r.dense_search(queries[0], 1)[0]
    assert score == pytest.approx(float(data[pid - 1] @ queries[0]), abs=2e-3)


@pytest.mark.parametrize("brute_below", [0, 100_000])
def test_collection_filter_on_every_index_kind(index: Path, data: np.ndarray, brute_below: int) -> None:
    r = IndexReader(index, brute_below=brute_below)
    in_b = np.repeat(np.arange(300) % 2 == 1, 10)  # articles alternate a, b
    for q in clustered(20, seed=3):
        hits = r.dense_search(q, 10, ["b"])
        assert len(hits) == 10
        assert all(in_b[pid - 1] for pid, _ in hits)
        assert {pid for pid, _ in hits} & set(exact_top(data, q, 10, in_b))
    assert r.dense_search(data[0], 10, ["nope"]) == []
    assert len(r.dense_search(data[0], 5, ["a", "b"])) == 5
    lex = r.lexical_search("token1x3", 5, ["a"])
    assert lex == []  # article 1 is in collection b
    assert [pid for pid, _ in r.lexical_search("token1x3", 5, ["b"])] == [14]


def test_vectors_returns_stored_vectors(index: Path, data: np.ndarray) -> None:
    r = IndexReader(index)
    v = r.vectors([5, 1])
    assert v.dtype == np.float32 and v.shape == (2, DIM)
    assert np.allclose(v, data[[4, 0]], atol=2e-3)


@pytest.mark.parametrize("exact_below", [50_000, 1_000])
def test_remove_and_replace(tmp_path: Path, data: np.ndarray, exact_below: int) -> None:
    build(tmp_path, data, exact_below=exact_below)
    first = IndexReader(tmp_path).generation
    with IndexWriter(tmp_path, model=MODEL, dim=DIM, exact_below=exact_below) as w:
        assert w.remove("doc-a-0") == 1
        art, ps = article(2, "a")  # replaced with new vectors: old ones must not come back
        w.add(art, "new", ps, -data[20:30])
        w.commit()
    r = IndexReader(tmp_path)
    assert r.generation != first and r.size == 2990
    found = {pid for q in data[:30] for pid, _ in r.dense_search(q, 10)}
    assert not found & (set(range(1, 11)) | set(range(21, 31)))
    assert set(range(11, 21)) <= found
    new_ids = [pid for pid, _ in r.dense_search(-data[25], 1)]
    assert new_ids == [3006]
    assert np.allclose(r.vectors(new_ids[:1]) @ -data[25], r.dense_search(-data[25], 1)[0][1], atol=2e-3)
    with pytest.raises(KeyError):
        r.vectors([1])


def test_ivf_removal_keeps_unchanged_files_hard_linked(tmp_path: Path, data: np.ndarray) -> None:
    build(tmp_path, data, exact_below=1_000)
    g1 = IndexReader(tmp_path).generation
    with IndexWriter(tmp_path, model=MODEL, dim=DIM, exact_below=1_000) as w:
        w.remove("doc-b-1")
        w.commit()
    r = IndexReader(tmp_path)
    assert r.kind == "ivf-sq8" and r.size == 2990
    assert os.stat(tmp_path / g1 / "vectors.npy").st_ino == os.stat(tmp_path / r.generation / "vectors.npy").st_ino
    assert not {pid for pid, _ in r.dense_search(data[15], 20)} & set(range(11, 21))
    # Removing most of the index compacts the rows and drops to an exact index below the threshold.
    with IndexWriter(tmp_path, model=MODEL, dim=DIM, exact_below=1_000) as w:
        for i in range(2, 250):
            w.remove(f"doc-{'ab'[i % 2]}-{i}")
        w.commit()
    r = IndexReader(tmp_path)
    assert r.size == 510 and r.kind == "flat"
    assert r.dense_search(data[2995], 1)[0][0] == 2996


def test_growing_past_the_threshold_switches_to_ivf(tmp_path: Path, data: np.ndarray) -> None:
    build(tmp_path, data[:800], exact_below=1_000)
    assert IndexReader(tmp_path).kind == "flat"
    with IndexWriter(tmp_path, model=MODEL, dim=DIM, exact_below=1_000) as w:
        for i in range(80, 300):
            art, ps = article(i, "ab"[i % 2])
            w.add(art, "d", ps, data[i * 10:(i + 1) * 10])
        w.commit()
    r = IndexReader(tmp_path)
    assert r.kind == "ivf-sq8" and r.size == 3000
    got = [[pid for pid, _ in r.dense_search(q, 10)] for q in data[::100]]
    assert recall(got, [exact_top(data, q, 10) for q in data[::100]]) >= 0.9
    # A small addition extends the trained IVF lists instead of rebuilding them.
    with IndexWriter(tmp_path, model=MODEL, dim=DIM, exact_below=1_000) as w:
        art, ps = article(999, "c")
        w.add(art, "d", ps, clustered(10, seed=9))
        w.commit()
    r = IndexReader(tmp_path)
    assert r.size == 3010 and r.kind == "ivf-sq8"
    assert {pid for pid, _ in r.dense_search(clustered(10, seed=9)[0], 5, ["c"])} <= set(range(3001, 3011))


def test_format_1_index_still_reads_and_upgrades(tmp_path: Path, data: np.ndarray) -> None:
    import faiss

    build(tmp_path, data[:100])
    gen = tmp_path / IndexReader(tmp_path).generation
    ids = np.load(gen / "ids.npy")
    old = faiss.IndexIDMap2(faiss.IndexFlatIP(DIM))
    old.add_with_ids(data[:100], ids)
    faiss.write_index(old, str(gen / "vectors.faiss"))
    for f in ("vectors.npy", "ids.npy", "coll.npy", "collections.json"):
        (gen / f).unlink()
    r = IndexReader(tmp_path)
    assert r.size == 100 and r.dense_search(data[7], 1)[0][0] == 8
    assert all((pid - 1) // 10 % 2 == 1 for pid, _ in r.dense_search(data[7], 5, ["b"]))
    with IndexWriter(tmp_path, model=MODEL, dim=DIM) as w:
        w.remove("doc-a-0")
        w.commit()
    r2 = IndexReader(tmp_path)
    assert r2.size == 90 and (tmp_path / r2.generation / "ids.npy").exists()


def test_format_2_index_reads_passages_from_articles_and_upgrades(tmp_path: Path, data: np.ndarray) -> None:
    # Format 2 had no passage text of its own: bots serving such an index must keep quoting the
    # exact slice, and the next write gives every passage its text.
    import sqlite3

    build(tmp_path, data[:100])
    gen = tmp_path / IndexReader(tmp_path).generation
    want = [(h.passage_id, h.text) for h in IndexReader(tmp_path).hits([(pid, 1.0, 0.0, 0.0) for pid in range(1, 101)])]
    with sqlite3.connect(gen / "meta.sqlite") as conn:
        conn.execute("ALTER TABLE passages DROP COLUMN text")
    old = IndexReader(tmp_path)
    old_hits = old.hits([(pid, 1.0, 0.0, 0.0) for pid in range(1, 101)])
    assert [(h.passage_id, h.text) for h in old_hits] == want
    assert all(h.text and h.text == old.article_text(h.source)[h.start:h.end] for h in old_hits)
    with IndexWriter(tmp_path, model=MODEL, dim=DIM) as w:
        w.remove("doc-a-0")
        w.commit()
    new = IndexReader(tmp_path)
    with sqlite3.connect(tmp_path / new.generation / "meta.sqlite") as conn:
        stored = dict(conn.execute("SELECT id, text FROM passages"))
    assert len(stored) == 90 and all(stored[pid] == text for pid, text in want if pid in stored)
    assert [(h.passage_id, h.text) for h in new.hits([(pid, 1.0, 0.0, 0.0) for pid in range(11, 101)])] == want[10:]


WRITER = textwrap.dedent(
    """
    import sys, numpy as np
    sys.path.insert(0, sys.argv[1])
    from tests.index.store.test_store import article, clustered, DIM, MODEL
    from index.store import IndexWriter
    root, start, count, crash = sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5] == "crash"
    for i in range(start, start + count):
        with IndexWriter(root, model=MODEL, dim=DIM, lock_timeout=10) as w:
            art, ps = article(i, "a", 10)
            w.add(art, "d", ps, clustered(10, seed=i))
            if crash:
                import os; os._exit(3)  # dies with a half-written generation on disk
            w.commit()
    """
)


def run_writer(root: Path, start: int, count: int, crash: bool = False) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", WRITER, str(ROOT), str(root), str(start), str(count),
         "crash" if crash else "ok"],
    )


def test_open_reader_picks_up_another_process_ingest(tmp_path: Path, data: np.ndarray) -> None:
    build(tmp_path, data[:100])
    r = IndexReader(tmp_path)
    assert r.refresh() is False and r.size == 100
    assert run_writer(tmp_path, 500, 1).wait(60) == 0
    assert r.refresh() is True
    assert r.size == 110
    assert [h.source for h in r.hits([(pid, 1.0, 0, 0) for pid, _ in r.lexical_search("token500x4", 1)])] == ["doc-a-500"]


def test_reader_never_sees_a_half_written_generation(tmp_path: Path, data: np.ndarray) -> None:
    build(tmp_path, data[:100])
    r = IndexReader(tmp_path)
    assert run_writer(tmp_path, 600, 1, crash=True).wait(60) == 3
    assert any((p / "INCOMPLETE").exists() for p in tmp_path.glob("gen-*"))
    assert r.refresh() is False and IndexReader(tmp_path).size == 100
    # While another process publishes generation after generation, every one we open is whole.
    proc = run_writer(tmp_path, 700, 8)
    seen = set()
    try:
        while proc.poll() is None:
            r.refresh()
            seen.add(r.generation)
            n = r.size
            assert n % 10 == 0
            assert len(r.sources()) == n // 10
            assert len(r._lex.ids) == n
            ids = list(r._live_ids[-10:])
            assert len(r.hits([(int(i), 1.0, 0, 0) for i in ids])) == len(ids)
    finally:
        assert proc.wait(120) == 0
    r.refresh()
    assert r.size == 180 and len(seen) >= 2
    assert not any((p / "INCOMPLETE").exists() for p in tmp_path.glob("gen-*"))
