"""Shared fixtures: a clean environment, the real bundled model, and real indexes in tmp_path."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
SHARED = ROOT.parent / "shared"
SHARED_CORPUS = SHARED / "corpus"
SHARED_EVAL = SHARED / "eval"


# Fixtures that load the real model (the sentence-transformers embedder, its ONNX export).
MODEL_FIXTURES = frozenset({"embedder", "onnx_cache", "sentence_reader"})
# Tests that are slow without those fixtures: every test of these files starts the citebot CLI
# in a new process (torch and the model load there) ...
SLOW_FILES = frozenset({"test_cli.py", "test_web_cli.py"})
# ... and these load the model another way or wait on other processes for seconds.
SLOW_TESTS = frozenset({
    "test_export_is_cached_on_disk",  # exports the real model to ONNX
    "test_cli_json_adds_closest_and_keeps_citations_empty",  # runs the CLI
    "test_second_writer_is_refused_with_a_clear_message_or_waits",  # two writer processes, lock timeouts
    "test_huge_file_is_refused_and_a_huge_unpunctuated_line_is_indexed",
    "test_reader_never_sees_a_half_written_generation",
})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The fast tier: a test is `unit` unless it needs the real model (a fixture above), is marked
    `slow`, or is listed above. `bash scripts/test.sh -m unit` runs these in seconds; the plain command
    runs everything (CI)."""
    for item in items:
        name = getattr(item, "originalname", None) or item.name
        fixtures = set(getattr(item, "fixturenames", ()))
        slow = (item.get_closest_marker("slow") is not None or bool(fixtures & MODEL_FIXTURES)
                or item.path.name in SLOW_FILES or name in SLOW_TESTS)
        item.add_marker(pytest.mark.slow if slow else pytest.mark.unit)


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No CITEBOT_/DISCORD_/SLACK_ setting leaks in from the developer's shell or .env."""
    for key in list(os.environ):
        if key.startswith(("CITEBOT_", "DISCORD_", "SLACK_")):
            monkeypatch.delenv(key, raising=False)
    # Settings read .env from the working directory: run each test from an empty folder.
    monkeypatch.chdir(tmp_path)


@pytest.fixture(scope="session")
def embedder():
    """The real bundled all-MiniLM-L6-v2, loaded once per test session."""
    from index.model.embed import SentenceTransformerEmbedder

    e = SentenceTransformerEmbedder()
    e.warm_up()
    return e


@pytest.fixture(scope="session")
def sentence_reader():
    """The shipped reader (index/answer/reader.onnx), loaded once per test session."""
    from index import SentenceReader

    r = SentenceReader()
    r.warm_up()
    return r


@pytest.fixture(scope="session")
def _examples_index(tmp_path_factory: pytest.TempPathFactory, embedder) -> Path:
    from index.engine import Engine

    folder = tmp_path_factory.mktemp("examples-index")
    report = Engine(folder, embedder).ingest_paths([EXAMPLES])
    assert report.ok, report.skipped
    return folder


@pytest.fixture
def examples_index(_examples_index: Path, tmp_path: Path) -> Path:
    """A private copy of a real index over `examples/` (ingested once per session)."""
    dest = tmp_path / "index"
    shutil.copytree(_examples_index, dest)
    return dest


@pytest.fixture
def engine(examples_index: Path, embedder):
    """An Engine over a copy of the examples index."""
    from index.engine import Engine

    return Engine(examples_index, embedder)


@pytest.fixture
def service(engine):
    """The chat service over the examples index (rate limit off, so tests can ask freely)."""
    from bot.feedback import FeedbackStore
    from bot.service import CitebotService

    return CitebotService(engine, FeedbackStore(engine.index_dir / "feedback.sqlite"), rate_limit_per_minute=0)


@pytest.fixture(scope="session")
def shared_corpus() -> Path:
    """../shared/corpus, present in CI and on developer machines, absent in a user's clone."""
    if not SHARED_CORPUS.is_dir() or not any(SHARED_CORPUS.iterdir()):
        pytest.skip("../shared/corpus is not here (it exists in CI and on developer machines, not in a clone)")
    return SHARED_CORPUS


def assert_citations_exact(answer, article_text_by_source) -> None:
    """Every snippet is the exact slice of its article's text at start:end."""
    for c in answer.citations + answer.more:
        text = article_text_by_source(c.source)
        assert text[c.start:c.end] == c.snippet, f"citation {c.n} is not an exact slice of {c.source}"
        if c.answer_start is not None:
            assert c.snippet[c.answer_start:c.answer_end] == answer.answer
