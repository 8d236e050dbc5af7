"""Answer quality: unit tests of the pieces, and a small SQuAD subset that must not regress."""
from __future__ import annotations

import re

import pytest

from index.answer.compose import highlight
from index.answer.query import question_type
from index.ingest.chunk import chunk, sentences
from index.store.lexical import LexicalIndex
from index.words import tokenize
from tests.conftest import SHARED_EVAL

SQUAD_A = SHARED_EVAL / "squad-v1.1-dev-part-a.json"


# --- fast unit tests ------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("Who founded 01.AI?", "who"),
        ("Which company did Kai-Fu Lee start?", "who"),
        ("When was Python 3.13 released?", "when"),
        ("In what year did the Normans invade England?", "when"),
        ("How many people live in Fresno?", "number"),
        ("What percentage of the vote did he win?", "number"),
        ("Where is the Amazon rainforest?", "where"),
        ("What did OpenAI unveil?", None),
        # The leading wh-word decides; a later "when" is a clause, "Who" in a title is a name.
        ("Where was the fair held when the mayor resigned?", "where"),
        ("What was launched when the ferry service began?", None),
        ("How old was the captain when she retired?", "number"),
        ("What year did Doctor Who first air?", "when"),
        ("How many actors have played Doctor Who?", "number"),
        ("What planet is Doctor Who from?", None),
        ("The harbour was rebuilt, but when did it reopen?", "when"),
        ("What is the name of the stadium where the final was played?", "where"),
    ],
)
def test_question_type(question: str, kind: str | None) -> None:
    assert question_type(question) == kind


def test_tokenizer_keeps_names_numbers_and_compounds() -> None:
    toks = tokenize("Kai-Fu Lee founded 01.AI in 2023 with 1,000 staff; GPT-4 and the U.S.")
    for t in ("01.ai", "2023", "1000", "gpt-4", "kai-fu", "lee", "u.s"):
        assert t in toks, t
    assert "the" not in toks and "with" not in toks
    assert tokenize("founded") == tokenize("founder") == tokenize("founding")


def test_lexical_idf_weighs_rare_and_unknown_terms_most() -> None:
    ix = LexicalIndex.build([1, 2, 3], ["the harbour ferry leaves", "the ferry is late", "a garden opens"])
    ferry, garden, zeppelin = (ix.idf([t])[t] for t in (tokenize("ferry")[0], "garden", "zeppelin"))
    assert ferry < garden == zeppelin  # unknown words weigh like the rarest known word


@pytest.mark.parametrize(
    ("question", "sentence", "bold"),
    [
        ("Who founded 01.AI?", "01.AI was founded by Kai-Fu Lee in March 2023.", "Kai-Fu Lee"),
        ("When was Python 3.13 released?", "Python 3.13 was released on 7 October 2024 by the core team.", "7 October 2024"),
        ("How many plots does the garden have?", "The garden has 40 plots along the river.", "40"),
        ("Who founded 01.AI?", "It was founded by Kai-Fu Lee and Sinovation Ventures.", "Kai-Fu Lee"),
        # The doer of the question's own verb, past an adjective or title before the name.
        ("Who recorded the song?", "The song was written by Ada Brook and recorded by Tom Vale in 1970.", "Tom Vale"),
        ("Who wrote the anthem?", "The anthem was written by Mara Quist for the opening.", "Mara Quist"),
        ("Who designed the library?", "The library was designed by Danish architect Lene Holm in 1990.", "Lene Holm"),
        ("Who headlined the show?", "The show was headlined by the British band Tidewater with two guests.", "Tidewater"),
        ("Who was the first harbour master?", "Brennan was the first harbour master.", "Brennan"),
        # A count, not a number that is part of a name; currency and thousands kept whole.
        ("How many analysts were there?", "Westwood One will carry it, with two analysts in the booth.", "two"),
        ("How many stores does it have?", "It has 40 stores near State Route 99.", "40"),
        ("How much did the network pay?", "The network paid £304m for the rights.", "£304m"),
        ("How many people came?", "About 1,200 people came, in 1990, to the fair.", "1,200"),
    ],
)
def test_highlight_spans_are_exact_slices(question: str, sentence: str, bold: str) -> None:
    spans = highlight(question, sentence)
    assert [sentence[s:e] for s, e in spans] == [bold]


def test_highlight_stays_silent_when_unsure() -> None:
    assert highlight("How many plots and gates?", "There are 40 plots and 3 gates.") == ()
    assert highlight("What did OpenAI unveil?", "OpenAI unveiled Sora in February 2024.") == ()
    # "Who was sacked?" asks for the one sacked, not for the name after "by".
    assert highlight("Who was sacked before halftime?", "Newton was sacked by Ware as time expired.") == ()
    assert highlight("Who was the first harbour master?", "Brennan was the first harbour master in Cork.") == ()


def test_chunk_offsets_slice_back_and_stay_in_paragraphs() -> None:
    paras = [
        "Super Bowl 50 was an American football game. The Denver Broncos won it 24–10. It was played on February 7, 2016. "
        "Mr. Smith sang the anthem. The game was in Santa Clara, California.",
        "Short one.",
        "A third paragraph talks about the U.S. economy in 1999. It has two sentences.",
    ]
    text = "\n\n".join(paras)
    ps = chunk(text, title="Super Bowl 50")
    assert ps
    bounds = [(m.start(), m.end()) for m in re.finditer(r"[^\n]+", text)]
    for p in ps:
        assert text[p.start:p.end] == p.text
        assert any(s <= p.start and p.end <= e for s, e in bounds), "a passage crossed a paragraph"
        for s, e in p.sentences:
            assert p.start <= s < e <= p.end
    assert ("Mr. Smith sang the anthem.") in [text[s:e] for s, e in sentences(text)]



@pytest.mark.parametrize(
    "text",
    [
        "The ruling in Harbour Board v. Ferry Guild of 1998 closed the pier. Boats moved south.",
        "The mill was built c. 1450 by the monks of the valley. It burned later.",
        "The letter was signed by A.B. Okafor and two clerks. Nobody answered it.",
        'She closed with a verse (Ps. 23:4) that everyone knew. Then the hall emptied.',
        "Tidal models were refined by Osei et al. 2019 and others. The maps improved.",
    ],
)
def test_sentences_do_not_end_at_versus_circa_initials_or_references(text: str) -> None:
    """A quote cut at "v." or "J.I." would be a broken citation: these dots do not end a sentence."""
    got = [text[s:e] for s, e in sentences(text)]
    assert len(got) == 2, got
    assert got[0].endswith(".") and got[1][0].isupper()


def test_sentences_still_end_after_an_acronym_before_a_new_sentence() -> None:
    text = "The crew was trained by the S.W.A.T. That year the unit grew."
    assert [text[s:e] for s, e in sentences(text)] == ["The crew was trained by the S.W.A.T.", "That year the unit grew."]

# --- golden subset of SQuAD dev part A ----------------------------------------------------

@pytest.fixture(scope="module")
def squad_report(embedder, tmp_path_factory: pytest.TempPathFactory) -> dict:
    if not SQUAD_A.is_file():
        pytest.skip("../shared/eval/squad-v1.1-dev-part-a.json is not here (it exists in CI and on developer machines)")
    from bench.quality import run

    # The first paragraphs of four articles (two per fold) and a fixed sample of their questions:
    # a regression check that indexes in seconds, not the benchmark (bench/quality.py is).
    return run(SQUAD_A, embedder, articles=[1, 4, 8, 16], max_paragraphs=6, limit=40, ooc_limit=20, seed=1,
               modes=["hybrid"], cache=tmp_path_factory.mktemp("squad-index"))


def test_golden_squad_subset_does_not_regress(squad_report: dict) -> None:
    m = squad_report["results"]["hybrid"]
    # Measured 0.80 / 0.925 / 0.875 / 1.0 / 0.025 refused with the fitted scorer and confidence
    # (2026-11-26, bundled model; 0.80 / 0.875 / 0.825 / 1.0 / 0.125 before them): floors sit a
    # few questions below so that noise does not fail the build but a real regression does.
    floors = {
        "answer_hit": 0.72, "citation_hit@3": 0.85, "paragraph_hit@1": 0.78,
        "abstain_out_of_corpus": 0.85,
    }
    low = {k: round(m[k], 3) for k, f in floors.items() if m[k] < f}
    assert not low, f"below the floor: {low} (all: { {k: round(v, 3) for k, v in m.items() if k != 'cv'} })"
    assert m["refused_answerable"] <= 0.15
