"""The shipped reader: it loads offline, reads a question against sentences, refuses altered files,
and in the engine it answers from the sentence that states the fact or says "not found"."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from index import Document, Engine, ReaderModelError, SentenceReader, UserError

# Written for these tests.
FERRY = """The Larkspur ferry

The Larkspur ferry is a passenger boat that crosses the bay between Larkspur and the city.

The ferry first sailed across the bay on 3 May 1911, after two years of building. Its hull was designed by the naval architect Mira Okafor, who also drew the harbour's new pier. Today the boat carries about 400 passengers and their bicycles on each crossing.

The crossing takes thirty minutes in calm weather. Tickets are sold at the harbour office and on board.
"""
# On other subjects, sharing words with the questions (so retrieval brings them up).
OTHER = {
    "scores.md": "# Weekend football scores\n\nLarkspur Rovers beat the Wanderers three goals to one on Saturday. "
                 "The new kit of the Rovers was designed in the club colours.\n",
    "climate.md": "# A dry summer\n\nRainfall in the valley was the lowest for forty years. The bay was so calm "
                  "that the ferry crossing felt like a lake.\n",
    "letters.md": "# Readers' letters\n\nA reader asks the council to run a later ferry from Larkspur on Sundays. "
                  "Another thanks the volunteers who painted the hull of the old rowing boat.\n",
}
ANSWERING = "The ferry first sailed across the bay on 3 May 1911, after two years of building."


def test_shipped_reader_loads_and_rates_the_answering_sentence_highest(sentence_reader: SentenceReader) -> None:
    title = "The Larkspur ferry"
    scores = sentence_reader.scores("When did the Larkspur ferry first sail?", [
        (title, "The crossing takes thirty minutes in calm weather."),
        (title, ANSWERING),
        (title, "Tickets are sold at the harbour office and on board."),
    ])
    assert int(scores.argmax()) == 1


def test_the_check_rows_score_alike_on_every_cpu(sentence_reader: SentenceReader) -> None:
    """What holds on AVX2 and VNNI CPUs alike (issue 27): with 7-bit weights both compute the exact
    integer sums, so the shipped check rows keep their order and their logits within the tolerance
    bench/reader_kernels.py measured against an independent NumPy evaluation of the same file."""
    meta = sentence_reader.meta
    tolerance = meta["check_tolerance"]
    assert 0 < tolerance <= 0.15  # the saturating u8s8 kernel moved a check row by 0.16
    rows = meta["check_rows"]
    got = [float(sentence_reader.scores(r["question"], [(r["title"], r["sentence"])])[0]) for r in rows]
    for r, g in zip(rows, got):
        assert g == pytest.approx(r["logit"], abs=tolerance), r["sentence"]
    # Rows come in pairs of one question: the sentence that answers it first, then one that does not.
    for k in range(0, len(rows), 2):
        assert rows[k]["question"] == rows[k + 1]["question"]
        assert got[k] > got[k + 1] + 2 * tolerance


def test_provenance_credits_the_data_and_the_base_model(sentence_reader: SentenceReader) -> None:
    meta = sentence_reader.meta
    assert "CC BY-SA 4.0" in meta["licence"] and "Apache-2.0" in meta["licence"]
    training = meta["training"]
    assert training["seed"] == 0 and len(training["data"]["sha256"]) == 64 and training["pairs_trained"] > 0
    assert (sentence_reader.folder / "reader.onnx").stat().st_size <= 25 * 1024 * 1024


def _copy(tmp_path: Path) -> Path:
    dest = tmp_path / "reader"
    dest.mkdir()
    for name in ("reader.onnx", "reader.json"):
        shutil.copy(SentenceReader().folder / name, dest / name)
    return dest


def test_truncated_file_is_refused_with_a_clear_message(tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    data = (folder / "reader.onnx").read_bytes()
    (folder / "reader.onnx").write_bytes(data[: len(data) // 2])
    with pytest.raises(ReaderModelError, match="truncated or altered"):
        SentenceReader(folder).warm_up()


def test_altered_file_and_missing_file_are_refused(tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    data = bytearray((folder / "reader.onnx").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (folder / "reader.onnx").write_bytes(bytes(data))
    with pytest.raises(ReaderModelError, match="sha256"):
        SentenceReader(folder).warm_up()
    (folder / "reader.onnx").unlink()
    with pytest.raises(ReaderModelError, match="missing.*CITEBOT_READER=off"):
        SentenceReader(folder).warm_up()


def test_a_word_table_from_another_model_is_refused(tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    meta = json.loads((folder / "reader.json").read_text())
    meta["external"]["sha256"] = "0" * 64
    (folder / "reader.json").write_text(json.dumps(meta))
    with pytest.raises(ReaderModelError, match="word table"):
        SentenceReader(folder).warm_up()


def _engine(tmp_path: Path, embedder, reader: SentenceReader, ferry: str) -> Engine:
    engine = Engine(tmp_path / "index", embedder, sentence_reader=reader)
    docs = [Document(name="ferry.md", source="ferry.md", data=ferry.encode())]
    docs += [Document(name=n, source=n, data=t.encode()) for n, t in OTHER.items()]
    assert engine.ingest(docs).ok
    return engine


def test_removing_the_answering_sentence_lowers_the_confidence_and_the_quote_loses_the_fact(
        tmp_path: Path, embedder, sentence_reader) -> None:
    question = "When did the Larkspur ferry first sail?"
    engine = _engine(tmp_path / "a", embedder, sentence_reader, FERRY)
    answer = engine.ask(question)
    assert answer.found and "1911" in (answer.answer or "")
    cut = _engine(tmp_path / "b", embedder, sentence_reader, FERRY.replace(ANSWERING + " ", "")).ask(question)
    # Not yet "not found" on this tiny corpus at the fitted threshold (bench/RESULTS.md, issue 21:
    # 0.52 of such questions are refused at 8% of untouched ones): but never the removed fact, and
    # with less confidence than the untouched article's answer.
    assert "1911" not in (cut.answer or "")
    assert cut.confidence < answer.confidence


def test_unrelated_articles_are_not_listed_under_an_answer(tmp_path: Path, embedder, sentence_reader) -> None:
    engine = _engine(tmp_path, embedder, sentence_reader, FERRY)
    answer = engine.ask("Who designed the hull of the Larkspur ferry?")
    assert answer.found and "Mira Okafor" in (answer.answer or "")
    assert {c.source for c in answer.citations + answer.more} == {"ferry.md"}
    # The same engine without the reader lists what retrieval brought up.
    plain = Engine(engine.index_dir, embedder)
    assert len({c.source for c in plain.ask("Who designed the hull of the Larkspur ferry?").citations}) > 1


# Questions a chat user can send that once ended the process with the reader on (issue 27): the
# tokenizer cuts a pair from the sentence's side only, and a question longer than the whole budget
# raised "Sequence to truncate too short". Each is answered or refused, never an exception.
HOSTILE = {
    "long": "When did the Larkspur ferry first sail across the bay " + "and then again and again " * 40 + "?",
    "rare words": " ".join(["pneumonoultramicroscopicsilicovolcanoconiosis"] * 12) + " ferry?",
    "control characters": "When did the \x00\x07 Larkspur\x1b[31m ferry first \u202e sail?",
    "emoji only": "⛴️🚢⛴️🚢⛴️🚢",
    "another script": "拉克斯珀渡轮是什么时候第一次航行的？" * 20,
}


def test_a_long_question_is_read_by_its_beginning_and_still_ranks_the_answer_first(sentence_reader) -> None:
    title = "The Larkspur ferry"
    candidates = [(title, "The crossing takes thirty minutes in calm weather."), (title, ANSWERING)]
    long = "When did the Larkspur ferry first sail? " + "I would really like to know this, " * 60
    assert len(sentence_reader._plain.encode(long).ids) > 4 * sentence_reader.meta["max_len"]
    scores = sentence_reader.scores(long, candidates)
    assert int(scores.argmax()) == 1 and all(abs(float(s)) < 50 for s in scores)


@pytest.mark.parametrize("kind", list(HOSTILE))
def test_hostile_questions_are_answered_or_refused_with_the_reader_on(kind: str, tmp_path: Path, embedder, sentence_reader) -> None:
    engine = _engine(tmp_path, embedder, sentence_reader, FERRY)
    answer = engine.ask(HOSTILE[kind])
    assert answer.question and (answer.found is False or answer.answer)
    if answer.found:  # a quote is always the article's own words
        text = engine.article_text(answer.citations[0].source) or ""
        assert answer.answer in text


@pytest.fixture(scope="module")
def ferry_engine(tmp_path_factory: pytest.TempPathFactory, embedder, sentence_reader) -> Engine:
    return _engine(tmp_path_factory.mktemp("ferry"), embedder, sentence_reader, FERRY)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(min_size=0, max_size=700))
def test_any_text_is_answered_refused_or_politely_rejected_with_the_reader_on(ferry_engine: Engine, text: str) -> None:
    try:
        answer = ferry_engine.ask(text)
    except UserError as exc:  # the empty question: a message a user can read
        assert str(exc) and not text.strip()
        return
    assert answer.found in (True, False)
    if answer.found:
        assert answer.answer and answer.citations and 0.0 <= answer.confidence <= 1.0
