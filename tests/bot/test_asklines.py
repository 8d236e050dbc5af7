"""`citebot ask --json -` with conversations (issue 29): JSON-object lines, interleaved ids, and error
lines that never end the run (issue 27)."""
from __future__ import annotations

import io
import json
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

from bot.asklines import Conversations, LineError, answer_lines, parse_line
from index import Answer, Citation, Turn, UserError


def fake_ask(seen: list[tuple[str, list[Turn]]]):
    """An engine stand-in that records what it was given and answers each question with itself."""
    def ask(question: str, turns: Sequence[Turn]) -> Answer:
        seen.append((question, list(turns)))
        if question == "boom?":
            raise RuntimeError("/srv/secret/path exploded")
        if not question.strip():
            raise UserError("Ask a question")
        cite = Citation(n=1, title=f"About {question}", date=None, url=None, source=f"/a/{len(seen)}.md",
                        snippet=question, start=0, end=len(question), score=1.0, answer_start=0, answer_end=len(question))
        return Answer(question=question, found=True, answer=question, citations=(cite,),
                      read_as=f"{question} (read)" if turns else None)
    return ask


def run_lines(text: str, *, as_json: bool = True) -> tuple[list[str], list[tuple[str, list[Turn]]]]:
    out: list[str] = []
    seen: list[tuple[str, list[Turn]]] = []
    answer_lines(io.StringIO(text), fake_ask(seen), out.append, as_json=as_json, render=lambda a: f"> {a.answer}")
    return out, seen


@pytest.mark.parametrize(("line", "parsed"), [
    ("who founded 01.AI?", ("who founded 01.AI?", None)),
    ('{"question": "who founded 01.AI?", "conversation": "c1"}', ("who founded 01.AI?", "c1")),
    ('{"question": "and it?", "conversation": 7}', ("and it?", "7")),
    ('{"question": "alone?"}', ("alone?", None)),
    ("what does {x} mean?", ("what does {x} mean?", None)),  # a plain line, as before
])
def test_lines_are_questions_or_question_objects(line: str, parsed: tuple[str, str | None]) -> None:
    assert parse_line(line) == parsed


@pytest.mark.parametrize("line", ['{"question": "cut short', '{"question": 3}', '{"q": "x"}', '{not json}', '{"question": "x", "conversation": [1]}',
                                  '{"question": "x", "conversation": true}'])
def test_malformed_objects_are_refused_with_the_reason(line: str) -> None:
    with pytest.raises(LineError, match="question|conversation|JSON"):
        parse_line(line)


def test_same_id_is_one_conversation_in_order_and_ids_interleave() -> None:
    text = "\n".join([
        '{"question": "who founded 01.AI?", "conversation": "a"}',
        '{"question": "what is Sora?", "conversation": "b"}',
        "a standalone question?",
        '{"question": "how long had it been around?", "conversation": "a"}',
        '{"question": "who made it?", "conversation": "b"}',
    ])
    out, seen = run_lines(text)
    rows = [json.loads(x) for x in out]
    assert [r["question"] for r in rows] == ["who founded 01.AI?", "what is Sora?", "a standalone question?",
                                            "how long had it been around?", "who made it?"]
    assert [r.get("conversation") for r in rows] == ["a", "b", None, "a", "b"]
    assert [[t.question for t in turns] for _, turns in seen] == [[], [], [], ["who founded 01.AI?"], ["what is Sora?"]]
    assert rows[3]["read_as"] == "how long had it been around? (read)" and rows[2]["read_as"] is None
    assert "conversation" not in rows[2]  # a plain line's output is exactly as before (plus read_as)


def test_a_bad_line_gets_an_error_line_and_the_run_goes_on() -> None:
    text = "\n".join(['{"question": "first?", "conversation": "a"}', "{broken", '{"nope": 1}', "boom?",
                      '{"question": "  ", "conversation": "a"}', '{"question": "second?", "conversation": "a"}'])
    out, seen = run_lines(text)
    rows = [json.loads(x) for x in out]
    assert len(rows) == 6
    assert rows[1]["found"] is False and "line 2" in rows[1]["error"] and "JSON" in rows[1]["error"]
    errors = [r.get("error") for r in rows]
    assert errors[0] is None and errors[5] is None
    assert "line 3" in errors[2] and "question" in errors[2]
    # An unexpected failure: a friendly message, no traceback, no server path.
    assert "something went wrong" in errors[3] and "RuntimeError" in errors[3] and "/srv" not in errors[3]
    assert errors[4] == "Ask a question" and rows[4]["conversation"] == "a"
    assert all(set(r) >= {"question", "found", "answer", "citations", "read_as"} for r in rows)
    # A failed turn is not part of the conversation: the second question sees only the first.
    assert [t.question for t in seen[-1][1]] == ["first?"]


def test_text_output_shows_the_answer_or_the_reason() -> None:
    out, _ = run_lines("hello?\nboom?\n", as_json=False)
    assert out[0] == "> hello?\n" and out[1].startswith("citebot: something went wrong")


def test_conversations_are_bounded_in_turns_and_ids() -> None:
    conv = Conversations(turns=2, ids=3)
    for i in range(5):
        conv.add("a", Turn(f"q{i}?"))
    assert [t.question for t in conv.get("a")] == ["q3?", "q4?"]
    for cid in "bcd":
        conv.add(cid, Turn("x?"))
    assert conv.get("a") == [] and conv.get("d") and conv.get(None) == []


def test_cli_stream_survives_a_failing_question_without_a_traceback(examples_index: Path, monkeypatch: pytest.MonkeyPatch,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    """The real `citebot ask --json -` in process: a conversation, a malformed line, a failure inside the engine."""
    from bot import cli
    from index import Engine

    real = Engine.ask

    def ask(self, question, *a, **kw):  # type: ignore[no-untyped-def]
        if "explode" in question:
            raise RuntimeError("kaboom")
        return real(self, question, *a, **kw)

    monkeypatch.setattr(Engine, "ask", ask)
    monkeypatch.setattr(sys, "stdin", io.StringIO("\n".join([
        '{"question": "who founded 01.AI?", "conversation": "x"}', '{"question": "please explode?"}', "{oops",
        '{"question": "what were its first models called?", "conversation": "x"}', "what is Sora?"]) + "\n"))
    assert cli.main(["ask", "--json", "--index", str(examples_index), "-"]) == 0
    out, err = capsys.readouterr()
    rows = [json.loads(x) for x in out.splitlines()]
    assert [r["found"] for r in rows] == [True, False, False, True, True]
    assert "RuntimeError" in rows[1]["error"] and "line 3" in rows[2]["error"]
    assert rows[3]["read_as"] == "what were 01.AI's first models called?" and "Yi" in rows[3]["answer"]
    assert rows[4]["read_as"] is None and "Traceback" not in err + out


def test_cli_single_question_failure_is_one_friendly_line(examples_index: Path, monkeypatch: pytest.MonkeyPatch,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    from bot import cli
    from index import Engine

    def ask(self, question, *a, **kw):  # type: ignore[no-untyped-def]
        raise RuntimeError("kaboom")

    monkeypatch.setattr(Engine, "ask", ask)
    assert cli.main(["ask", "--index", str(examples_index), "who founded 01.AI?"]) == 1
    out, err = capsys.readouterr()
    assert "Traceback" not in err + out and err.startswith("citebot: unexpected error")
