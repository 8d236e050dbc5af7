"""Load and isolation across both chat adapters and the CLI (real SDKs, fakes on 127.0.0.1).

Timings printed here are observations; the assertions are the promises: every request acked
within Slack's and Discord's 3-second deadlines, every question answered exactly once, heartbeats
kept, and one server's or workspace's uploads never cited anywhere else.
"""
from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from bot.service import Asker
from tests.bot.discord.test_discord import TOKEN, World, is_callback, is_followup, world  # noqa: F401  (module fixture)
from tests.bot.slack.test_slack import HttpSlackApp
from tests.conftest import ROOT
from tests.fake_discord import user_payload
from tests.mock_slack import MockSlack

pytestmark = pytest.mark.timeout(240)

QUESTIONS = [
    "Who founded 01.AI?",
    "What did OpenAI unveil?",
    "When was Python 3.13 released?",
    "What does the Riverside garden charge per season?",
    "What is the best recipe for lasagna?",
]

SECRET_DOC = (b"Quarry lake notes\n\nThe Quarry lake rescue boat was named Grebe by the pupils of the "
              b"harbour school in 2019. It is kept in a blue shed beside the north jetty.\n")
SECRET_Q = "What was the Quarry lake rescue boat named?"


def test_two_hundred_slack_asks_over_http(service) -> None:
    """200 signed /ask requests sent within 10 s: each acked in < 3 s, each answered exactly once."""
    n = 200

    async def scenario() -> tuple[list[float], float, float]:
        async with MockSlack() as slack, HttpSlackApp(service, slack) as app:
            start = time.monotonic()

            async def one(i: int) -> float:
                await asyncio.sleep(i * 9.0 / n)  # spread over 9 s, as a busy workspace would
                status, _body, seconds = await app.command(QUESTIONS[i % len(QUESTIONS)], key=f"q{i}", user=f"U{i}")
                assert status == 200
                return seconds

            acks = await asyncio.gather(*(one(i) for i in range(n)))
            sent_by = time.monotonic() - start
            deadline = time.monotonic() + 180
            while len({c.path for c in slack.posts}) < n and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
            all_answered = time.monotonic() - start
            await asyncio.sleep(1.0)  # anything extra would arrive now
            counts = Counter(c.path for c in slack.posts)
            assert set(counts) == {f"response/q{i}" for i in range(n)}, "some questions were never answered"
            assert max(counts.values()) == 1, "a question was answered twice"
            return acks, sent_by, all_answered

    acks, sent_by, all_answered = asyncio.run(scenario())
    print(f"\nslack http: {len(acks)} /ask sent in {sent_by:.1f} s, ack max {max(acks) * 1000:.0f} ms, "
          f"all answered after {all_answered:.1f} s")
    assert sent_by < 10.5
    assert max(acks) < 3.0


def test_fifty_simultaneous_discord_interactions(world: World) -> None:  # noqa: F811
    """50 /ask at once: every one deferred within 3 s, answered once, heartbeats ACKed throughout."""
    users = [user_payload(str(1400000000000000000 + i), f"load{i}") for i in range(50)]
    payloads = [world.fake.slash(world.bot, world.a, u, "ask", {"question": QUESTIONS[i % len(QUESTIONS)]})
                for i, u in enumerate(users)]
    (session,) = world.fake.session_of(TOKEN)

    async def burst() -> tuple[list[float], float, float]:
        start = time.monotonic()
        sent = await asyncio.gather(*(world.fake.dispatch(TOKEN, "INTERACTION_CREATE", p) for p in payloads))
        callbacks = [(await world.fake.wait_for(is_callback(p), timeout=10))[0] for p in payloads]
        for p in payloads:
            await world.fake.wait_for(is_followup(world, p), timeout=120)
        end = time.monotonic()
        await asyncio.sleep(world.fake.heartbeat_interval * 2)
        return [c.at - s for c, s in zip(callbacks, sent)], start, end

    deadlines, start, end = world.run(burst(), timeout=200)
    print(f"\ndiscord: 50 interactions, deferred max {max(deadlines) * 1000:.0f} ms, all answered in {end - start:.1f} s")
    assert max(deadlines) < 3.0
    for p in payloads:
        assert len(world.fake.find(is_callback(p))) == 1
        answers = [r for r in world.fake.find(is_followup(world, p)) if r.payload.get("embeds") or r.payload.get("content")]
        assert len(answers) == 1, "each question gets exactly one answer"
    beats = [t for t in session.heartbeats if t >= start - 1]
    assert beats and beats[-1] > end
    assert max(b - a for a, b in zip(beats, beats[1:])) < world.fake.heartbeat_interval * 2.5
    assert session.acks == len(session.heartbeats)


def test_uploads_are_isolated_across_adapters_and_the_cli(service, tmp_path: Path) -> None:
    """A document uploaded in Discord server A is never cited in server B, in any Slack workspace,
    or by the CLI outside its collection; the same holds the other way round."""
    discord_a, discord_b = Asker("discord", "u1", "A"), Asker("discord", "u2", "B")
    slack_a, slack_b = Asker("slack", "U1", "A"), Asker("slack", "U2", "B")
    assert asyncio.run(service.ingest_upload("quarry.txt", SECRET_DOC, discord_a)).ok

    def cites_secret(asker: Asker) -> bool:
        ans = asyncio.run(service.ask(SECRET_Q, asker))
        return any("Grebe" in c.snippet for c in ans.citations + ans.more)

    assert cites_secret(discord_a)
    for other in (discord_b, slack_a, slack_b, Asker("discord", "u3", None), Asker("shell", "local")):
        assert not cites_secret(other), other

    def cli(*args: str) -> dict:
        r = subprocess.run([sys.executable, "-m", "bot.cli", "ask", "--index", str(service.engine.index_dir), "--json",
                            *args, SECRET_Q], capture_output=True, text=True, cwd=ROOT, timeout=120)
        assert r.returncode == 0, r.stderr
        return json.loads(r.stdout)

    outside = cli("--collection", "global", "--collection", "slack:A")
    assert not any("Grebe" in c["snippet"] for c in outside["citations"])
    inside = cli("--collection", "discord:A")
    assert inside["found"] and "Grebe" in inside["answer"]
    assert inside["citations"][0]["collection"] == "discord:A"


def test_settings_never_show_secrets(monkeypatch) -> None:
    from bot.config import Settings

    secrets = {"DISCORD_TOKEN": "discord-secret-token-value", "SLACK_BOT_TOKEN": "xoxb-secret-bot-value",
               "SLACK_APP_TOKEN": "xapp-secret-app-value", "SLACK_SIGNING_SECRET": "signing-secret-value"}
    for k, v in secrets.items():
        monkeypatch.setenv(k, v)
    s = Settings()
    text = repr(s) + str(s) + json.dumps(s.model_dump(mode="json"))
    assert not [v for v in secrets.values() if v in text]
    assert s.discord_token.get_secret_value() == secrets["DISCORD_TOKEN"]
