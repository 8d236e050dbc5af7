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


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The fast tier: a test is `unit` unless it needs the real model (the `embedder` fixture, or a
    `slow` mark for tests that load it another way, e.g. by running the citebot CLI).

    `bash scripts/test.sh -m unit` runs these in seconds; the plain command runs everything.
    """
    for item in items:
        if "embedder" not in getattr(item, "fixturenames", ()) and item.get_closest_marker("slow") is None:
            item.add_marker(pytest.mark.unit)


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
    from index.embed import SentenceTransformerEmbedder

    e = SentenceTransformerEmbedder()
    e.warm_up()
    return e


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
