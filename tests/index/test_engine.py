"""The engine end to end on the real model and a real FAISS index on disk."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from index.engine import Engine
from index.errors import IndexMismatchError, UserError
from tests.conftest import EXAMPLES, assert_citations_exact
from tests.helpers import make_pdf

GARDEN = """Harbour town gets a night ferry

The harbour town will run a night ferry to the island from June. The ferry leaves every two hours between ten in the evening and four in the morning.

The service is paid for by the regional transport office for a trial of one year. Tickets cost the same as during the day.
"""


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    d = tmp_path / "articles"
    shutil.copytree(EXAMPLES, d)
    return d


def test_answers_cite_exact_offsets_in_the_article(engine: Engine) -> None:
    ans = engine.ask("who founded 01.AI?")
    assert ans.found
    assert "Kai-Fu Lee" in ans.answer
    assert ans.citations and ans.citations[0].title == "Who is behind 01.AI? A short profile"
    assert ans.citations[0].url == "https://example.org/citebot-samples/01ai-profile"
    assert ans.citations[0].date == "2024-03-04"
    assert len(ans.citations) <= 3
    assert_citations_exact(ans, engine.article_text)


@pytest.mark.parametrize(
    ("question", "must_contain", "title_start"),
    [
        ("What did OpenAI unveil?", "Sora", "OpenAI shows Sora"),
        ("How much do plot holders pay per season?", "25 euros", "Riverside community garden"),
        ("When was Python 3.13 released?", "7 October 2024", "Python 3.13 arrives"),
        ("Which Python build runs without the global interpreter lock?", "global interpreter lock", "Python 3.13"),
    ],
)
def test_golden_questions_on_the_sample_articles(engine: Engine, question: str, must_contain: str, title_start: str) -> None:
    ans = engine.ask(question)
    assert ans.found, question
    assert must_contain in ans.answer
    assert ans.citations[0].title.startswith(title_start)
    assert_citations_exact(ans, engine.article_text)


@pytest.mark.parametrize(
    "question",
    ["What is a good recipe for lasagna?", "Who won the 1998 football world cup?", "How do I reset my router password?"],
)
def test_off_topic_questions_are_not_answered(engine: Engine, question: str) -> None:
    ans = engine.ask(question)
    assert not ans.found
    assert ans.answer is None and ans.citations == ()


def test_empty_question_is_a_user_error(engine: Engine) -> None:
    with pytest.raises(UserError):
        engine.ask("   ")


def test_reingest_unchanged_does_no_work(corpus: Path, tmp_path: Path, embedder) -> None:
    eng = Engine(tmp_path / "ix", embedder)
    first = eng.ingest_paths([corpus])
    assert len(first.added) == 4 and first.ok
    gen = (tmp_path / "ix" / "CURRENT").read_text()
    again = eng.ingest_paths([corpus])
    assert len(again.unchanged) == 4 and not again.added and not again.updated and again.passages == 0
    assert (tmp_path / "ix" / "CURRENT").read_text() == gen  # no new index generation was written


def test_changed_file_replaces_its_passages(corpus: Path, tmp_path: Path, embedder) -> None:
    eng = Engine(tmp_path / "ix", embedder)
    f = corpus / "ferry.txt"
    f.write_text(GARDEN)
    eng.ingest_paths([corpus])
    assert "two hours" in eng.ask("How often does the night ferry leave?").answer
    f.write_text(GARDEN.replace("every two hours", "every forty minutes"))
    rep = eng.ingest_paths([corpus])
    assert rep.updated == [str(f.resolve())] and len(rep.unchanged) == 4
    ans = eng.ask("How often does the night ferry leave?")
    assert "forty minutes" in ans.answer
    assert not any("two hours" in c.snippet for c in ans.citations + ans.more)
    assert len([s for s in eng.sources() if s.source == str(f.resolve())]) == 1


def test_forget_removes_an_article(engine: Engine) -> None:
    assert engine.ask("What did OpenAI unveil?").found
    removed = engine.forget("sora-video-model-2024-02-20.md")
    assert len(removed) == 1
    assert all("Sora" not in s.title for s in engine.sources())
    ans = engine.ask("What did OpenAI unveil?")
    assert not any("Sora" in c.title for c in ans.citations + ans.more)
    assert engine.forget("no-such-article.md") == []


def test_other_model_on_existing_index_is_a_clear_error(examples_index: Path) -> None:
    class OtherModel:
        name, dim = "someone/other-model", 384

        def encode(self, texts, batch_size=32):  # pragma: no cover - never reached
            raise AssertionError("must not embed with the wrong model")

    eng = Engine(examples_index, OtherModel())
    with pytest.raises(IndexMismatchError) as err:
        eng.ask("who founded 01.AI?")
    msg = str(err.value)
    assert "sentence-transformers/all-MiniLM-L6-v2" in msg and "CITEBOT_EMBEDDING_MODEL" in msg
    with pytest.raises(IndexMismatchError):
        eng.ingest_paths([EXAMPLES])


def test_bad_files_are_skipped_and_the_rest_indexed(tmp_path: Path, embedder) -> None:
    d = tmp_path / "mixed"
    d.mkdir()
    (d / "good.txt").write_text(GARDEN)
    (d / "empty.txt").write_bytes(b"")
    (d / "broken.pdf").write_bytes(b"%PDF-1.7\n%broken")
    (d / "binary.md").write_bytes(b"\x00\x01\x02" * 100)
    (d / "ok.pdf").write_bytes(make_pdf(["The museum opens on Sundays from noon until six."], title="Museum hours"))
    (d / "photo.jpg").write_bytes(b"\xff\xd8\xff")  # other types inside a folder are ignored
    eng = Engine(tmp_path / "ix", embedder)
    rep = eng.ingest_paths([d, tmp_path / "missing.txt"])
    assert sorted(Path(s).name for s in rep.added) == ["good.txt", "ok.pdf"]
    skipped = {Path(f).name: reason for f, reason in rep.skipped}
    assert set(skipped) == {"empty.txt", "broken.pdf", "binary.md", "missing.txt"}
    assert "empty" in skipped["empty.txt"] and "binary" in skipped["binary.md"]
    assert not rep.ok
    assert eng.ask("When does the museum open?").found


def test_collections_limit_what_is_searched(tmp_path: Path, embedder) -> None:
    from index.engine import Document

    eng = Engine(tmp_path / "ix", embedder)
    eng.ingest_paths([EXAMPLES])
    eng.ingest([Document(name="ferry.txt", source="upload:ferry.txt", data=GARDEN.encode())], collection="discord:B")
    q = "How often does the night ferry leave?"
    assert eng.ask(q, ["global", "discord:B"]).found
    other = eng.ask(q, ["global", "discord:A"])
    assert not any(c.collection == "discord:B" for c in other.citations + other.more)
    assert [s.collection for s in eng.sources(["discord:B"])] == ["discord:B"]


@pytest.mark.parametrize(
    ("question", "must_contain"),
    [("who founded 01.AI?", "Kai-Fu Lee"), ("What did OpenAI unveil last week?", "Sora")],
)
def test_golden_questions_on_the_shared_corpus(shared_corpus: Path, tmp_path: Path, embedder, question: str, must_contain: str) -> None:
    eng = Engine(tmp_path / "ix", embedder)
    assert eng.ingest_paths([shared_corpus]).ok
    ans = eng.ask(question)
    assert ans.found
    assert must_contain in ans.answer
    assert must_contain in ans.citations[0].snippet
    assert_citations_exact(ans, eng.article_text)
    for c in ans.citations:  # site chrome is never cited
        assert "[ad_" not in c.snippet and "Source link" not in c.snippet


def test_off_topic_question_on_the_shared_corpus(shared_corpus: Path, tmp_path: Path, embedder) -> None:
    eng = Engine(tmp_path / "ix", embedder)
    eng.ingest_paths([shared_corpus])
    assert not eng.ask("What is the best way to grow tomatoes on a balcony?").found
