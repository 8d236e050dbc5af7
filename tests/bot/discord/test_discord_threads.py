# ruff: noqa: F811 - `world` is test_discord's fixture, requested by name
"""Follow-up questions on Discord (issue 29), end to end: the real discord.py client against the fake
Discord, which keeps every message and serves it back as channel history.

The conversation is read from Discord, not kept in the bot: a mention inside a thread where citebot
answered, a reply to one of its answers, a DM. Each reply that used context says how it read the question.
"""
from __future__ import annotations

from typing import Any

import pytest

from bot.discord.parse import turn_of_embed
from bot.discord.render import render_answer
from index import Answer, Citation, Turn
from tests.bot.discord.test_discord import (
    ALICE,
    TOKEN,
    World,
    is_post_in,
    pings_nobody,
    unrender,
    world,  # noqa: F401 - the running bot (a module fixture)
)
from tests.fake_discord import FakeDiscord, Request

pytestmark = pytest.mark.timeout(90)
PROFILE = "https://example.org/citebot-samples/01ai-profile"


def mention(world: World, text: str, **kw: Any) -> dict[str, Any]:
    me = world.bot.user
    return world.fake.message(kw.pop("guild", world.a), ALICE, f"<@{me['id']}> {text}", mentions=[me], **kw)


async def answer_in(fake: FakeDiscord, channel_id: str, count: int) -> Request:
    """The `count`-th message the bot posted in a channel or thread."""
    posts = await fake.wait_for(is_post_in(channel_id), count=count)
    return posts[count - 1]


def description(req: Request) -> str:
    embeds = req.payload.get("embeds") or []
    return embeds[0]["description"] if embeds else req.payload.get("content", "")


def stored(fake: FakeDiscord, channel_id: str, req: Request) -> dict[str, Any]:
    """The message a bot post became (as Discord keeps it), for a user to reply to."""
    return next(m for m in fake.history[channel_id] if m["embeds"] == req.payload.get("embeds") and m["author"]["bot"])


def test_a_mention_in_citebots_thread_and_a_reply_to_its_answer_continue_the_conversation(world: World) -> None:
    fake = world.fake
    asked = mention(world, "who founded 01.AI?")

    async def go() -> tuple[Request, Request, Request, Request]:
        await fake.dispatch(TOKEN, "MESSAGE_CREATE", asked)
        first = await answer_in(fake, asked["id"], 1)  # in the thread citebot started on the question
        thread = asked["id"]
        await fake.dispatch(TOKEN, "MESSAGE_CREATE", mention(world, "what were its first models called?", channel_id=thread))
        follow = await answer_in(fake, thread, 2)
        await fake.dispatch(TOKEN, "MESSAGE_CREATE", mention(world, "what is Sora?", channel_id=thread))
        sora = await answer_in(fake, thread, 3)
        # A reply to the first answer, after the Sora one: it follows the answer it replies to.
        reply = mention(world, "how long had it been around?", channel_id=thread, reply_to=stored(fake, thread, first))
        await fake.dispatch(TOKEN, "MESSAGE_CREATE", reply)
        again = await answer_in(fake, thread, 4)
        return first, follow, sora, again

    first, follow, sora, again = world.run(go())
    assert "Kai-Fu Lee" in unrender(description(first)) and "Reading this as" not in description(first)
    lines = description(follow).split("\n")
    assert lines[0] == "*Reading this as: what were 01.AI's first models called?*"
    assert "Yi" in unrender(lines[1]) and pings_nobody(follow)
    assert "Reading this as" not in description(sora) and "Sora" in unrender(description(sora))  # a switch
    assert "*Reading this as: how long had 01.AI been around?*" in description(again)
    assert fake.find(lambda r: r.method == "GET" and r.path == f"/channels/{asked['id']}/messages")
    # No new thread inside the thread.
    assert len(fake.find(lambda r: r.path.endswith("/threads") and asked["id"] in r.path)) == 1


def test_a_dm_follow_up_is_read_with_the_dm_before_it(world: World) -> None:
    fake = world.fake
    first = fake.message(None, ALICE, "who founded 01.AI?")
    dm = first["channel_id"]

    async def go() -> Request:
        await fake.dispatch(TOKEN, "MESSAGE_CREATE", first)
        await answer_in(fake, dm, 1)
        await fake.dispatch(TOKEN, "MESSAGE_CREATE", fake.message(None, ALICE, "what did he lead before?", channel_id=dm))
        return await answer_in(fake, dm, 2)

    follow = world.run(go())
    text = description(follow)
    assert text.startswith("*Reading this as: what did Kai-Fu Lee lead before?*") and "Google China" in unrender(text)


def test_a_mention_in_a_channel_starts_a_new_conversation(world: World) -> None:
    fake = world.fake
    asked = mention(world, "who made it?")

    async def go() -> Request:
        await fake.dispatch(TOKEN, "MESSAGE_CREATE", asked)
        return await answer_in(fake, asked["id"], 1)

    assert "Reading this as" not in description(world.run(go()))


def test_the_turn_is_read_back_from_the_answer_citebot_posted() -> None:
    cite = Citation(n=1, title="Who is behind 01.AI? [profile]", date="2024-03-04", url=PROFILE, source="/srv/01ai.md",
                    snippet="It was founded in 2023 by Kai-Fu Lee.", start=0, end=37, score=1.0, answer_start=0, answer_end=37)
    answer = Answer(question="when was it founded?", found=True, answer="It was founded in 2023 by Kai-Fu Lee.",
                    citations=(cite,), read_as="when was 01.AI founded?", highlights=((18, 22),))
    embed = render_answer(answer).embeds[0]
    assert turn_of_embed(embed, 5.0).turn == Turn("when was 01.AI founded?", "It was founded in 2023 by Kai-Fu Lee.",
                                                  "Who is behind 01.AI? [profile]", PROFILE)
    local = Citation(**{**cite.__dict__, "url": None})
    embed = render_answer(Answer(question="who?", found=True, answer=cite.snippet, citations=(local,))).embeds[0]
    assert turn_of_embed(embed, 5.0).turn == Turn("who?", cite.snippet, "Who is behind 01.AI? [profile]", "01ai.md")
    assert "/srv" not in str(embed)
    assert turn_of_embed({"title": "Sources (3)", "description": "• a"}, 1.0) is None
