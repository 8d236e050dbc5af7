"""Faults and hostile input: kills mid-ingest, two writers, bad files, property tests."""
from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from index.engine import Engine
from index.errors import IndexBusyError, LoadError
from index.ingest.chunk import chunk, sentences
from index.ingest.load import SUPPORTED_SUFFIXES, load_bytes
from index.store import IndexReader, IndexWriter
from tests.conftest import EXAMPLES, ROOT
from tests.helpers import HashEmbedder, write_articles

# --- crash safety ----------------------------------------------------------------------------

HARNESS = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path
    sys.path.insert(0, {root!r})
    from tests.helpers import HashEmbedder
    from index.engine import Engine
    import index.store as store

    point, index_dir, folder = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
    die = lambda: os.kill(os.getpid(), signal.SIGKILL)
    emb = HashEmbedder()
    if point == "mid-embedding":
        calls = [0]
        real = emb.encode
        def encode(texts, batch_size=32):
            calls[0] += 1
            if calls[0] == 2:
                die()
            return real(texts)
        emb.encode = encode
    elif point == "vectors-write":
        # Die half-way through writing the generation's vector files.
        def save(path, arr, *a, **k):
            with open(path, "wb") as fh:
                fh.write(b"half a vector file")
            die()
        store.np.save = save
    elif point in ("before-swap", "after-swap"):
        real_replace = os.replace
        def replace(src, dst):
            if str(dst).endswith("CURRENT"):
                if point == "before-swap":
                    die()
                real_replace(src, dst)
                die()
            return real_replace(src, dst)
        store.os.replace = replace
    elif point == "lexical-save":
        from index.store import lexical
        def save(self, folder):
            Path(folder).mkdir(parents=True, exist_ok=True)
            (Path(folder) / "lex_ids.npy").write_bytes(b"garbage")
            die()
        lexical.LexicalIndex.save = save
    Engine(index_dir, emb).ingest_paths([folder], batch_articles=8)
    """
)


def _sources(index_dir: Path) -> set[str]:
    r = IndexReader(index_dir)
    return {Path(s.source).name for s in r.sources()} if r.exists else set()


def _assert_index_answers(index_dir: Path, names: set[str]) -> None:
    """The live generation opens, and each named article is findable by its own words."""
    reader = IndexReader(index_dir)
    assert reader.exists
    emb = HashEmbedder()
    for name in names:
        i = int(name.split("-")[1].split(".")[0])
        q = f"observatory{i}"
        found = {h.source for h in reader.hits([(pid, 1.0, 0.0, s) for pid, s in reader.lexical_search(q, 5)])}
        assert any(Path(s).name == name for s in found), f"{name} no longer answerable"
        dense = reader.dense_search(emb.encode([q])[0], 3)
        assert dense  # the vector index opens and answers too


@pytest.mark.parametrize("point", ["mid-embedding", "vectors-write", "lexical-save", "before-swap", "after-swap"])
def test_sigkill_during_ingest_leaves_a_working_index(tmp_path: Path, point: str) -> None:
    index_dir, folder = tmp_path / "ix", tmp_path / "articles"
    write_articles(folder, 12)
    eng = Engine(index_dir, HashEmbedder())
    assert eng.ingest_paths([folder]).ok
    before = _sources(index_dir)
    write_articles(folder, 20, start=12)  # new work for the killed run
    script = tmp_path / "harness.py"
    script.write_text(HARNESS.format(root=str(ROOT)))
    p = subprocess.run([sys.executable, str(script), point, str(index_dir), str(folder)], capture_output=True, timeout=120)
    assert p.returncode == -signal.SIGKILL, p.stderr.decode()[-2000:]
    after = _sources(index_dir)
    assert before <= after  # nothing indexed before was lost
    _assert_index_answers(index_dir, before)
    if point == "after-swap":
        assert len(after) > len(before)  # the swap had happened: the new generation is live
    # The lock died with the process; a rerun completes the work.
    rep = Engine(index_dir, HashEmbedder()).ingest_paths([folder])
    assert rep.ok
    assert _sources(index_dir) == {f"report-{i:04d}.txt" for i in range(32)}
    _assert_index_answers(index_dir, {"report-0031.txt", "report-0000.txt"})
    leftovers = [p for p in index_dir.glob("gen-*") if (p / "INCOMPLETE").exists()]
    assert not leftovers


def test_random_sigkills_of_the_real_cli_never_break_the_index(tmp_path: Path, embedder) -> None:
    """`citebot ingest` killed at random moments; the real model answers from what was published."""
    index_dir, folder = tmp_path / "ix", tmp_path / "articles"
    write_articles(folder, 6)
    Engine(index_dir, embedder).ingest_paths([folder])
    rnd = random.Random(7)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CITEBOT_", "DISCORD_", "SLACK_"))}
    kills, rounds = 0, 0
    while kills < 2 and rounds < 8:  # a run that finished before its kill time counts as no kill
        write_articles(folder, 30, start=6 + 30 * rounds, words=600)  # fresh work for every run
        rounds += 1
        p = subprocess.Popen([sys.executable, "-m", "bot.cli", "ingest", "--index", str(index_dir), str(folder)],
                             cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rnd.uniform(0.8, 4.0))
        if p.poll() is None:
            p.send_signal(signal.SIGKILL)
            kills += 1
        p.wait()
        eng = Engine(index_dir, embedder)
        ans = eng.ask("What did station 3 record at the observatory3 site?")
        assert ans.found and any("observatory3" in c.snippet for c in ans.citations)
    rep = Engine(index_dir, embedder).ingest_paths([folder])
    assert rep.ok and len(_sources(index_dir)) == 6 + 30 * rounds
    assert kills >= 2


# --- concurrent writers ----------------------------------------------------------------------

def test_second_writer_is_refused_with_a_clear_message_or_waits(tmp_path: Path) -> None:
    index_dir = tmp_path / "ix"
    first = IndexWriter(index_dir, model="test/hash-embedder", dim=64)
    try:
        with pytest.raises(IndexBusyError, match="another citebot ingest"):
            IndexWriter(index_dir, model="test/hash-embedder", dim=64)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("CITEBOT_", "DISCORD_", "SLACK_"))}
        r = subprocess.run([sys.executable, "-m", "bot.cli", "ingest", "--index", str(index_dir), str(EXAMPLES)],
                           cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
        assert r.returncode == 1 and "another citebot ingest" in r.stderr and "Traceback" not in r.stderr
        waiting = subprocess.Popen([sys.executable, "-m", "bot.cli", "ingest", "--wait", "120", "--index", str(index_dir), str(EXAMPLES)],
                                   cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(8)
        assert waiting.poll() is None  # still waiting for the lock
    finally:
        first.close()
    out, err = waiting.communicate(timeout=120)
    assert waiting.returncode == 0, err
    assert "4 added" in out


# --- hostile files ---------------------------------------------------------------------------

def test_hostile_html_only_article_text_is_indexed(tmp_path: Path, embedder) -> None:
    html = """<html><head><title>Council votes on bike lanes</title>
    <script>document.write('TRACKING-PIXEL-LOADED'); var secret = 'ad-network-id-42';</script>
    <style>.x{color:red}</style></head><body>
    <iframe src="https://ads.example/iframe">IFRAME-AD-CONTENT</iframe>
    <div class="cookie-banner">We use cookies COOKIE-BANNER-TEXT</div>
    <nav><ul><li>Home</li><li>NAV-MENU-ITEM</li></ul></nav>
    <article><h1>Council votes on bike lanes</h1>
    <p>The city council voted on Tuesday to build twelve kilometres of protected bike lanes along the river.</p>
    <p>Construction starts in the spring and the council expects the work to take two years to finish.</p>
    </article><img src="https://t.example/pixel.gif?id=TRACKER-IMG">
    <script>fetch('https://t.example/collect?SCRIPT-BEACON')</script></body></html>"""
    d = tmp_path / "web"
    d.mkdir()
    (d / "lanes.html").write_text(html)
    eng = Engine(tmp_path / "ix", embedder)
    assert eng.ingest_paths([d]).ok
    text = eng.article_text(str((d / "lanes.html").resolve()))
    assert "twelve kilometres" in text
    for junk in ("TRACKING-PIXEL", "ad-network-id", "IFRAME-AD", "NAV-MENU-ITEM", "TRACKER-IMG", "SCRIPT-BEACON", "color:red"):
        assert junk not in text
    ans = eng.ask("How many kilometres of bike lanes will be built?")
    assert ans.found and "twelve kilometres" in ans.answer


def test_huge_file_is_refused_and_a_huge_unpunctuated_line_is_indexed(tmp_path: Path) -> None:
    d = tmp_path / "in"
    d.mkdir()
    (d / "huge.txt").write_bytes(b"x" * (50 * 1024 * 1024 + 1))
    words = " ".join(f"token{i % 5000}" for i in range(600_000))[: 5 * 1024 * 1024]
    (d / "oneline.txt").write_text(words)
    eng = Engine(tmp_path / "ix", HashEmbedder(), max_file_bytes=20 * 1024 * 1024)
    rep = eng.ingest_paths([d])
    skipped = {Path(f).name: r for f, r in rep.skipped}
    assert set(skipped) == {"huge.txt"} and "limit" in skipped["huge.txt"]
    assert [Path(s).name for s in rep.added] == ["oneline.txt"]
    text = eng.article_text(str((d / "oneline.txt").resolve()))
    r = IndexReader(tmp_path / "ix")
    hits = r.hits([(pid, 1.0, 0.0, 0.0) for pid, _ in r.lexical_search("token4321", 3)])
    assert hits and all(text[h.start:h.end] == h.text for h in hits)
    assert all(len(h.text) < 5000 for h in hits)


def test_nul_bytes_and_control_characters(tmp_path: Path) -> None:
    a = load_bytes(("Clean start. " * 2000).encode() + b"\x00\x01" + b" More text here.", "nul.txt")
    assert "\x00" not in a.text and "More text here." in a.text


# --- property tests --------------------------------------------------------------------------

texts = st.lists(
    st.sampled_from(list("abc XYZ.!?\n\t\"'“”’()…-,;:01é漢🙂") + ["Mr. ", "U.S. ", "\n\n", "[ad_1]", "Source link"]),
    max_size=200,
).map("".join)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(texts)
def test_chunk_offsets_always_slice_back(text: str) -> None:
    for p in chunk(text, title="Title"):
        assert text[p.start:p.end] == p.text
        assert p.text == p.text.strip() and p.text
        for s, e in p.sentences:
            assert p.start <= s < e <= p.end
    for s, e in sentences(text):
        assert 0 <= s < e <= len(text)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2000), st.sampled_from(SUPPORTED_SUFFIXES + (".docx", "")))
def test_loaders_never_crash_on_random_bytes(data: bytes, suffix: str) -> None:
    try:
        a = load_bytes(data, "file" + suffix)
    except LoadError as exc:
        assert str(exc)
    else:
        assert a.text.strip() and "\x00" not in a.text


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=3000))
def test_loaders_never_crash_on_random_text(s: str) -> None:
    for suffix in (".txt", ".md", ".html"):
        try:
            a = load_bytes(s.encode("utf-8", "surrogatepass"), "t" + suffix)
        except LoadError:
            continue
        for p in chunk(a.text, title=a.title):
            assert a.text[p.start:p.end] == p.text


def test_questions_keep_working_while_new_generations_are_published(tmp_path: Path) -> None:
    """A bot answers from threads while `citebot ingest` publishes: a reload must not pull the
    database out from under a question that is still running."""
    import threading

    index_dir, folder = tmp_path / "ix", tmp_path / "articles"
    write_articles(folder, 10)
    Engine(index_dir, HashEmbedder()).ingest_paths([folder])
    bot = Engine(index_dir, HashEmbedder())
    errors: list[BaseException] = []
    stop = threading.Event()

    def asker() -> None:
        while not stop.is_set():
            try:
                bot.ask("What did station 3 record at the observatory3 site?")
            except BaseException as exc:  # noqa: BLE001 - any failure is the finding
                errors.append(exc)
                return

    threads = [threading.Thread(target=asker) for _ in range(3)]
    for t in threads:
        t.start()
    try:
        for round_ in range(6):
            write_articles(folder, 3, start=10 + 3 * round_)
            assert Engine(index_dir, HashEmbedder()).ingest_paths([folder]).ok
            time.sleep(0.05)
    finally:
        stop.set()
        for t in threads:
            t.join(30)
    assert not errors, repr(errors[0])
    assert bot.reader.generation == (index_dir / "CURRENT").read_text().strip()
