"""The Discord bot end to end: real discord.py, real model and index, a fake Discord on 127.0.0.1.

One bot is started through `serve()` for the module (as `citebot discord` starts it) and driven by
gateway events; assertions are on what reaches the fake Discord: callbacks, follow-ups, threads,
flags and allowed_mentions — what a user would notice.
"""
from __future__ import annotations

import asyncio
import json
import logging
import re
import shutil
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bot.config import Settings
from bot.discord.admin import ADMIN_ONLY, MESSAGE_CONTENT_OFF
from bot.discord.app import api_base, configure_endpoints, serve, shard_options
from bot.discord.commands import HIDDEN, THANKS
from bot.discord.components import sources_view
from bot.discord.render import (
    CONTENT_LIMIT,
    DESCRIPTION_LIMIT,
    TITLE_LIMIT,
    TOTAL_LIMIT,
    embed_length,
    escape_markdown,
    render_answer,
    render_more,
    render_passages,
    render_sources,
    sources_pages,
)
from bot.feedback import FeedbackStore
from bot.render.common import NOT_FOUND, one_line
from bot.service import APOLOGY, CitebotService
from index.engine import Document, Engine
from index.errors import UserError
from index.store import SourceInfo
from index.types import Answer, Citation
from tests.fake_discord import (
    FORUM,
    MANAGE_GUILD,
    MESSAGE_CONTENT,
    BotAccount,
    FakeDiscord,
    Guild,
    Request,
    user_payload,
)

pytestmark = pytest.mark.timeout(120)

TOKEN = "fake.discord.token-A"
GARDEN = "How much do plot holders pay per season?"
EPHEMERAL = 64
DEFERRED = 5  # DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE
LIGHTHOUSE = b"""---
title: "Marrowby lighthouse restored"
date: 2024-04-02
---

The Marrowby lighthouse was restored by the stonemason Petra Quillfeather over two winters.
Its lamp, dark since 1962, now shines again every night from dusk to dawn.
"""
HANDBOOK = b"""---
title: "Staff handbook: leave"
date: 2024-02-01
---

Every employee gets twenty-seven days of paid annual leave, plus public holidays.
Unused leave may be carried over until the end of March of the following year.
"""


class LoopThread:
    """An asyncio loop on its own thread, so module fixtures can keep a bot running between tests."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="discord-test-loop", daemon=True)
        self.thread.start()

    def run(self, coro: Any, timeout: float = 30.0) -> Any:
        """Run a coroutine on the loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self) -> None:
        """Cancel what is left, then stop the loop and its thread."""
        async def cancel_rest() -> None:
            rest = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for t in rest:
                t.cancel()
            await asyncio.gather(*rest, return_exceptions=True)

        self.run(cancel_rest(), timeout=10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()


class Records(logging.Handler):
    """Every log record, formatted, to check tokens never reach the logs."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record) + (record.exc_text or ""))


@dataclass
class World:
    """The fake Discord, the bot account on it, two servers and the running bot's service."""

    lt: LoopThread
    fake: FakeDiscord
    bot: BotAccount
    a: Guild
    b: Guild
    service: CitebotService
    logs: Records
    help: str  # a text channel answered unasked (CITEBOT_AUTO_CHANNELS)
    forum: str  # a forum channel answered unasked
    hr: str  # a help channel limited to the `hr` collection
    quiet: str  # a channel admins can turn on with /channel

    def run(self, coro: Any, timeout: float = 30.0) -> Any:
        """Run on the bot's loop."""
        return self.lt.run(coro, timeout)


def make_service(index: Path, dest: Path, embedder, settings: Settings | None = None, **options: Any) -> CitebotService:
    """A service over a private copy of the examples index, like conftest's `service` (channels from `settings`)."""
    from bot.channels import channel_store

    shutil.copytree(index, dest)
    engine = Engine(dest, embedder)
    channels = channel_store(settings or Settings(_env_file=None), dest)
    return CitebotService(engine, FeedbackStore(dest / "feedback.sqlite"), channels=channels, **options)


def discord_settings(fake: FakeDiscord, token: str, **extra: str) -> Settings:
    """Settings as the environment would give them, pointing discord.py at the fake."""
    return Settings(_env_file=None, DISCORD_TOKEN=token, DISCORD_API_BASE_URL=fake.url,
                    DISCORD_GATEWAY_URL=fake.gateway_url, **extra)


async def start_bot(fake: FakeDiscord, token: str, settings: Settings, service: CitebotService) -> asyncio.Task:
    """`serve()` in a task, returned once the bot identified and synced its commands."""
    task = asyncio.create_task(serve(settings, service))
    bot = fake.bots[token]
    await fake.wait_for(lambda r: r.method == "PUT" and r.path.startswith(f"/applications/{bot.app_id}/"), timeout=15)
    deadline = time.monotonic() + 15
    while not fake.session_of(token) or not bot.sockets:
        if task.done():
            task.result()
        assert time.monotonic() < deadline, "the bot never identified on the gateway"
        await asyncio.sleep(0.02)
    return task


async def stop_bot(task: asyncio.Task) -> None:
    """Cancel `serve()`; it must close the connection and return."""
    task.cancel()
    try:
        await asyncio.wait_for(task, 10)
    except asyncio.CancelledError:
        pass


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, _examples_index: Path, embedder):
    """A bot started through `serve()` against the fake, for the whole module."""
    logs = Records()
    watched = [logging.getLogger(n) for n in ("bot", "discord", "index")]
    levels = [lg.level for lg in watched]
    for lg in watched:
        lg.addHandler(logs)
        lg.setLevel(logging.DEBUG)
    lt = LoopThread()
    fake = FakeDiscord(heartbeat_interval=0.5)
    lt.run(fake.start())
    bot = fake.add_bot(TOKEN)
    a, b = fake.add_guild("Guild A"), fake.add_guild("Guild B")
    help_, forum = fake.add_channel(a, "help"), fake.add_channel(a, "questions", FORUM)
    hr, quiet = fake.add_channel(a, "hr-help"), fake.add_channel(a, "quiet")
    settings = discord_settings(fake, TOKEN, CITEBOT_AUTO_CHANNELS=f"{help_},{forum} {hr}",
                                CITEBOT_CHANNEL_COLLECTIONS=f"{hr}=hr")
    service = make_service(_examples_index, tmp_path_factory.mktemp("discord") / "index", embedder, settings,
                           rate_limit_per_minute=0, auto_per_channel_per_minute=0)
    # An article only #hr-help may answer from (the operator's `citebot ingest --collection hr`).
    service.engine.ingest([Document(name="handbook.md", source="hr/handbook.md", data=HANDBOOK)], collection="hr")
    task = lt.run(start_bot(fake, TOKEN, settings, service))
    yield World(lt, fake, bot, a, b, service, logs, help_, forum, hr, quiet)
    lt.run(stop_bot(task))
    lt.run(fake.close())
    lt.close()
    for lg, level in zip(watched, levels):
        lg.removeHandler(logs)
        lg.setLevel(level)


# --- helpers: what a user does, what Discord receives --------------------------------------------

ALICE = user_payload("1100000000000000001", "alice")
BOB = user_payload("1100000000000000002", "bob")


def is_callback(payload: dict[str, Any]):
    """Matches the interaction callback of this interaction."""
    return lambda r: r.method == "POST" and r.path == f"/interactions/{payload['id']}/{payload['token']}/callback"


def is_followup(world: World, payload: dict[str, Any]):
    """Matches a follow-up message of this interaction."""
    return lambda r: r.method == "POST" and r.path == f"/webhooks/{world.bot.app_id}/{payload['token']}"


async def interact(world: World, payload: dict[str, Any], *, followup: bool = True,
                   timeout: float = 20.0) -> tuple[float, Request, Request | None]:
    """Send an INTERACTION_CREATE; (seconds until the callback, callback, first follow-up or None)."""
    sent = await world.fake.dispatch(TOKEN, "INTERACTION_CREATE", payload)
    (cb,) = await world.fake.wait_for(is_callback(payload), timeout=timeout)
    fu = None
    if followup:
        (fu,) = await world.fake.wait_for(is_followup(world, payload), timeout=timeout)
    return cb.at - sent, cb, fu


def ask(world: World, question: str, *, guild: Guild | None = None, user: dict[str, Any] = ALICE,
        **options: Any) -> tuple[float, Request, Request]:
    """/ask question:<question> as `user` in `guild` (default: Guild A)."""
    payload = world.fake.slash(world.bot, guild or world.a, user, "ask", {"question": question, **options})
    return world.run(interact(world, payload))


def unrender(text: str) -> str:
    """What a reader sees: markdown escapes, bold markers and zero-width spaces removed."""
    return re.sub(r"\\([^\w\s])", r"\1", text.replace("**", "")).replace("\u200b", "")


def source_links(embed: dict[str, Any]) -> list[str | None]:
    """The article link of each source line under a compact answer (the quote's source first)."""
    lines = [ln for ln in embed["description"].split("\n")[1:] if ln.startswith(("— ", "• "))]
    return [(m.group(1) if (m := re.search(r"\]\((https?://[^)]+)\)", ln)) else None) for ln in lines]


def cited(embed: dict[str, Any]) -> list[tuple[str | None, str]]:
    """(link, quote) per passage block of a "Show passages" embed."""
    out = []
    for block in embed["description"].split("\n\n"):
        link = re.search(r"\]\((https?://[^)]+)\)\*\*", block)
        quote = next(line for line in block.split("\n") if line.startswith("> "))
        out.append((link.group(1) if link else None, unrender(quote[2:])))
    return out


def assert_quotes_exact(world: World, embed: dict[str, Any]) -> None:
    """Every quoted piece (between … marks) is verbatim text of the article the citation links to."""
    rows = world.service.engine.sources()
    by_url = {r.url: r.source for r in rows if r.url}
    texts = {r.source: one_line(world.service.engine.article_text(r.source) or "") for r in rows}
    for link, quote in cited(embed):
        haystacks = [texts[by_url[link]]] if link in by_url else list(texts.values())
        for piece in filter(None, (p.strip() for p in quote.split("…"))):
            assert any(piece in t for t in haystacks), f"not a verbatim quote: {piece!r}"


def pings_nobody(req: Request) -> bool:
    """allowed_mentions lets nothing ping: no @everyone/@here, roles, users, nor the replied-to author."""
    allowed = req.payload.get("allowed_mentions")
    return allowed is not None and allowed.get("parse") == [] and not allowed.get("users") \
        and not allowed.get("roles") and not allowed.get("replied_user")


def flags(req: Request) -> int:
    """The message flags of a callback or follow-up."""
    return int(req.payload.get("flags") or 0)


# --- startup --------------------------------------------------------------------------------------


def test_login_syncs_slash_commands_globally(world: World) -> None:
    put = world.fake.find(lambda r: r.method == "PUT" and "/commands" in r.path)
    assert [r.path for r in put] == [f"/applications/{world.bot.app_id}/commands"]
    commands = {c["name"]: c for c in put[0].body}
    assert set(commands) == {"ask", "sources", "ingest", "forget", "channel"}
    assert int(commands["ingest"]["default_member_permissions"]) == MANAGE_GUILD
    assert int(commands["channel"]["default_member_permissions"]) == MANAGE_GUILD
    assert commands["ask"]["default_member_permissions"] is None
    question = commands["ask"]["options"][0]
    assert question["name"] == "question" and question["max_length"] == world.service.max_question_chars
    assert world.fake.find(lambda r: r.path == "/users/@me")[0].token == TOKEN
    assert world.fake.session_of(TOKEN)[0].shard == [0, 1]


# --- /ask -----------------------------------------------------------------------------------------


def test_ask_defers_within_deadline_then_cites_the_article(world: World) -> None:
    took, cb, fu = ask(world, "Who founded 01.AI?")
    assert took < 3.0
    assert cb.body["type"] == DEFERRED and not flags(cb)
    assert not flags(fu) and pings_nobody(fu)
    (embed,) = fu.payload["embeds"]
    assert embed["title"] == "Who founded 01.AI?"
    assert embed["description"].startswith("> ")
    assert "Kai-Fu Lee" in embed["description"].split("\n")[0]
    # compact: the quote, then its source as one line (title · date, linked)
    assert source_links(embed)[0] == "https://example.org/citebot-samples/01ai-profile"
    source = unrender(embed["description"].split("\n")[1])
    assert source.startswith("— [Who is behind 01.AI? A short profile](") and " · 2024-03-04" in source
    # no quoted passages in the reply itself (they sit behind "Show passages"); the quote may be two
    # sentences when the answer leans on the one before ("It was founded in 2023 by ...")
    assert len(embed["description"]) < 900 and "\n> " not in embed["description"]
    buttons = [c for row in fu.payload["components"] for c in row["components"]]
    assert [b.get("label") or b["emoji"]["name"] for b in buttons] == ["Show passages", "👍", "👎"]
    assert all(len(b["custom_id"]) <= 100 for b in buttons)


def test_private_ask_is_ephemeral(world: World) -> None:
    _, cb, fu = ask(world, GARDEN, private=True)
    assert cb.body["type"] == DEFERRED and flags(cb) == EPHEMERAL
    assert "25 euros" in unrender(fu.payload["embeds"][0]["description"])


def test_not_found_is_said_plainly_and_ephemerally(world: World) -> None:
    payload = world.fake.slash(world.bot, world.a, ALICE, "ask", {"question": "What is the capital of France?"})
    _, cb, fu = world.run(interact(world, payload))
    assert fu.payload["content"].startswith(NOT_FOUND)
    assert flags(fu) == EPHEMERAL and pings_nobody(fu)
    # the public "thinking…" was removed, so nobody else sees a dangling message
    assert world.fake.find(lambda r: r.method == "DELETE" and r.path.endswith(f"/{payload['token']}/messages/@original"))


def test_too_long_question_gets_its_reason_at_once(world: World) -> None:
    payload = world.fake.slash(world.bot, world.a, ALICE, "ask", {"question": "why " * 200})
    _, cb, _ = world.run(interact(world, payload, followup=False))
    assert cb.body["type"] == 4 and flags(cb) == EPHEMERAL
    assert "characters long" in cb.payload["content"]


def test_mass_mentions_in_a_question_never_ping(world: World) -> None:
    _, _, fu = ask(world, "@everyone @here <@&42> <@1100000000000000002> When was Python 3.13 released?")
    assert pings_nobody(fu)
    title = fu.payload["embeds"][0]["title"]
    assert "@everyone" not in title and "@here" not in title and "<@&42>" not in title
    assert unrender(title).startswith("@everyone @here")  # the words are still there, inert


def test_internal_error_gets_an_apology_and_the_bot_keeps_running(world: World, monkeypatch, caplog) -> None:
    def broken(*args: Any, **kwargs: Any) -> Answer:
        raise RuntimeError("index exploded")

    monkeypatch.setattr(world.service.engine, "ask", broken)
    with caplog.at_level(logging.ERROR, logger="bot"):
        _, _, fu = ask(world, "Who founded 01.AI?")
    assert fu.payload["content"] == APOLOGY and flags(fu) == EPHEMERAL
    assert any("index exploded" in (r.exc_text or "") or r.exc_info for r in caplog.records)
    monkeypatch.undo()
    _, _, fu = ask(world, "Who founded 01.AI?")
    assert fu.payload["embeds"]


# --- buttons ---------------------------------------------------------------------------------------


def answer_message(world: World, fu: Request) -> dict[str, Any]:
    """The answer message as Discord stores it (what a later button click carries)."""
    return world.fake._message_out(world.a.channel_id, world.bot.user, fu.payload)


def button(fu: Request, index: int) -> str:
    """custom_id of the answer's n-th button (0 More sources, 1 👍, 2 👎)."""
    return [c for row in fu.payload["components"] for c in row["components"]][index]["custom_id"]


def test_passages_are_one_click_away_and_shown_ephemerally(world: World) -> None:
    _, _, fu = ask(world, GARDEN)
    answer = unrender(fu.payload["embeds"][0]["description"].split("\n")[0][2:])
    click = world.fake.click(world.bot, world.a, BOB, answer_message(world, fu), button(fu, 0))
    _, cb, more = world.run(interact(world, click))
    assert flags(cb) == EPHEMERAL and flags(more) == EPHEMERAL
    (embed,) = more.payload["embeds"]
    assert embed["title"] == "Passages" and len(cited(embed)) >= 2
    # the quote's own passage comes first, with the answer sentence in it, from the linked article
    link, first = cited(embed)[0]
    assert answer in first and link == source_links(fu.payload["embeds"][0])[0]
    assert_quotes_exact(world, embed)


def test_votes_are_recorded_with_question_answer_and_guild(world: World) -> None:
    _, _, fu = ask(world, GARDEN)
    click = world.fake.click(world.bot, world.a, BOB, answer_message(world, fu), button(fu, 2))
    _, _, thanks = world.run(interact(world, click))
    assert thanks.payload["content"] == THANKS and flags(thanks) == EPHEMERAL
    row = world.service.feedback.report()[0]
    assert (row.vote, row.platform, row.scope, row.user) == (-1, "discord", world.a.id, BOB["id"])
    shown = fu.payload["embeds"][0]["description"].split("\n")[0]
    assert row.question == GARDEN and row.answer == unrender(shown[2:])


def test_vote_after_a_restart_recovers_the_question_from_the_embed(world: World) -> None:
    _, _, fu = ask(world, "When was Python 3.13 released?")
    message = answer_message(world, fu)
    # as if the bot restarted since it sent this answer: its button keys mean nothing now
    unknown_key = "citebot:up:0123456789ab"
    message["components"][0]["components"][1]["custom_id"] = unknown_key
    click = world.fake.click(world.bot, world.a, BOB, message, unknown_key)
    _, _, thanks = world.run(interact(world, click))
    assert thanks.payload["content"] == THANKS
    row = world.service.feedback.report(include_up=True)[0]
    assert row.vote == 1 and row.question == "When was Python 3.13 released?"


# --- mentions, threads, DMs ------------------------------------------------------------------------


def test_mention_is_answered_in_a_thread_and_other_messages_are_ignored(world: World) -> None:
    fake, me = world.fake, world.bot.user
    ignored = [
        fake.message(world.a, ALICE, "who founded 01.AI?"),  # no mention
        fake.message(world.a, ALICE, "@everyone who founded 01.AI?"),  # @everyone is not asking the bot
        fake.message(world.a, user_payload("1200000000000000009", "otherbot", bot=True),
                     f"<@{me['id']}> who founded 01.AI?", mentions=[me]),  # bots are ignored
    ]
    asked = fake.message(world.a, ALICE, f"<@{me['id']}> how much do plot holders pay per season? @here", mentions=[me])

    async def go() -> tuple[Request, Request]:
        for m in ignored + [asked]:
            await fake.dispatch(TOKEN, "MESSAGE_CREATE", m)
        (thread,) = await fake.wait_for(lambda r: r.path.endswith(f"/messages/{asked['id']}/threads"))
        (reply,) = await fake.wait_for(lambda r: r.method == "POST" and r.path == f"/channels/{asked['id']}/messages")
        return thread, reply

    thread, reply = world.run(go())
    assert thread.body["name"].startswith("how much do plot holders pay per season?")
    assert pings_nobody(reply)
    assert "25 euros" in unrender(reply.payload["embeds"][0]["description"])
    assert "— **Riverside community garden doubles its plots**" in reply.payload["embeds"][0]["description"]
    for m in ignored:
        assert not fake.find(lambda r, i=m["id"]: i in r.path or str((r.payload.get("message_reference") or {}).get("message_id")) == i)


def test_direct_message_is_answered_as_a_reply(world: World) -> None:
    dm = world.fake.message(None, ALICE, "who founded 01.AI?")

    async def go() -> Request:
        await world.fake.dispatch(TOKEN, "MESSAGE_CREATE", dm)
        (reply,) = await world.fake.wait_for(lambda r: r.method == "POST" and r.path == f"/channels/{dm['channel_id']}/messages")
        return reply

    reply = world.run(go())
    assert str(reply.payload["message_reference"]["message_id"]) == dm["id"]
    assert pings_nobody(reply)
    assert source_links(reply.payload["embeds"][0])[0] == "https://example.org/citebot-samples/01ai-profile"


# --- server documents -------------------------------------------------------------------------------


def test_ingest_is_refused_without_manage_server(world: World) -> None:
    att_id, att = world.fake.attachment("notes.md", LIGHTHOUSE)
    payload = world.fake.slash(world.bot, world.b, ALICE, "ingest", {"file": att_id},
                               resolved={"attachments": {att_id: att}})
    _, cb, _ = world.run(interact(world, payload, followup=False))
    assert cb.body["type"] == 4 and flags(cb) == EPHEMERAL
    assert cb.payload["content"] == ADMIN_ONLY
    payload = world.fake.slash(world.bot, world.b, ALICE, "forget", {"source": "01ai-profile-2024-03-04.md"})
    _, cb, _ = world.run(interact(world, payload, followup=False))
    assert cb.payload["content"] == ADMIN_ONLY
    assert "01ai-profile-2024-03-04.md" in {r.source.rsplit("/", 1)[-1] for r in world.service.engine.sources()}


def test_upload_in_one_server_is_never_cited_in_another(world: World) -> None:
    question = "Who restored the Marrowby lighthouse?"
    att_id, att = world.fake.attachment("lighthouse.md", LIGHTHOUSE)
    payload = world.fake.slash(world.bot, world.b, BOB, "ingest", {"file": att_id},
                               resolved={"attachments": {att_id: att}}, permissions=MANAGE_GUILD)
    _, _, done = world.run(interact(world, payload, timeout=30))
    assert done.payload["content"].startswith("Added `lighthouse.md`") and flags(done) == EPHEMERAL

    _, _, in_b = ask(world, question, guild=world.b, user=BOB)
    assert "Petra Quillfeather" in in_b.payload["embeds"][0]["description"]
    assert "Marrowby lighthouse restored" in unrender(in_b.payload["embeds"][0]["description"])

    _, _, in_a = ask(world, question, guild=world.a)
    shown = str(in_a.payload.get("content")) + str(in_a.payload.get("embeds"))
    assert "Quillfeather" not in shown and "Marrowby lighthouse restored" not in shown

    def listed(guild: Guild) -> str:
        _, _, fu = world.run(interact(world, world.fake.slash(world.bot, guild, BOB, "sources")))
        assert flags(fu) == EPHEMERAL
        return fu.payload["embeds"][0]["description"]

    assert "lighthouse.md" in listed(world.b) and "lighthouse.md" not in listed(world.a)

    forget = world.fake.slash(world.bot, world.b, BOB, "forget", {"source": "lighthouse.md"}, permissions=MANAGE_GUILD)
    _, _, gone = world.run(interact(world, forget, timeout=30))
    assert gone.payload["content"].startswith("Forgot `lighthouse.md`")
    assert "lighthouse.md" not in listed(world.b)


# --- load -------------------------------------------------------------------------------------------


def test_twenty_simultaneous_asks_are_all_answered_and_heartbeats_kept(world: World) -> None:
    questions = ["Who founded 01.AI?", GARDEN, "When was Python 3.13 released?",
                 "How long are Sora's video clips?"] * 5
    users = [user_payload(str(1300000000000000000 + i), f"user{i}") for i in range(20)]
    payloads = [world.fake.slash(world.bot, world.a, u, "ask", {"question": q}) for u, q in zip(users, questions)]
    (session,) = world.fake.session_of(TOKEN)
    identifies = world.fake.gateway_ops.count(2)

    async def burst() -> tuple[list[float], list[float], float, float]:
        start = time.monotonic()
        sent = [await world.fake.dispatch(TOKEN, "INTERACTION_CREATE", p) for p in payloads]
        callbacks = [(await world.fake.wait_for(is_callback(p), timeout=10))[0] for p in payloads]
        followups = [(await world.fake.wait_for(is_followup(world, p), timeout=60))[0] for p in payloads]
        end = time.monotonic()
        await asyncio.sleep(world.fake.heartbeat_interval * 1.5)  # one more beat after the burst
        return [c.at - s for c, s in zip(callbacks, sent)], [f.at for f in followups], start, end

    deadlines, answered, start, end = world.run(burst(), timeout=90)
    assert max(deadlines) < 3.0, deadlines
    assert len(answered) == 20
    beats = [t for t in session.heartbeats if start - 1 <= t]
    gaps = [b - a for a, b in zip(beats, beats[1:])]
    assert beats and beats[-1] > end, "heartbeats stopped during the burst"
    assert max(gaps) < world.fake.heartbeat_interval * 2.5, gaps
    assert session.acks == len(session.heartbeats)
    assert world.fake.gateway_ops.count(2) == identifies and 6 not in world.fake.gateway_ops  # no reconnect


def test_ask_in_a_direct_message(world: World) -> None:
    payload = world.fake.slash(world.bot, None, ALICE, "ask", {"question": "When was Python 3.13 released?"})
    _, cb, fu = world.run(interact(world, payload))
    assert cb.body["type"] == DEFERRED and pings_nobody(fu)
    assert source_links(fu.payload["embeds"][0])[0] == "https://example.org/citebot-samples/python-313"


def test_token_never_appears_in_logs_and_every_call_was_understood(world: World) -> None:
    assert world.logs.lines, "nothing was logged at all?"
    assert not [line for line in world.logs.lines if TOKEN in line]
    assert not world.fake.unknown  # the bot only called endpoints Discord has


def test_a_rejected_token_is_a_clear_user_error(world: World) -> None:
    settings = discord_settings(world.fake, "not-a-registered-token")
    with pytest.raises(UserError, match="DISCORD_TOKEN"):
        world.run(asyncio.wait_for(serve(settings, world.service), 15))
    configure_endpoints(discord_settings(world.fake, TOKEN))


# --- other bots on the same fake: rate limit, sharding ---------------------------------------------


def test_rate_limit_answers_with_a_friendly_slow_down(world: World, tmp_path: Path, _examples_index: Path,
                                                      embedder) -> None:
    token = "fake.discord.token-ratelimited"
    other = world.fake.add_bot(token, "citebot-rl")
    service = make_service(_examples_index, tmp_path / "rl-index", embedder, rate_limit_per_minute=1)

    async def go() -> list[Request]:
        task = await start_bot(world.fake, token, discord_settings(world.fake, token), service)
        try:
            out = []
            for _ in range(2):
                p = world.fake.slash(other, world.a, ALICE, "ask", {"question": "Who founded 01.AI?"})
                await world.fake.dispatch(token, "INTERACTION_CREATE", p)
                (fu,) = await world.fake.wait_for(
                    lambda r, t=p["token"]: r.method == "POST" and r.path == f"/webhooks/{other.app_id}/{t}", timeout=20)
                out.append(fu)
            return out
        finally:
            await stop_bot(task)
            configure_endpoints(discord_settings(world.fake, TOKEN))

    first, second = world.run(go(), timeout=60)
    assert not world.fake.session_of(token)[0].intents & MESSAGE_CONTENT  # no help channels, no privileged intent
    assert first.payload["embeds"]
    assert "faster than I can keep up" in second.payload["content"] and flags(second) == EPHEMERAL


def test_auto_sharding_asks_discord_for_the_shard_count(world: World) -> None:
    token = "fake.discord.token-sharded"
    world.fake.add_bot(token, "citebot-sharded")
    settings = discord_settings(world.fake, token, CITEBOT_DISCORD_SHARDS="auto", CITEBOT_DISCORD_GUILD_ID=world.a.id)

    async def go() -> None:
        task = await start_bot(world.fake, token, settings, world.service)
        await stop_bot(task)

    world.run(go(), timeout=60)
    assert world.fake.find(lambda r: r.path == "/gateway/bot" and r.token == token)
    assert [s.shard for s in world.fake.session_of(token)] == [[0, 1]]
    app_id = world.fake.bots[token].app_id
    assert world.fake.find(lambda r: r.method == "PUT" and r.path == f"/applications/{app_id}/guilds/{world.a.id}/commands")


@pytest.mark.parametrize(
    ("shards", "ids", "expected"),
    [(None, None, None), ("auto", None, {"shard_count": None}), ("4", None, {"shard_count": 4, "shard_ids": None}),
     ("4", "0,1", {"shard_count": 4, "shard_ids": [0, 1]})],
)
def test_shard_settings(shards: str | None, ids: str | None, expected: dict | None) -> None:
    settings = Settings(_env_file=None, CITEBOT_DISCORD_SHARDS=shards, CITEBOT_DISCORD_SHARD_IDS=ids)
    assert shard_options(settings) == expected


@pytest.mark.parametrize(("shards", "ids"), [("auto", "0"), (None, "0"), ("2", "2"), ("two", None), ("0", None)])
def test_bad_shard_settings_are_explained(shards: str | None, ids: str | None) -> None:
    with pytest.raises(UserError):
        shard_options(Settings(_env_file=None, CITEBOT_DISCORD_SHARDS=shards, CITEBOT_DISCORD_SHARD_IDS=ids))


@pytest.mark.parametrize(
    ("url", "base"),
    [("http://127.0.0.1:8080", "http://127.0.0.1:8080/api/v10"), ("http://proxy/api", "http://proxy/api/v10"),
     ("http://proxy/api/v10/", "http://proxy/api/v10"), ("https://discord.com/api/v9", "https://discord.com/api/v9")],
)
def test_api_base_url(url: str, base: str) -> None:
    assert api_base(url) == base


# --- rendering limits and escaping (pure) -----------------------------------------------------------


def _citation(n: int, snippet: str, answer: tuple[int, int] | None = None, **kw: Any) -> Citation:
    return Citation(n=n, title=kw.get("title", f"Article {n}"), date="2024-01-01", url=kw.get("url"),
                    source=f"/docs/a{n}.md", snippet=snippet, start=0, end=len(snippet), score=1.0,
                    answer_start=answer[0] if answer else None, answer_end=answer[1] if answer else None)


def test_huge_answers_fit_discords_limits_and_say_they_were_trimmed() -> None:
    words = " ".join(f"word{i}" for i in range(2000))
    sentence = "The *answer* is _here_ and it is " + "long " * 300 + "indeed."
    snippet = words + " " + sentence + " " + words
    cits = tuple(_citation(i, snippet, (len(words) + 1, len(words) + 1 + len(sentence)), title="T" * 400,
                           url="https://e.org/x") for i in range(1, 11))
    answer = Answer(question="q" * 900, found=True, answer=sentence, citations=cits, more=cits)
    for reply in (render_answer(answer), render_more(answer), render_passages(answer)):
        (embed,) = reply.embeds
        assert len(embed["description"]) <= DESCRIPTION_LIMIT and len(embed.get("title", "")) <= TITLE_LIMIT
        assert embed_length(embed) <= TOTAL_LIMIT
        assert "…" in embed["description"]
        if embed.get("title") in ("More sources", "Passages"):
            assert "shortened" in embed["footer"]["text"]
        for piece in unrender(embed["description"]).split("…"):
            # trimmed at word boundaries: every quoted word is whole
            for w in re.findall(r"word\d+", piece):
                assert w in words.split()


def test_quotes_are_escaped_but_their_words_stay_exact() -> None:
    snippet = "Intro. Use **bold** and `code` or ||spoiler|| with [a](http://x) @everyone <@123>. Outro."
    start, end = 7, snippet.index(" Outro")
    answer = Answer(question="what?", found=True, answer=snippet[start:end],
                    citations=(_citation(1, snippet, (start, end)),))
    desc = render_passages(answer).embeds[0]["description"]
    quote = desc.split("\n")[-1]
    assert "`code`" not in quote and "||spoiler||" not in quote and "[a](http" not in quote
    assert "@everyone" not in quote and "<@123>" not in quote
    assert unrender(quote[2:]) == snippet
    assert escape_markdown("# not a heading") == "\\# not a heading"


def test_highlighted_words_are_bold_and_exact() -> None:
    sentence = "It was founded in 2023 by Kai-Fu Lee."
    answer = Answer(question="who?", found=True, answer=sentence, highlights=((26, 36),),
                    citations=(_citation(1, sentence, (0, len(sentence))),))
    first = render_answer(answer).embeds[0]["description"].split("\n")[0]
    assert first == "> It was founded in 2023 by **Kai-Fu Lee**."
    assert unrender(first[2:]) == sentence


def test_sources_are_paged() -> None:
    rows = [SourceInfo(source=f"/u/doc{i}.md", title=f"Doc {i}", date=None, url=None,
                       collection="discord:1" if i % 2 else "global", passages=1, added_at=0.0) for i in range(23)]
    assert sources_pages(rows) == 3
    last = render_sources(rows, 2).embeds[0]
    assert last["footer"]["text"] == "Page 3 of 3" and "Doc 22" in last["description"] and "Doc 19" not in last["description"]
    assert "uploaded here" in render_sources(rows, 0).embeds[0]["description"]
    view = sources_view(2, 3)
    assert [(b.custom_id, b.item.disabled) for b in view.children] == [("citebot:src:1", False), ("citebot:src:2", True)]
    assert sources_view(0, 1) is None


def test_not_found_is_plain_content_within_the_message_limit() -> None:
    answer = Answer(question="x", found=False, answer=None, nearest=("@everyone " + "n" * 3000,))
    reply = render_answer(answer)
    assert not reply.embeds and reply.content.startswith(NOT_FOUND)
    assert len(reply.content) <= CONTENT_LIMIT and "@everyone" not in reply.content


# --- help channels: new questions answered where they are asked ----------------------------------

LEAVE = "How many days of paid annual leave do we get?"


def is_post_in(channel_id: str):
    """Matches a message the bot posted in a channel or thread."""
    return lambda r: r.method == "POST" and r.path == f"/channels/{channel_id}/messages"


def touched(world: World, message_id: str) -> list[Request]:
    """Everything the bot did about one message: a thread on it, a reply to it."""
    return world.fake.find(lambda r: f"/messages/{message_id}/" in r.path or f"/channels/{message_id}/" in r.path
                           or str((r.payload.get("message_reference") or {}).get("message_id")) == message_id)


async def post_and_wait_answer(world: World, message: dict[str, Any]) -> tuple[Request, Request]:
    """Post a message in a text help channel; (the thread started on it, the answer posted in it)."""
    await world.fake.dispatch(TOKEN, "MESSAGE_CREATE", message)
    (thread,) = await world.fake.wait_for(lambda r: r.path == f"/channels/{message['channel_id']}/messages/{message['id']}/threads")
    (reply,) = await world.fake.wait_for(is_post_in(message["id"]))
    return thread, reply


def unanswered(world: World, question: str) -> list[Any]:
    return [r for r in world.service.feedback.report() if r.kind == "unanswered" and r.question == question]


def test_message_content_intent_is_requested_because_help_channels_are_set(world: World) -> None:
    (session,) = world.fake.session_of(TOKEN)
    assert session.intents & MESSAGE_CONTENT


def test_help_channel_question_is_answered_in_a_thread(world: World) -> None:
    asked = world.fake.message(world.a, ALICE, "Hi! How much do plot holders pay per season?", channel_id=world.help)
    thread, reply = world.run(post_and_wait_answer(world, asked))
    assert thread.body["name"].startswith("Hi! How much do plot holders pay per season?")
    assert pings_nobody(reply) and "message_reference" not in reply.payload
    (embed,) = reply.payload["embeds"]
    assert "25 euros" in unrender(embed["description"].split("\n")[0])
    assert "Riverside community garden" in embed["description"].split("\n")[1]
    down = button(reply, 2)
    assert down.endswith(f":{ALICE['id']}")  # the asker's 👎 can remove it


def test_forum_post_is_answered_in_its_post(world: World) -> None:
    thread, first = world.fake.forum_post(world.a, world.forum, BOB, "Who founded 01.AI?", "Asking for a friend.")

    async def go() -> Request:
        await world.fake.dispatch(TOKEN, "THREAD_CREATE", thread)
        await world.fake.dispatch(TOKEN, "MESSAGE_CREATE", first)
        (reply,) = await world.fake.wait_for(is_post_in(thread["id"]))
        return reply

    reply = world.run(go())
    assert not world.fake.find(lambda r: r.path.endswith("/threads") and thread["id"] in r.path)  # no thread in a thread
    assert "Kai-Fu Lee" in reply.payload["embeds"][0]["description"]
    assert source_links(reply.payload["embeds"][0])[0] == "https://example.org/citebot-samples/01ai-profile"
    assert pings_nobody(reply)


def test_chatter_bots_edits_and_thread_replies_are_left_alone(world: World) -> None:
    fake = world.fake
    otherbot = user_payload("1200000000000000010", "helperbot", bot=True)
    thread, first = fake.forum_post(world.a, world.forum, ALICE, "Who founded 01.AI?", "")
    ignored = [
        fake.message(world.a, ALICE, "thanks, that worked!", channel_id=world.help),  # not a question
        fake.message(world.a, BOB, "lol same here", channel_id=world.help),
        fake.message(world.a, otherbot, "How much do plot holders pay per season?", channel_id=world.help),  # a bot
        fake.message(world.a, world.bot.user, "When was Python 3.13 released?", channel_id=world.help),  # itself
        fake.message(world.a, ALICE, "When was Python 3.13 released?"),  # #general is not a help channel
        fake.message(world.a, BOB, "And who founded it?", channel_id=thread["id"]),  # a reply inside a post
    ]
    reply_type = fake.message(world.a, BOB, "How long are Sora's video clips?", channel_id=world.help)
    reply_type.update(type=19, message_reference={"message_id": ignored[0]["id"], "channel_id": world.help,
                                                  "guild_id": world.a.id})
    ignored.append(reply_type)
    edit = dict(ignored[0], content="thanks! Who founded 01.AI?", edited_timestamp="2024-06-01T12:05:00+00:00")
    sentinels = [fake.message(world.a, BOB, "When was Python 3.13 released?", channel_id=world.help) for _ in range(2)]

    async def go() -> None:
        await fake.dispatch(TOKEN, "THREAD_CREATE", dict(thread, newly_created=False))
        for m in ignored:
            await fake.dispatch(TOKEN, "MESSAGE_CREATE", m)
        await post_and_wait_answer(world, sentinels[0])  # answered after everything above was handled
        await fake.dispatch(TOKEN, "MESSAGE_UPDATE", edit)  # a chat message edited into a question
        await post_and_wait_answer(world, sentinels[1])

    world.run(go())
    for m in ignored:
        assert not touched(world, m["id"]), m["content"]
    assert not fake.find(is_post_in(thread["id"]))
    assert not [r for r in world.service.feedback.report() if r.question in ("thanks, that worked!", "lol same here")]


def test_low_confidence_question_is_silent_and_recorded_as_unanswered(world: World) -> None:
    question = "What is the capital of France?"
    asked = world.fake.message(world.a, ALICE, question, channel_id=world.help)
    sentinel = world.fake.message(world.a, BOB, "Who founded 01.AI?", channel_id=world.help)

    async def go() -> None:
        await world.fake.dispatch(TOKEN, "MESSAGE_CREATE", asked)
        await post_and_wait_answer(world, sentinel)
        deadline = time.monotonic() + 10
        while not unanswered(world, question) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)

    world.run(go())
    assert not touched(world, asked["id"])
    (row,) = unanswered(world, question)
    assert (row.platform, row.scope, row.user) == ("discord", world.a.id, ALICE["id"])


def test_channel_collections_limit_unasked_answers_and_ask(world: World) -> None:
    asked = world.fake.message(world.a, ALICE, LEAVE, channel_id=world.hr)
    _, reply = world.run(post_and_wait_answer(world, asked))
    embed = reply.payload["embeds"][0]
    assert "twenty-seven days" in unrender(embed["description"]) and "Staff handbook: leave" in unrender(embed["description"])
    assert "hr/" not in embed["description"]  # the file name, never a path on the server
    # /ask in #hr-help follows the channel: only `hr`, so a global article is not found there
    payload = world.fake.slash(world.bot, world.a, ALICE, "ask", {"question": "Who founded 01.AI?"}, channel_id=world.hr)
    _, _, fu = world.run(interact(world, payload))
    assert fu.payload["content"].startswith(NOT_FOUND) and flags(fu) == EPHEMERAL
    # …and elsewhere the hr collection is not used at all
    _, _, elsewhere = ask(world, LEAVE)
    assert "twenty-seven" not in str(elsewhere.payload)
    # DMs keep today's rule
    dm = world.fake.slash(world.bot, None, ALICE, "ask", {"question": "Who founded 01.AI?"})
    _, _, in_dm = world.run(interact(world, dm))
    assert "Kai-Fu Lee" in in_dm.payload["embeds"][0]["description"]


def test_the_askers_thumbs_down_removes_the_answer(world: World) -> None:
    asked = world.fake.message(world.a, ALICE, "How long are Sora's video clips?", channel_id=world.help)
    _, reply = world.run(post_and_wait_answer(world, asked))
    stored = world.fake._message_out(asked["id"], world.bot.user, reply.payload)
    # someone else's 👎 is a vote, nothing more
    _, _, thanks = world.run(interact(world, world.fake.click(world.bot, world.a, BOB, stored, button(reply, 2))))
    assert thanks.payload["content"] == THANKS and stored["id"] not in world.fake.deleted
    # the asker's 👎 removes the answer (and is recorded)
    _, _, gone = world.run(interact(world, world.fake.click(world.bot, world.a, ALICE, stored, button(reply, 2))))
    assert gone.payload["content"] == HIDDEN and flags(gone) == EPHEMERAL
    assert world.fake.find(lambda r: r.method == "DELETE" and r.path == f"/channels/{asked['id']}/messages/{stored['id']}")
    row = world.service.feedback.report()[0]
    assert (row.vote, row.user, row.question) == (-1, ALICE["id"], "How long are Sora's video clips?")


def test_channel_command_is_for_admins_and_turns_a_channel_on(world: World) -> None:
    options = {"answer_new_questions": True, "channel": world.quiet}
    refused = world.fake.slash(world.bot, world.a, ALICE, "channel", options)
    _, cb, _ = world.run(interact(world, refused, followup=False))
    assert cb.payload["content"] == ADMIN_ONLY and flags(cb) == EPHEMERAL
    assert not world.service.auto_channel("discord", world.quiet)

    allowed = world.fake.slash(world.bot, world.a, BOB, "channel", options, permissions=MANAGE_GUILD)
    _, cb, _ = world.run(interact(world, allowed, followup=False))
    assert flags(cb) == EPHEMERAL and cb.payload["content"].startswith("#quiet: I answer new questions here")
    assert MESSAGE_CONTENT_OFF not in cb.payload["content"] and pings_nobody(cb)
    asked = world.fake.message(world.a, ALICE, "When was Python 3.13 released?", channel_id=world.quiet)
    _, reply = world.run(post_and_wait_answer(world, asked))
    assert "python-313" in str(source_links(reply.payload["embeds"][0]))

    # limit it to `hr`, then back to everything; then off again
    limit = world.fake.slash(world.bot, world.a, BOB, "channel", {"collections": "hr", "channel": world.quiet},
                             permissions=MANAGE_GUILD)
    _, cb, _ = world.run(interact(world, limit, followup=False))
    assert "`hr`" in cb.payload["content"]
    assert world.service.collections_for(asker_in(world, world.quiet)) == ["hr"]
    bad = world.fake.slash(world.bot, world.a, BOB, "channel", {"collections": "discord:123", "channel": world.quiet},
                           permissions=MANAGE_GUILD)
    _, cb, _ = world.run(interact(world, bad, followup=False))
    assert "not a collection name" in cb.payload["content"] and flags(cb) == EPHEMERAL
    off = world.fake.slash(world.bot, world.a, BOB, "channel",
                           {"answer_new_questions": False, "collections": "all", "channel": world.quiet},
                           permissions=MANAGE_GUILD)
    world.run(interact(world, off, followup=False))
    assert not world.service.auto_channel("discord", world.quiet)
    assert world.service.collections_for(asker_in(world, world.quiet)) == ["global", f"discord:{world.a.id}"]


def asker_in(world: World, channel: str):
    from bot.service import Asker

    return Asker(platform="discord", user=ALICE["id"], scope=world.a.id, channel=channel)


# --- the fake says no like Discord ------------------------------------------------------------------


DIRECT = "fake.discord.token-direct"


def rest(world: World, method: str, path: str, body: Any) -> tuple[int, dict[str, Any]]:
    """Call the fake's REST API as a bot would, outside discord.py (with a token of its own)."""
    import aiohttp

    if DIRECT not in world.fake.bots:
        world.fake.add_bot(DIRECT, "direct-caller")

    async def go() -> tuple[int, dict[str, Any]]:
        async with aiohttp.ClientSession() as http:
            async with http.request(method, world.fake.api_url + path, json=body,
                                    headers={"Authorization": f"Bot {DIRECT}"}) as resp:
                return resp.status, await resp.json()

    return world.run(go())


@pytest.mark.parametrize(
    ("body", "code", "where"),
    [
        ({"content": "x" * 2001}, 50035, "content"),
        ({"embeds": [{"description": "x" * 4097}]}, 50035, "description"),
        ({"embeds": [{"title": "t" * 256, "description": "x" * 4000}, {"description": "y" * 2000}]}, 50035,
         "MAX_EMBED_SIZE_EXCEEDED"),
        ({"content": "x", "components": [{"type": 1, "components": [{"type": 2, "style": 2, "label": "b", "custom_id": f"c{i}"}]}
                                         for i in range(6)]}, 50035, "components"),
        ({"content": "x", "components": [{"type": 1, "components": [{"type": 2, "style": 2, "label": "b", "custom_id": "c" * 101}]}]},
         50035, "custom_id"),
        ({}, 50006, "empty"),
    ],
)
def test_fake_refuses_messages_over_discords_limits(world: World, body: dict[str, Any], code: int, where: str) -> None:
    status, reply = rest(world, "POST", f"/channels/{world.a.channel_id}/messages", body)
    assert status == 400 and reply["code"] == code
    assert where in json.dumps(reply)
    ok, _ = rest(world, "POST", f"/channels/{world.a.channel_id}/messages", {"content": "x" * 2000})
    assert ok == 200


def test_fake_refuses_a_question_option_over_6000_and_citebot_refuses_to_start(world: World) -> None:
    ask_command = {"name": "ask", "description": "Ask", "type": 1,
                   "options": [{"type": 3, "name": "question", "description": "q", "required": True, "max_length": 6001}]}
    status, reply = rest(world, "PUT", f"/applications/{world.bot.app_id}/commands", [ask_command])
    assert status == 400 and reply["code"] == 50035 and "max_length" in json.dumps(reply)
    settings = discord_settings(world.fake, TOKEN, CITEBOT_MAX_QUESTION_CHARS="6001")
    before = len(world.fake.requests)
    with pytest.raises(UserError, match="CITEBOT_MAX_QUESTION_CHARS.*6,000"):
        world.run(serve(settings, world.service))
    assert len(world.fake.requests) == before  # refused before connecting
    configure_endpoints(discord_settings(world.fake, TOKEN))


def test_unknown_and_twice_answered_interactions_are_refused_and_survived(world: World) -> None:
    status, reply = rest(world, "POST", "/interactions/1/never-sent/callback", {"type": 5})
    assert (status, reply["code"]) == (404, 10062)
    late = world.fake.slash(world.bot, world.a, ALICE, "ask", {"question": "Who founded 01.AI?"})

    async def too_late() -> None:
        await world.fake.dispatch(TOKEN, "INTERACTION_CREATE", late)
        world.fake.interactions[late["token"]] = time.monotonic() - 10  # as if the bot took > 3 s
        await world.fake.wait_for(lambda r: any(rq is r for rq, _, _ in world.fake.rejected) and late["token"] in r.path)

    world.run(too_late())
    rejected = [b for r, _, b in world.fake.rejected if late["token"] in r.path]
    assert rejected[0]["code"] == 10062
    _, cb, fu = ask(world, "Who founded 01.AI?")  # the bot carries on
    assert fu.payload["embeds"]
    status, reply = rest(world, "POST", f"/interactions/{cb.path.split('/')[2]}/{cb.path.split('/')[3]}/callback", {"type": 5})
    assert (status, reply["code"]) == (400, 40060)


def test_rate_limited_answer_is_retried_and_arrives(world: World) -> None:
    asked = world.fake.message(world.a, BOB, "Who founded 01.AI?", channel_id=world.help)
    world.fake.rate_limit(lambda m, p: m == "POST" and p == f"/channels/{asked['id']}/messages", retry_after=0.3)
    world.run(post_and_wait_answer(world, asked))
    posts = world.run(world.fake.wait_for(is_post_in(asked["id"]), count=2))
    assert posts[1].at - posts[0].at >= 0.25  # waited as Discord said, then sent once more
    assert "Kai-Fu Lee" in posts[1].payload["embeds"][0]["description"]
    assert not world.fake.find(lambda r: r.path == f"/channels/{asked['id']}/messages" and r.at > posts[1].at)


def test_message_content_intent_refused_by_discord_is_a_clear_error(world: World, tmp_path: Path,
                                                                     _examples_index: Path, embedder) -> None:
    token = "fake.discord.token-no-intent"
    world.fake.add_bot(token, "citebot-ni").message_content_allowed = False
    settings = discord_settings(world.fake, token, CITEBOT_AUTO_CHANNELS=world.help)
    service = make_service(_examples_index, tmp_path / "ni-index", embedder, settings)
    try:
        with pytest.raises(UserError, match="Message Content intent"):
            world.run(asyncio.wait_for(serve(settings, service), 20), timeout=40)
    finally:
        configure_endpoints(discord_settings(world.fake, TOKEN))


def test_every_message_the_bot_sent_was_accepted(world: World) -> None:
    theirs = [(r.method, r.path, b) for r, _, b in world.fake.rejected if r.token == TOKEN and "/callback" not in r.path
              and r.path.startswith(("/channels", "/webhooks"))]
    assert not theirs
