"""The Discord bot end to end: real discord.py, real model and index, a fake Discord on 127.0.0.1.

One bot is started through `serve()` for the module (as `citebot discord` starts it) and driven by
gateway events; assertions are on what reaches the fake Discord: callbacks, follow-ups, threads,
flags and allowed_mentions — what a user would notice.
"""
from __future__ import annotations

import asyncio
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
from bot.discord_app import ADMIN_ONLY, THANKS, api_base, configure_endpoints, serve, shard_options, sources_view
from bot.feedback import FeedbackStore
from bot.render.common import NOT_FOUND, one_line
from bot.render.discord import (
    CONTENT_LIMIT,
    DESCRIPTION_LIMIT,
    TITLE_LIMIT,
    TOTAL_LIMIT,
    embed_length,
    escape_markdown,
    render_answer,
    render_more,
    render_sources,
    sources_pages,
)
from bot.service import APOLOGY, CitebotService
from index.engine import Engine
from index.errors import UserError
from index.store import SourceInfo
from index.types import Answer, Citation

from tests.fake_discord import MANAGE_GUILD, BotAccount, FakeDiscord, Guild, Request, user_payload

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

    def run(self, coro: Any, timeout: float = 30.0) -> Any:
        """Run on the bot's loop."""
        return self.lt.run(coro, timeout)


def make_service(index: Path, dest: Path, embedder, **options: Any) -> CitebotService:
    """A service over a private copy of the examples index, like conftest's `service`."""
    shutil.copytree(index, dest)
    engine = Engine(dest, embedder)
    return CitebotService(engine, FeedbackStore(dest / "feedback.sqlite"), **options)


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
    service = make_service(_examples_index, tmp_path_factory.mktemp("discord") / "index", embedder,
                           rate_limit_per_minute=0)
    task = lt.run(start_bot(fake, TOKEN, discord_settings(fake, TOKEN), service))
    yield World(lt, fake, bot, a, b, service, logs)
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


def cited(embed: dict[str, Any]) -> list[tuple[str | None, str]]:
    """(link, quote) per citation block of an answer embed."""
    out = []
    for block in embed["description"].split("\n\n")[1:] if embed.get("title") != "More sources" else embed["description"].split("\n\n"):
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
    assert set(commands) == {"ask", "sources", "ingest", "forget"}
    assert int(commands["ingest"]["default_member_permissions"]) == MANAGE_GUILD
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
    links = [link for link, _ in cited(embed)]
    assert links[0] == "https://example.org/citebot-samples/01ai-profile"
    assert "[1] Who is behind 01.AI? A short profile (2024-03-04)" in unrender(embed["description"])
    assert_quotes_exact(world, embed)
    buttons = [c for row in fu.payload["components"] for c in row["components"]]
    assert [b.get("label") or b["emoji"]["name"] for b in buttons] == ["More sources", "👍", "👎"]
    assert all(len(b["custom_id"]) <= 100 for b in buttons)


def test_private_ask_is_ephemeral(world: World) -> None:
    _, cb, fu = ask(world, GARDEN, private=True)
    assert cb.body["type"] == DEFERRED and flags(cb) == EPHEMERAL
    assert "25 euros" in fu.payload["embeds"][0]["description"]


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


def test_more_sources_are_shown_ephemerally(world: World) -> None:
    _, _, fu = ask(world, GARDEN)
    click = world.fake.click(world.bot, world.a, BOB, answer_message(world, fu), button(fu, 0))
    _, cb, more = world.run(interact(world, click))
    assert flags(cb) == EPHEMERAL and flags(more) == EPHEMERAL
    (embed,) = more.payload["embeds"]
    assert embed["title"] == "More sources" and len(cited(embed)) >= 2
    first = {q for _, q in cited(fu.payload["embeds"][0])}
    assert not first & {q for _, q in cited(embed)}
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
    assert "25 euros" in reply.payload["embeds"][0]["description"]
    assert_quotes_exact(world, reply.payload["embeds"][0])
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
    assert cited(reply.payload["embeds"][0])[0][0] == "https://example.org/citebot-samples/01ai-profile"


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
    assert cited(fu.payload["embeds"][0])[0][0] == "https://example.org/citebot-samples/python-313"


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
    for reply in (render_answer(answer), render_more(answer)):
        (embed,) = reply.embeds
        assert len(embed["description"]) <= DESCRIPTION_LIMIT and len(embed.get("title", "")) <= TITLE_LIMIT
        assert embed_length(embed) <= TOTAL_LIMIT
        assert "…" in embed["description"] and "shortened" in embed["footer"]["text"]
        for piece in unrender(embed["description"]).split("…"):
            # trimmed at word boundaries: every quoted word is whole
            for w in re.findall(r"word\d+", piece):
                assert w in words.split()


def test_quotes_are_escaped_but_their_words_stay_exact() -> None:
    snippet = "Intro. Use **bold** and `code` or ||spoiler|| with [a](http://x) @everyone <@123>. Outro."
    start, end = 7, snippet.index(" Outro")
    answer = Answer(question="what?", found=True, answer=snippet[start:end],
                    citations=(_citation(1, snippet, (start, end)),))
    desc = render_answer(answer).embeds[0]["description"]
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
