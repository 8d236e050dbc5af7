"""The reader's training pairs (bench/reader_pairs.py): positives hold the answer, negatives never do."""
from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from bench.reader_pairs import NEGATIVE_KINDS, build_pairs, holds, load_items, removable, swap_question

# Written for these tests: two articles in SQuAD's format.
ARTICLES = [
    {"title": "Larkspur_ferry", "paragraphs": [
        {"context": "The Larkspur ferry first sailed across the bay in 1911. Its hull was designed by Mira Okafor. "
                    "The ferry carries about 400 passengers. Tickets are sold at the harbour office.",
         "qas": [
             {"id": "q1", "question": "When did the Larkspur ferry first sail?", "answers": [{"text": "1911", "answer_start": 51}]},
             {"id": "q2", "question": "Who designed the hull of the Larkspur ferry?", "answers": [{"text": "Mira Okafor", "answer_start": 89}]},
             {"id": "q3", "question": "How many passengers does the ferry carry?", "answers": [{"text": "400", "answer_start": 127}]},
         ]},
        {"context": "In 1960 the Larkspur ferry was rebuilt in Oakland. Engineers from Portland fitted new engines.",
         "qas": [{"id": "q4", "question": "Where was the Larkspur ferry rebuilt?", "answers": [{"text": "Oakland", "answer_start": 42}]}]},
    ]},
    {"title": "Harbour_cafe", "paragraphs": [
        {"context": "The harbour cafe opened in 1987. It sells soup and bread to ferry passengers every morning.",
         "qas": [{"id": "q5", "question": "When did the harbour cafe open?", "answers": [{"text": "1987", "answer_start": 27}]},
                 {"id": "q6", "question": "What does the cafe sell on Sundays?", "answers": [], "is_impossible": True}]},
    ]},
]


@pytest.fixture
def items(tmp_path: Path):
    for art in ARTICLES:
        for para in art["paragraphs"]:
            for qa in para["qas"]:
                for a in qa["answers"]:
                    a["answer_start"] = para["context"].index(a["text"])
    path = tmp_path / "squad.json"
    path.write_text(json.dumps({"data": ARTICLES}))
    return load_items(path)


def test_gold_sentence_is_the_one_holding_the_answer(items) -> None:
    for it in items:
        if it.answers:
            assert it.gold >= 0
            assert holds(it.sents[it.gold], it.answers)
        else:
            assert it.gold == -1


def test_positives_hold_the_answer_and_negatives_never_do(items) -> None:
    pairs = list(build_pairs(items, random.Random(0), swapped=1.0))
    by_q = {it.question: it for it in items}
    kinds = {p.kind for p in pairs}
    assert {"positive", "paragraph", "removed", "retrieved"} <= kinds <= {"positive", *NEGATIVE_KINDS}  # what --kinds offers
    for p in pairs:
        it = by_q.get(p.question)
        if p.kind == "swapped":
            assert p.question not in by_q and p.label == 0
            continue
        assert it is not None
        assert (p.label == 1) == (p.kind == "positive")
        assert holds(p.sentence, it.answers) == (p.label == 1), p
    # Unanswerable questions give no pairs at all.
    assert not any(p.question == "What does the cafe sell on Sundays?" for p in pairs)


def test_removed_examples_come_from_the_paragraph_without_its_answering_sentence(items) -> None:
    pairs = [p for p in build_pairs(items, random.Random(0)) if p.kind == "removed"]
    assert pairs
    for p in pairs:
        it = next(i for i in items if i.question == p.question)
        assert removable(it)
        assert p.sentence in it.sents and p.sentence != it.sents[it.gold]
        # The paragraph with the answering sentence deleted no longer holds the answer anywhere.
        rest = " ".join(s for k, s in enumerate(it.sents) if k != it.gold)
        assert not holds(rest, it.answers)


def test_swapped_question_changes_a_name_number_or_polarity(items) -> None:
    it = next(i for i in items if i.question.startswith("When did the Larkspur"))
    article = [s for i in items if i.article == it.article for s in i.sents]
    seen = {swap_question(it, article, random.Random(seed)) for seed in range(20)}
    seen.discard(None)
    assert seen and it.question not in seen
    assert all("Larkspur" not in q or "didn't" in q for q in seen)
    # Nothing to swap and no auxiliary to negate: no pair rather than a garbled one.
    who = next(i for i in items if i.question.startswith("Who designed"))
    assert swap_question(who, article, random.Random(0)) is None
