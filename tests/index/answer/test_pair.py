"""Both readers at once (CITEBOT_READER=both): the more confident reader quotes, a follow-up is read by
the sentence reader, the threshold is the fitted one, and a fitted file made for other readers is refused."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from index import AnswerComposer, Document, Engine, FittedModelError, PassageReader, ReaderPair, SentenceReader
from index.answer.select import load_fitted

# Written for these tests.
FERRY = ("The Larkspur ferry is a passenger boat that crosses the bay between Larkspur and the city. "
         "The ferry first sailed across the bay on 3 May 1911, after two years of building. "
         "Its hull was designed by the naval architect Mira Okafor, who also drew the harbour's new pier. "
         "Today the boat carries about 400 passengers and their bicycles on each crossing.")
MARKET = ("The Larkspur market opens on the square every Saturday. Its oldest stall sells cheese from the valley. "
          "The market was started in 1978 by the baker Tomas Reyes, who still runs the bread stall. "
          "He moved to Larkspur from the coast at the age of twenty.")
QUESTIONS = ("Who designed the hull of the Larkspur ferry?", "When did the ferry first sail across the bay?",
             "How many passengers does the ferry carry?", "Who started the Larkspur market?",
             "What does the oldest stall of the market sell?", "What is the boiling point of liquid nitrogen?")


@pytest.fixture(scope="module")
def readers() -> tuple[SentenceReader, PassageReader]:
    sentence, passage = SentenceReader(), PassageReader()
    sentence.warm_up()
    passage.warm_up()
    return sentence, passage


@pytest.fixture(scope="module")
def engines(tmp_path_factory: pytest.TempPathFactory, embedder, readers) -> dict[str, Engine]:
    """One index on disk, opened with each reader alone and with both."""
    folder = tmp_path_factory.mktemp("pair") / "index"
    sentence, passage = readers
    first = Engine(folder, embedder, sentence_reader=sentence)
    docs = [Document(name="ferry.md", source="ferry.md", data=("# The Larkspur ferry\n\n" + FERRY).encode()),
            Document(name="market.md", source="market.md", data=("# The Larkspur market\n\n" + MARKET).encode())]
    assert first.ingest(docs).ok
    return {"sentence": first, "passage": Engine(folder, embedder, sentence_reader=passage),
            "both": Engine(folder, embedder, sentence_reader=ReaderPair(sentence, passage))}


def test_the_more_confident_reader_quotes_and_its_confidence_decides(engines: dict[str, Engine]) -> None:
    pair = engines["both"].composer.pair_confidence
    assert pair is not None and engines["both"].composer.min_confidence == pair.threshold
    for question in QUESTIONS:
        alone = {k: engines[k].ask(question) for k in ("sentence", "passage")}
        both = engines["both"].ask(question)
        winner = max(alone.values(), key=lambda a: a.confidence or 0.0)
        assert both.confidence == pytest.approx(winner.confidence)
        assert both.found == (winner.confidence >= pair.threshold)
        if both.found:
            assert both.answer == winner.answer and both.citations[0].source == winner.citations[0].source
    answered = engines["both"].ask("Who designed the hull of the Larkspur ferry?")
    assert answered.found and "Mira Okafor" in answered.answer and answered.citations[0].title == "The Larkspur ferry"
    assert not engines["both"].ask("What is the boiling point of liquid nitrogen?").found


def test_a_follow_up_is_read_by_the_sentence_reader_at_its_own_threshold(engines: dict[str, Engine]) -> None:
    first = engines["both"].ask("Who started the Larkspur market?")
    assert first.found and "Tomas Reyes" in first.answer
    follow = engines["both"].ask("where did he move from?", conversation=[first.turn()])
    same = engines["sentence"].ask("where did he move from?", conversation=[first.turn()])
    assert follow.read_as and follow.read_as == same.read_as
    assert (follow.found, follow.answer, follow.confidence) == (same.found, same.answer, same.confidence)
    assert follow.found and "coast" in follow.answer


def test_the_shipped_threshold_was_fitted_for_the_shipped_readers(readers) -> None:
    fitted = load_fitted()
    assert fitted is not None and fitted.pair is not None
    sentence, passage = readers
    assert (fitted.pair.reader_sha256, fitted.pair.passage_sha256) == (sentence.meta["onnx_sha256"], passage.meta["onnx_sha256"])
    section = json.loads((Path(__file__).resolve().parents[3] / "index" / "fitted.json").read_text())["pair"]
    assert section["provenance"]["script"].startswith("bench/fit_reader.py") and 0.0 < fitted.pair.threshold < 1.0


def test_a_reader_file_the_threshold_was_not_fitted_for_is_refused(tmp_path: Path, embedder) -> None:
    folder = tmp_path / "passage"
    folder.mkdir()
    src = PassageReader().folder
    for name in ("passage_reader.onnx", "passage_reader.json"):
        shutil.copy(src / name, folder / name)
    meta = json.loads((folder / "passage_reader.json").read_text())
    meta["onnx_sha256"] = "0" * 64  # another model file, as a retrained reader would declare
    (folder / "passage_reader.json").write_text(json.dumps(meta))
    with pytest.raises(FittedModelError, match="fit_reader.py"):
        AnswerComposer(embedder, reader=ReaderPair(passage=PassageReader(folder)))
