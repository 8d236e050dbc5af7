"""Follow-up questions in Slack (issue 29), end to end: the real Bolt app over HTTP, the real model, and
the mock Slack keeping every message so conversations.replies / .history serve the thread back.

The context comes from Slack itself (the bot's earlier answer carries its question and source), so a
second, fresh app instance (another replica, or the app after a restart) answers the follow-up too.
"""
from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest

from bot.service import CitebotService
from bot.slack.parse import turn_of_message
from bot.slack.render import ACTION_UP, render_answer
from bot.thread import recent
from index import Answer, Citation, Turn
from tests.bot.slack.test_slack import HttpSlackApp, answered, buttons, mention, message, run, visible
from tests.mock_slack import MockSlack, block_errors

pytestmark = pytest.mark.timeout(90)
PROFILE = "https://example.org/citebot-samples/01ai-profile"


def now_ts(offset: float = 0.0) -> str:
    return f"{time.time() + offset:.6f}"


async def say(app: HttpSlackApp, slack: MockSlack, event: dict[str, Any], event_id: str) -> None:
    """A user's message: Slack keeps it in the conversation and delivers the event."""
    slack.add_message(event)
    status, _, seconds = await app.event(event, event_id)
    assert status == 200 and seconds < 3


def read_as_line(call: Any) -> str | None:
    lines = [e["text"] for b in call.body["blocks"] if b["type"] == "context" for e in b["elements"]
             if "Reading this as" in e["text"]]
    return lines[0] if lines else None


def test_a_mention_in_a_thread_where_citebot_answered_is_read_with_it_even_by_a_fresh_replica(service: CitebotService) -> None:
    async def scenario() -> None:
        async with MockSlack() as slack:
            parent = now_ts()
            async with HttpSlackApp(service, slack) as app:
                await say(app, slack, mention("who founded 01.AI?", parent), "Ev1")
                first = await answered(slack, "chat.postMessage", thread_ts=parent)
                assert "Kai-Fu Lee" in first.text and read_as_line(first) is None
                # The 👍 carries the turn for the next question: no server path in it.
                value = json.loads(buttons(first)[ACTION_UP]["value"])
                assert value["q"] == "who founded 01.AI?" and value["s"] == PROFILE and "Kai-Fu Lee" in value["a"]
            # A second, fresh app instance (another replica, or a restart): it knows nothing but Slack.
            async with HttpSlackApp(service, slack) as other:
                await say(other, slack, mention("what were its first models called?", now_ts(), thread_ts=parent), "Ev2")
                follow = await slack.wait_for(lambda c: c.path == "chat.postMessage" and c is not first
                                              and c.body.get("thread_ts") == parent)
                assert read_as_line(follow) == "_Reading this as: what were 01.AI's first models called?_"
                assert "Yi" in visible(follow) and block_errors(follow.body["blocks"]) == []
                assert [c.body["ts"] for c in slack.of("conversations.replies")] == [parent]
                # A switch in the same thread names its own subject: read alone.
                await say(other, slack, mention("what is Sora?", now_ts(), thread_ts=parent), "Ev3")
                sora = await slack.wait_for(lambda c: c.path == "chat.postMessage" and "Sora" in c.text)
                assert read_as_line(sora) is None
    run(scenario())


def test_a_dm_follow_up_is_read_with_the_dm_before_it(service: CitebotService) -> None:
    async def scenario() -> None:
        async with MockSlack() as slack, HttpSlackApp(service, slack) as app:
            await say(app, slack, message("who founded 01.AI?", now_ts(), channel="D7"), "Ev1")
            await answered(slack, "chat.postMessage", channel="D7")
            await say(app, slack, message("what did he lead before?", now_ts(), channel="D7"), "Ev2")
            follow = await slack.wait_for(lambda c: c.path == "chat.postMessage" and read_as_line(c) is not None)
            assert read_as_line(follow) == "_Reading this as: what did Kai-Fu Lee lead before?_"
            assert "Google China" in visible(follow) and "thread_ts" not in follow.body
            history = slack.of("conversations.history")
            assert history and all(c.body["channel"] == "D7" for c in history)
    run(scenario())


def test_without_the_history_scope_a_question_is_read_alone_not_refused(service: CitebotService) -> None:
    async def scenario() -> None:
        async with MockSlack() as slack, HttpSlackApp(service, slack) as app:
            slack.scopes.discard("channels:history")
            parent = now_ts()
            await say(app, slack, mention("who founded 01.AI?", parent), "Ev1")
            await answered(slack, "chat.postMessage", thread_ts=parent)
            await say(app, slack, mention("what were its first models called?", now_ts(), thread_ts=parent), "Ev2")
            await slack.wait_for(lambda c: c.path == "conversations.replies")
            await asyncio.sleep(1.0)
            assert ("conversations.replies", "missing_scope") in slack.refused
            posted = [c for c in slack.posts if c.body.get("thread_ts") == parent]
            assert all(read_as_line(c) is None for c in posted)  # answered (or not) alone, never an error
            assert not any("went wrong" in c.text for c in slack.posts)
    run(scenario())


def test_turns_are_read_back_only_from_citebots_own_answers_and_bounded() -> None:
    cite = Citation(n=1, title="Who is behind 01.AI?", date=None, url=PROFILE, source="/srv/articles/01ai.md",
                    snippet="It was founded by Kai-Fu Lee.", start=0, end=29, score=1.0, answer_start=0, answer_end=29)
    answer = Answer(question="how long had it been around?", found=True, answer="It was founded by Kai-Fu Lee.",
                    citations=(cite,), read_as="how long had 01.AI been around?")
    msg = render_answer(answer)
    ours = {"bot_id": "BBOT", "user": "UBOT", "ts": "1700000000.000100", "blocks": msg.blocks}
    turn = turn_of_message(ours, "UBOT")
    assert turn is not None and turn.turn == Turn("how long had 01.AI been around?", "It was founded by Kai-Fu Lee.",
                                                  "Who is behind 01.AI?", PROFILE)
    assert "/srv" not in json.dumps(msg.blocks)
    assert turn_of_message({**ours, "bot_id": None}, "UBOT") is None  # a person pasting our blocks
    assert turn_of_message({**ours, "user": "UOTHER"}, "UBOT") is None  # another bot's message
    assert turn_of_message({"bot_id": "BBOT", "ts": "1", "blocks": []}, "UBOT") is None
    old, new = 1_000.0, 5_000.0
    turns = [type(turn)(at, turn.turn) for at in (old, new - 3, new - 2, new - 1, new - 0.5)]
    assert len(recent(turns, window=3600, now=new)) == 3  # the last three, none older than the window
    assert recent(turns, window=10, now=new + 100) == []
