"""The shipped reader: it loads offline, reads a question against sentences, refuses altered files,
and in the engine it answers from the sentence that states the fact or says "not found"."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from index import Document, Engine, ReaderModelError, SentenceReader

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
    # The shipped check rows (scored by bench/export_reader.py with this very file) score the same here.
    for row in sentence_reader.meta["check_rows"]:
        got = float(sentence_reader.scores(row["question"], [(row["title"], row["sentence"])])[0])
        assert got == pytest.approx(row["logit"], abs=1e-3)


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
