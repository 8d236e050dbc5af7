"""The Slack app end to end: real slack-bolt and slack-sdk, the real model and index, a fake Slack on 127.0.0.1.

HTTP mode gets requests signed the way Slack signs them; Socket Mode gets envelopes over a local
websocket. What is asserted is what a Slack user would see arrive at chat.postMessage / response_url.
"""
from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import socket
import time
import urllib.parse
from typing import Any

import aiohttp
import pytest

from bot.config import Settings
from bot.feedback import FeedbackStore
from bot.render.common import NOT_FOUND
from bot.service import APOLOGY, Asker, CitebotService
from bot.slack.app import RecentKeys, serve
from bot.slack.parse import parse_button_value, plain_question
from bot.slack.render import (
    ACTION_DOWN,
    ACTION_MORE,
    ACTION_UP,
    BUTTON_VALUE_LIMIT,
    SlackMessage,
    button_value,
    render_answer,
    render_more,
    render_notice,
    render_passages,
)
from index.errors import UserError
from index.types import Answer, Citation
from tests.mock_slack import Call, MockSlack, block_errors

pytestmark = pytest.mark.timeout(60)

SECRET = "test-signing-secret-3f9a7c"
AI01_URL = "https://example.org/citebot-samples/01ai-profile"
AI01_LINK = f"<{AI01_URL}|Who is behind 01.AI? A short profile>"
SORA_URL = "https://example.org/citebot-samples/sora"
ZORBLAX = (b"Zorblax station notes\n\n"
           b"The Zorblax fusion reactor was designed by Dr. Ilse Quandt <!everyone> & <@U42> in 2031. "
           b"It powers the research base at Lake Tanager through the long polar winter.\n")


def run(coro: Any) -> Any:
    """Drive one scenario on a fresh event loop (no pytest-asyncio here)."""
    return asyncio.run(coro)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def sign(body: str, ts: str, secret: str = SECRET) -> str:
    """Slack's request signature: v0=HMAC-SHA256(secret, "v0:{timestamp}:{body}")."""
    return "v0=" + hmac.new(secret.encode(), f"v0:{ts}:{body}".encode(), hashlib.sha256).hexdigest()


def command_payload(text: str, response_url: str, *, user: str = "U1", team: str = "T1") -> dict[str, str]:
    return {"token": "legacy", "team_id": team, "team_domain": "test", "channel_id": "C1", "channel_name": "general",
            "user_id": user, "user_name": "asker", "command": "/ask", "text": text, "api_app_id": "A1",
            "is_enterprise_install": "false", "response_url": response_url, "trigger_id": "1.2.abc"}


def event_payload(event: dict[str, Any], event_id: str, *, team: str = "T1") -> dict[str, Any]:
    return {"token": "legacy", "team_id": team, "api_app_id": "A1", "event": event, "type": "event_callback",
            "event_id": event_id, "event_time": int(time.time()), "is_ext_shared_channel": False,
            "authorizations": [{"team_id": team, "user_id": "UBOT", "is_bot": True, "is_enterprise_install": False}]}


def mention(text: str, ts: str, *, channel: str = "C1", thread_ts: str | None = None, user: str = "U1",
            team: str = "T1") -> dict[str, Any]:
    ev = {"type": "app_mention", "user": user, "text": f"<@UBOT> {text}", "ts": ts, "channel": channel,
          "event_ts": ts, "team": team}
    if thread_ts:
        ev["thread_ts"] = thread_ts
    return ev


def message(text: str, ts: str, *, channel: str = "D1", channel_type: str = "im", **extra: Any) -> dict[str, Any]:
    return {"type": "message", "channel_type": channel_type, "user": "U1", "text": text, "ts": ts,
            "channel": channel, "event_ts": ts, **extra}


def click(button: dict[str, Any], response_url: str, *, user: str = "U1", team: str = "T1") -> dict[str, Any]:
    return {"type": "block_actions", "token": "legacy", "api_app_id": "A1", "trigger_id": "1.2.xyz",
            "user": {"id": user, "username": "asker", "team_id": team}, "team": {"id": team, "domain": "test"},
            "container": {"type": "message", "message_ts": "1700000000.000900", "channel_id": "C1", "is_ephemeral": False},
            "channel": {"id": "C1", "name": "general"}, "response_url": response_url,
            "actions": [{**button, "block_id": "citebot_feedback", "action_ts": "1700000001.000100"}]}


def buttons(call: Call) -> dict[str, dict[str, Any]]:
    """The answer's buttons by action_id."""
    actions = [b for b in call.body["blocks"] if b["type"] == "actions"]
    return {e["action_id"]: e for e in actions[0]["elements"]} if actions else {}


def visible(call: Call | SlackMessage) -> str:
    """What Slack renders from a message: its text and blocks, without the buttons' opaque values."""
    body = call.body if isinstance(call, Call) else {"text": call.text, "blocks": call.blocks}

    def strip(x: Any) -> Any:
        if isinstance(x, dict):
            return {k: strip(v) for k, v in x.items() if k != "value"}
        if isinstance(x, list):
            return [strip(v) for v in x]
        return x
    return json.dumps(strip({"text": body.get("text"), "blocks": body.get("blocks")}), ensure_ascii=False)


def leaks(*secrets: str, text: str) -> list[str]:
    return [s for s in secrets if s in text]


class HttpSlackApp:
    """`citebot slack --http`: the real `serve()` on 127.0.0.1, and signed requests to it."""

    def __init__(self, service: CitebotService, slack: MockSlack) -> None:
        self.service, self.slack = service, slack
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"

    async def __aenter__(self) -> HttpSlackApp:
        # No trailing slash on purpose: the app must add the one slack_sdk needs.
        settings = Settings(SLACK_BOT_TOKEN=self.slack.bot_token, SLACK_SIGNING_SECRET=SECRET,
                            SLACK_API_URL=self.slack.api_url.rstrip("/"))
        self.task = asyncio.create_task(serve(settings, self.service, http=True, port=self.port, host="127.0.0.1"))
        self.http = aiohttp.ClientSession()
        for _ in range(200):
            if self.task.done():
                self.task.result()
            try:
                async with self.http.get(self.url + "/healthz") as r:
                    if r.status == 200:
                        return self
            except aiohttp.ClientConnectionError:
                pass
            await asyncio.sleep(0.05)
        raise TimeoutError("the Slack app did not start")

    async def __aexit__(self, *exc: object) -> None:
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)
        await self.http.close()

    async def post(self, body: str, content_type: str, *, headers: dict[str, str] | None = None,
                   ts: str | None = None, signature: str | None = None) -> tuple[int, str, float]:
        """POST /slack/events signed like Slack (unless `headers` replaces that); (status, body, seconds)."""
        ts = ts or str(int(time.time()))
        h = {"Content-Type": content_type, "X-Slack-Request-Timestamp": ts,
             "X-Slack-Signature": signature or sign(body, ts)}
        if headers is not None:
            h = {"Content-Type": content_type, **headers}
        start = time.monotonic()
        async with self.http.post(self.url + "/slack/events", data=body.encode(), headers=h) as r:
            return r.status, await r.text(), time.monotonic() - start

    async def command(self, text: str, key: str = "r1", **kw: Any) -> tuple[int, str, float]:
        body = urllib.parse.urlencode(command_payload(text, self.slack.response_url(key), **kw))
        return await self.post(body, "application/x-www-form-urlencoded")

    async def event(self, event: dict[str, Any], event_id: str, *, team: str = "T1",
                    retry: tuple[int, str] | None = None) -> tuple[int, str, float]:
        body = json.dumps(event_payload(event, event_id, team=team))
        if retry is None:
            return await self.post(body, "application/json")
        ts = str(int(time.time()))
        return await self.post(body, "application/json", headers={
            "X-Slack-Request-Timestamp": ts, "X-Slack-Signature": sign(body, ts),
            "X-Slack-Retry-Num": str(retry[0]), "X-Slack-Retry-Reason": retry[1]})

    async def click(self, button: dict[str, Any], key: str, **kw: Any) -> tuple[int, str, float]:
        payload = click(button, self.slack.response_url(key), **kw)
        body = "payload=" + urllib.parse.quote(json.dumps(payload))
        return await self.post(body, "application/x-www-form-urlencoded")


async def answered(slack: MockSlack, path: str, **match: Any) -> Call:
    """The first call to `path` whose body has these values."""
    return await slack.wait_for(lambda c: c.path == path and all(c.body.get(k) == v for k, v in match.items()))


# --- HTTP mode ----------------------------------------------------------------------------


def test_http_ask_acks_at_once_then_answers_in_channel(service: CitebotService, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)

    async def scenario() -> None:
        async with MockSlack() as slack, HttpSlackApp(service, slack) as app:
            status, body, seconds = await app.command("who founded 01.AI?")
            assert (status, body) == (200, "") and seconds < 3
            call = await answered(slack, "response/r1")
            assert call.body["response_type"] == "in_channel"
            blocks = call.body["blocks"]
            assert blocks[0]["type"] == "context" and "who founded 01.AI?" in blocks[0]["elements"][0]["text"]
            assert blocks[1]["text"]["text"].startswith(">")  # the quoted answer sentence
            # compact: the quote's source as one line (link · date), the passages behind a button
            source = blocks[2]["elements"][0]["text"]
            assert blocks[2]["type"] == "context" and source.startswith("— " + AI01_LINK + " · 2024-03-04")
            assert "\n>" not in source and not [b for b in blocks if b["type"] == "section"][1:]
            assert "01.AI" in call.body["text"]
            assert all(len(b["text"]["text"]) <= 3000 for b in blocks if b["type"] == "section")
            # The bot token went to the Web API (auth.test); nothing went to the channel by chat.postMessage.
            assert [c.headers["Authorization"] for c in slack.of("auth.test")] == [f"Bearer {slack.bot_token}"]
            assert slack.of("chat.postMessage") == []
            assert leaks(SECRET, slack.bot_token, text=caplog.text) == []

    run(scenario())


def test_http_question_text_cannot_ping_anyone(service: CitebotService) -> None:
    async def scenario() -> None:
        async with MockSlack() as slack, HttpSlackApp(service, slack) as app:
            # As Slack sends it: a typed `<!here>` arrives escaped, an @channel / @user arrive as <!channel> / <@U…>.
            await app.command("who founded 01.AI? <!channel> &lt;!here&gt; <@U999> &amp; <https://evil.example|x>")
            call = await answered(slack, "response/r1")
            raw = visible(call)
            for ping in ("<!channel>", "<!here>", "<!everyone>", "<@U999>", "<https://evil"):
                assert ping not in raw
            question = call.body["blocks"][0]["elements"][0]["text"]
            assert "&lt;!here&gt;" in question and "@\u200bchannel" in question and "&amp;" in question
            # The buttons carry the question as the user meant it, to ask it again on "More sources".
            assert json.loads(buttons(call)[ACTION_MORE]["value"])["q"] == "who founded 01.AI? @channel <!here> @U999 & x"

    run(scenario())


def test_http_refusals_at_ack_and_not_found_only_to_the_asker(service: CitebotService) -> None:
    async def scenario() -> None:
        async with MockSlack() as slack, HttpSlackApp(service, slack) as app:
            status, body, seconds = await app.command("why " * 200)
            assert status == 200 and seconds < 3 and "characters long" in json.loads(body)["text"]
            status, body, _ = await app.command("   ")
            assert status == 200 and "Ask me a question" in json.loads(body)["text"]

            await app.command("what is the capital of Peru?", key="nf")
            call = await answered(slack, "response/nf")
            assert call.body["response_type"] == "ephemeral"
            assert call.body["text"].startswith(NOT_FOUND)
            assert [c.path for c in slack.posts] == ["response/nf"]  # the refusals posted nothing
            # "Not found" is remembered for `citebot feedback`.
            assert [r.question for r in service.feedback.report()] == ["what is the capital of Peru?"]

    run(scenario())


def test_http_mentions_dms_and_duplicates_get_one_answer_each(service: CitebotService) -> None:
    async def scenario() -> None:
        async with MockSlack() as slack, HttpSlackApp(service, slack) as app:
            # A mention in a channel: answered in a thread on that message.
            status, _, seconds = await app.event(mention("who founded 01.AI?", "1700000000.000100"), "Ev1")
            assert status == 200 and seconds < 3
            call = await answered(slack, "chat.postMessage", thread_ts="1700000000.000100")
            assert call.body["channel"] == "C1" and AI01_LINK in call.text
            assert call.body["unfurl_links"] is False

            # Slack's timeout retry, the same event delivered again, and the same message as a `message` event.
            assert (await app.event(mention("who founded 01.AI?", "1700000000.000100"), "Ev1",
                                    retry=(1, "http_timeout")))[0] == 200
            assert (await app.event(mention("who founded 01.AI?", "1700000000.000100"), "Ev1"))[0] == 200
            assert (await app.event(message("<@UBOT> who founded 01.AI?", "1700000000.000100", channel="C1",
                                            channel_type="channel"), "Ev1m"))[0] == 200

            # Asked inside a thread: answered inside that thread.
            await app.event(mention("what is Sora?", "1700000000.000300", thread_ts="1700000000.000200"), "Ev2")
            call = await answered(slack, "chat.postMessage", thread_ts="1700000000.000200")
            assert SORA_URL in call.text

            # A retry for another reason (the first try failed before reaching us) is answered once.
            await app.event(mention("what is Sora?", "1700000000.000400"), "Ev3", retry=(1, "http_error"))
            await answered(slack, "chat.postMessage", thread_ts="1700000000.000400")

            # Direct messages: answered in the DM; the app's own and other bots' messages are ignored.
            await app.event(message("what is Sora?", "1700000000.000500"), "Ev4")
            call = await answered(slack, "chat.postMessage", channel="D1")
            assert "thread_ts" not in call.body and SORA_URL in call.text
            await app.event(message("what is Sora?", "1700000000.000600", bot_id="BOTHER", subtype="bot_message"), "Ev5")
            await app.event(message("what is Sora?", "1700000000.000700", user="UBOT", bot_id="BBOT"), "Ev6")
            await app.event(message("what is Sora?", "1700000000.000800", subtype="message_changed"), "Ev7")
            # A mention in a DM can come both as `message` and as `app_mention`: one answer, in the DM.
            await app.event(message("<@UBOT> who founded 01.AI?", "1700000000.000850", channel="D2"), "Ev7m")
            await app.event(mention("who founded 01.AI?", "1700000000.000850", channel="D2"), "Ev7a")
            await answered(slack, "chat.postMessage", channel="D2")

            # A last question, so everything sent before it has been handled when its answer arrives.
            await app.event(mention("who founded 01.AI?", "1700000000.000900"), "Ev8")
            await answered(slack, "chat.postMessage", thread_ts="1700000000.000900")
            await asyncio.sleep(0.3)
            # Answers run concurrently, so compare what arrived, not in which order.
            assert sorted((c.body["channel"], c.body.get("thread_ts") or "") for c in slack.posts) == [
                ("C1", "1700000000.000100"), ("C1", "1700000000.000200"), ("C1", "1700000000.000400"),
                ("C1", "1700000000.000900"), ("D1", ""), ("D2", "")]

    run(scenario())


@pytest.mark.parametrize("case", ["wrong signature", "stale timestamp", "missing headers", "tampered body", "other secret"])
def test_http_rejects_requests_not_signed_by_slack(service: CitebotService, case: str,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)

    async def scenario() -> None:
        async with MockSlack() as slack, HttpSlackApp(service, slack) as app:
            body = urllib.parse.urlencode(command_payload("who founded 01.AI?", slack.response_url()))
            ts = str(int(time.time()))
            ct = "application/x-www-form-urlencoded"
            if case == "wrong signature":
                status, *_ = await app.post(body, ct, signature="v0=" + "0" * 64)
            elif case == "stale timestamp":
                old = str(int(time.time()) - 10 * 60)
                status, *_ = await app.post(body, ct, ts=old, signature=sign(body, old))
            elif case == "missing headers":
                status, *_ = await app.post(body, ct, headers={})
            elif case == "tampered body":
                status, *_ = await app.post(body.replace("01.AI", "Sora"), ct, ts=ts, signature=sign(body, ts))
            else:
                status, *_ = await app.post(body, ct, ts=ts, signature=sign(body, ts, secret="not-the-secret"))
            assert status == 401
            # Properly signed, Slack's URL check still works: the app is up, it just refused that request.
            challenge = json.dumps({"token": "legacy", "challenge": "c-123", "type": "url_verification"})
            status, text, _ = await app.post(challenge, "application/json")
            assert status == 200 and "c-123" in text
            await asyncio.sleep(0.2)
            assert slack.calls == []
            # Neither the secret nor the refused request (its response_url, the question) reaches the log.
            assert leaks(SECRET, slack.response_url(), "who+founded", text=caplog.text) == []
            assert "Invalid request signature detected" in caplog.text

    run(scenario())


def test_http_buttons_more_sources_and_votes(service: CitebotService) -> None:
    async def scenario() -> None:
        async with MockSlack() as slack, HttpSlackApp(service, slack) as app:
            await app.command("who founded 01.AI?")
            answer = await answered(slack, "response/r1")
            btn = buttons(answer)
            assert set(btn) == {ACTION_MORE, ACTION_UP, ACTION_DOWN}
            assert all(len(b["value"]) <= BUTTON_VALUE_LIMIT for b in btn.values())

            status, _, seconds = await app.click(btn[ACTION_MORE], "more", user="U2")
            assert status == 200 and seconds < 3
            more = await answered(slack, "response/more")
            assert more.body["response_type"] == "ephemeral" and more.body["replace_original"] is False
            assert "*[1]*" in more.text and "*[4]*" in more.text  # every passage, the quote's own first
            first = [b for b in more.body["blocks"] if b["type"] == "section"][0]["text"]["text"]
            assert first.startswith("*[1]* " + AI01_LINK) and "Kai-Fu Lee" in first

            await app.click(btn[ACTION_UP], "up", user="U2")
            await app.click(btn[ACTION_DOWN], "down", user="U3")
            for key in ("up", "down"):
                thanks = await answered(slack, f"response/{key}")
                assert thanks.body["response_type"] == "ephemeral" and "Thanks" in thanks.body["text"]
            rows = service.feedback.report(include_up=True)
            assert sorted((r.platform, r.scope, r.user, r.vote, r.question) for r in rows) == [
                ("slack", "T1", "U2", 1, "who founded 01.AI?"), ("slack", "T1", "U3", -1, "who founded 01.AI?")]
            assert all(r.answer and "Kai-Fu Lee" in r.answer for r in rows)

    run(scenario())


def test_http_workspace_uploads_are_never_cited_to_another_workspace(service: CitebotService) -> None:
    async def scenario() -> None:
        await service.ingest_upload("zorblax.txt", ZORBLAX, Asker("slack", "U1", "T2"))
        async with MockSlack() as slack, HttpSlackApp(service, slack) as app:
            q = "who designed the Zorblax fusion reactor?"
            await app.command(q, key="t2", team="T2")
            own = await answered(slack, "response/t2")
            assert own.body["response_type"] == "in_channel" and "Quandt" in own.text
            # The upload's own text is escaped too: it cannot ping the workspace or a user.
            raw = visible(own)
            assert "<!everyone>" not in raw and "<@U42>" not in raw and "&lt;!everyone&gt;" in raw

            await app.command(q, key="t1", team="T1")
            await app.event(mention(q, "1700000000.000100", team="T1"), "EvT1", team="T1")
            other = [await answered(slack, "response/t1"),
                     await slack.wait_for(lambda c: c.path.startswith("chat.") and c.body.get("thread_ts") == "1700000000.000100")]
            for call in other:
                assert "Zorblax" not in call.text and "Quandt" not in call.text and "zorblax.txt" not in call.text

    run(scenario())


def test_http_rate_limit_gets_a_friendly_private_reply(engine) -> None:
    service = CitebotService(engine, FeedbackStore(engine.index_dir / "feedback.sqlite"), rate_limit_per_minute=1)

    async def scenario() -> None:
        async with MockSlack() as slack, HttpSlackApp(service, slack) as app:
            await app.command("who founded 01.AI?", key="a")
            assert (await answered(slack, "response/a")).body["response_type"] == "in_channel"
            await app.command("what is Sora?", key="b")
            call = await answered(slack, "response/b")
            assert call.body["response_type"] == "ephemeral" and "faster than I can keep up" in call.body["text"]
            await app.event(mention("what is Sora?", "1700000000.000100"), "Ev1")
            call = await answered(slack, "chat.postEphemeral")
            assert call.body["user"] == "U1" and call.body["thread_ts"] == "1700000000.000100"
            assert "faster than I can keep up" in call.body["text"]

    run(scenario())


def test_http_unexpected_failure_is_logged_apologised_for_and_survived(
        service: CitebotService, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("index on fire")

    async def scenario() -> None:
        async with MockSlack() as slack, HttpSlackApp(service, slack) as app:
            with monkeypatch.context() as m:
                m.setattr(service.engine, "ask", broken)
                await app.command("who founded 01.AI?", key="a")
                call = await answered(slack, "response/a")
                assert call.body["response_type"] == "ephemeral" and call.body["text"] == APOLOGY
                await app.event(mention("who founded 01.AI?", "1700000000.000100"), "Ev1")
                call = await answered(slack, "chat.postEphemeral")
                assert call.body["text"] == APOLOGY and "index on fire" not in call.text
            await app.command("who founded 01.AI?", key="b")
            assert AI01_URL in (await answered(slack, "response/b")).text
        assert "RuntimeError: index on fire" in caplog.text  # with its traceback, for us

    run(scenario())


# --- Socket Mode --------------------------------------------------------------------------


def test_socket_mode_ask_and_mention(service: CitebotService, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)

    async def scenario() -> None:
        async with MockSlack() as slack:
            settings = Settings(SLACK_BOT_TOKEN=slack.bot_token, SLACK_APP_TOKEN=slack.app_token,
                                SLACK_API_URL=slack.api_url)
            task = asyncio.create_task(serve(settings, service))
            try:
                await asyncio.wait_for(slack.connected.wait(), 10)
                opened = slack.of("apps.connections.open")
                assert [c.headers["Authorization"] for c in opened] == [f"Bearer {slack.app_token}"]

                start = time.monotonic()
                env = await slack.send_envelope("slash_commands", command_payload("who founded 01.AI?", slack.response_url()))
                await slack.wait_ack(env, timeout=3)
                assert time.monotonic() - start < 3
                call = await answered(slack, "response/r1")
                assert call.body["response_type"] == "in_channel" and AI01_LINK in call.text

                env = await slack.send_envelope("events_api", event_payload(mention("what is Sora?", "1700000000.000100"), "Ev1"))
                await slack.wait_ack(env)
                call = await answered(slack, "chat.postMessage", thread_ts="1700000000.000100")
                assert call.body["channel"] == "C1" and SORA_URL in call.text
                assert call.headers["Authorization"] == f"Bearer {slack.bot_token}"

                # Redelivered (Slack got no ack in time): acked, not answered again.
                env = await slack.send_envelope("events_api", event_payload(mention("what is Sora?", "1700000000.000100"), "Ev1"),
                                                retry_attempt=1, retry_reason="timeout")
                await slack.wait_ack(env)
                env = await slack.send_envelope("events_api", event_payload(message("what is Sora?", "1700000000.000200"), "Ev2"))
                await answered(slack, "chat.postMessage", channel="D1")
                await asyncio.sleep(0.3)
                assert len(slack.of("chat.postMessage")) == 2

                env = await slack.send_envelope("interactive", click(buttons(await answered(slack, "response/r1"))[ACTION_UP],
                                                                     slack.response_url("up")))
                await slack.wait_ack(env)
                await answered(slack, "response/up")
                assert [r.vote for r in service.feedback.report(include_up=True)] == [1]
            finally:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        assert leaks(slack.app_token, slack.bot_token, text=caplog.text) == []

    run(scenario())


# --- pieces -------------------------------------------------------------------------------


def test_recent_keys_forget_after_ttl_and_stay_bounded() -> None:
    keys = RecentKeys(ttl=0.05, max_size=3)
    assert keys.add("e1", ("C1", "1.0")) is True
    assert keys.add("e2", ("C1", "1.0")) is False  # same message under another event id
    assert keys.add("e1") is False
    time.sleep(0.06)
    assert keys.add("e1") is True
    for i in range(10):
        keys.add(f"x{i}")
    assert len(keys._seen) <= 4


def citation(n: int = 1, *, title: str = "A title", url: str | None = "https://example.org/a",
             snippet: str = "Before. The answer sentence. After.", answer: tuple[int, int] | None = (8, 28),
             date: str | None = "2024-01-02", source: str = "/srv/articles/a.md") -> Citation:
    return Citation(n=n, title=title, date=date, url=url, source=source, snippet=snippet, start=0,
                    end=len(snippet), score=1.0, answer_start=answer[0] if answer else None,
                    answer_end=answer[1] if answer else None)


def sections(msg: SlackMessage) -> list[str]:
    return [b["text"]["text"] for b in msg.blocks if b["type"] == "section"]


def contexts(msg: SlackMessage) -> list[str]:
    return [e["text"] for b in msg.blocks if b["type"] == "context" for e in b["elements"]]


def test_render_escapes_every_piece_and_links_only_http_urls() -> None:
    snippet = "Said <@U123> to <!here>: A & B <b>x</b> @everyone. Next."
    c1 = citation(title="<!channel> & Co", url="https://x.org/a?b=1&c=<2>|3", snippet=snippet,
                  answer=(0, snippet.index(" Next")))
    c2 = citation(2, title="Evil", url="javascript:alert(1)", source="/srv/secret/path/evil.md")
    ans = Answer(question="q", found=True, answer="A & B <b>x</b> <!channel>", citations=(c1, c2),
                 highlights=((0, 5),))
    msg = render_answer(ans)
    passages = render_passages(ans)
    shown = visible(msg) + visible(passages)
    for ping in ("<!", "<@", "<b>", "<javascript"):
        assert ping not in shown
    (quote,) = sections(msg)
    assert quote == ">*A &amp; B* &lt;b&gt;x&lt;/b&gt; &lt;!channel&gt;"
    assert contexts(msg) == ["— <https://x.org/a?b=1&amp;c=%3C2%3E%7C3|&lt;!channel&gt; &amp; Co> · 2024-01-02\n"
                             "• *Evil* · 2024-01-02 · _evil.md_"]  # no link, no server path
    first, second = sections(passages)
    assert first.startswith("*[1]* <https://x.org/a?b=1&amp;c=%3C2%3E%7C3|&lt;!channel&gt; &amp; Co> (2024-01-02)\n>")
    assert "*Said &lt;@U123&gt; to &lt;!here&gt;: A &amp; B &lt;b&gt;x&lt;/b&gt; @\u200beveryone.* Next." in first
    assert second.startswith("*[2]* Evil (2024-01-02)\n_evil.md_\n>")  # no link, no server path
    assert all(b["text"].get("verbatim") for b in msg.blocks + passages.blocks if b["type"] == "section")


def test_render_respects_block_kit_limits() -> None:
    huge = "& <x> " * 3000
    cites = tuple(citation(i, title="T & <t> " * 100, snippet=huge + "The answer. " + huge,
                           answer=(len(huge), len(huge) + 11)) for i in range(1, 80))
    ans = Answer(question="& " * 3000, found=True, answer="<&> " * 2000, citations=cites, more=cites,
                 highlights=((0, 3), (4000, 4003)))
    for msg in (render_answer(ans, show_question=True), render_more(ans), render_passages(ans)):
        assert not block_errors(msg.blocks)  # what the mock Slack (and Slack) would refuse
        assert len(msg.blocks) <= 50
        assert all(len(t) <= 3000 for t in sections(msg))
        assert len(msg.text) <= 3000
        for b in msg.blocks:
            for e in b.get("elements", []):
                assert len(e.get("text", "")) <= 3000 and len(e.get("value", "")) <= 2000
    first = sections(render_passages(ans))[0]
    assert "*The answer.*" in first and "…" in first  # trimmed around the answer sentence, and says so
    q, a = parse_button_value(button_value("why? " * 1000, "because " * 1000))
    assert q.startswith("why? why?") and (a is None or a.endswith("…"))


def test_render_not_found_and_notices() -> None:
    msg = render_answer(Answer(question="q", found=False, answer=None, nearest=("<!here> & news",)))
    assert msg.text == NOT_FOUND + " Closest articles: &lt;!here&gt; &amp; news"
    assert render_notice("Please wait 3 s <@U1>").text == "Please wait 3 s &lt;@U1&gt;"


@pytest.mark.parametrize("raw, plain", [
    ("<@UBOT> who founded 01.AI?", "who founded 01.AI?"),
    ("who is <@U42|ann> in <#C1|general>?", "who is @ann in #general?"),
    ("<!channel> &lt;!here&gt; AT&amp;T", "@channel <!here> AT&T"),
    ("see <https://example.org/a|the article> and <https://example.org/b>", "see the article and https://example.org/b"),
    ("ask <!subteam^S1|@ops> about <!date^1392734382^{date}|Feb 18th>", "ask @ops about Feb 18th"),
    ("  many\n  spaces  ", "many spaces"),
])
def test_plain_question_reads_slack_text(raw: str, plain: str) -> None:
    assert plain_question(raw, "UBOT") == plain


@pytest.mark.parametrize("env, http, needs", [
    ({"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_APP_TOKEN": "xapp-1"}, True, "SLACK_SIGNING_SECRET"),
    ({"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s"}, False, "SLACK_APP_TOKEN"),
    ({"SLACK_APP_TOKEN": "xapp-1", "SLACK_SIGNING_SECRET": "s"}, False, "SLACK_BOT_TOKEN"),
])
def test_serve_says_which_setting_is_missing(service: CitebotService, env: dict[str, str], http: bool, needs: str) -> None:
    with pytest.raises(UserError, match=needs):
        run(serve(Settings(**env), service, http=http, port=free_port(), host="127.0.0.1"))


# --- help channels ------------------------------------------------------------------------------

HANDBOOK = (b"Staff handbook: leave\n\nEvery employee gets twenty-seven days of paid annual leave, plus public "
            b"holidays. Unused leave may be carried over until the end of March of the following year.\n")
LEAVE = "How many days of paid annual leave do we get?"


@pytest.fixture
def help_service(engine) -> CitebotService:
    """The service with help channels: C_HELP (public), G_HELP (private) and C_HR (only the `hr` collection)."""
    from bot.channels import ChannelStore
    from index.engine import Document

    engine.ingest([Document(name="handbook.txt", source="hr/handbook.txt", data=HANDBOOK)], collection="hr")
    channels = ChannelStore(engine.index_dir / "channels.sqlite", auto_channels=frozenset({"C_HELP", "G_HELP", "C_HR"}),
                            collections={"C_HR": ("hr",)})
    return CitebotService(engine, FeedbackStore(engine.index_dir / "feedback.sqlite"), rate_limit_per_minute=0,
                          channels=channels, auto_per_channel_per_minute=0)


def channel_message(text: str, ts: str, channel: str = "C_HELP", **extra: Any) -> dict[str, Any]:
    kind = "group" if channel.startswith("G") else "channel"
    return message(text, ts, channel=channel, channel_type=kind, **extra)


async def settle(app: HttpSlackApp) -> None:
    """Wait until every answer the app started has been posted (or decided against)."""
    await asyncio.sleep(0.2)
    for _ in range(100):
        bot_tasks = [t for t in asyncio.all_tasks() if "_auto_answer" in repr(t.get_coro()) or "_channel_command" in repr(t.get_coro())]
        if not bot_tasks:
            return
        await asyncio.sleep(0.1)


def test_help_channel_questions_are_answered_in_a_thread_public_and_private(help_service: CitebotService) -> None:
    async def scenario() -> None:
        async with MockSlack() as slack, HttpSlackApp(help_service, slack) as app:
            await app.event(channel_message("Who founded 01.AI?", "1700000000.000100"), "Ev1")
            public = await answered(slack, "chat.postMessage", channel="C_HELP")
            assert public.body["thread_ts"] == "1700000000.000100"  # in a thread on the question
            assert AI01_LINK in public.text and public.body["unfurl_links"] is False
            down = buttons(public)[ACTION_DOWN]["value"]
            assert json.loads(down)["u"] == "U1"  # the asker's 👎 can remove it

            await app.event(channel_message("How long are Sora's video clips?", "1700000000.000200",
                                            channel="G_HELP"), "Ev2")
            private = await answered(slack, "chat.postMessage", channel="G_HELP")
            assert private.body["thread_ts"] == "1700000000.000200" and SORA_URL in private.text
            assert not slack.refused

    run(scenario())


def test_chatter_bots_edits_thread_replies_and_other_channels_are_left_alone(help_service: CitebotService) -> None:
    async def scenario() -> None:
        async with MockSlack() as slack, HttpSlackApp(help_service, slack) as app:
            ignored = [
                channel_message("thanks, that worked!", "1.1"),
                channel_message("Who founded 01.AI?", "1.2", bot_id="B999", user="U9"),  # another bot
                channel_message("Who founded 01.AI?", "1.3", user="UBOT"),  # itself
                channel_message("Who founded 01.AI?", "1.4", subtype="bot_message"),
                channel_message("Who founded 01.AI?", "1.5", thread_ts="1.0"),  # a reply in a thread
                channel_message("", "1.6", subtype="message_changed",
                                message={"text": "Who founded 01.AI?", "ts": "1.1", "user": "U1"}),  # an edit
                channel_message("Who founded 01.AI?", "1.7", channel="C_OTHER"),  # not a help channel
            ]
            for n, ev in enumerate(ignored):
                await app.event(ev, f"EvI{n}")
            await app.event(channel_message("When was Python 3.13 released?", "1.9"), "EvS")
            await answered(slack, "chat.postMessage", thread_ts="1.9")
            await settle(app)
            assert [c.body.get("thread_ts") for c in slack.posts] == ["1.9"]
            assert not [r for r in help_service.feedback.report() if r.question == "thanks, that worked!"]

    run(scenario())


def test_low_confidence_question_is_silent_and_recorded(help_service: CitebotService) -> None:
    async def scenario() -> None:
        async with MockSlack() as slack, HttpSlackApp(help_service, slack) as app:
            await app.event(channel_message("What is the capital of France?", "2.1", user="U7"), "EvL")
            await settle(app)
            assert slack.posts == []
            (row,) = [r for r in help_service.feedback.report() if r.kind == "unanswered"]
            assert (row.platform, row.scope, row.user, row.question) == ("slack", "T1", "U7", "What is the capital of France?")

    run(scenario())


def test_channel_collections_are_followed_by_unasked_answers_and_ask(help_service: CitebotService) -> None:
    async def scenario() -> None:
        async with MockSlack() as slack, HttpSlackApp(help_service, slack) as app:
            await app.event(channel_message(LEAVE, "3.1", channel="C_HR"), "EvH")
            hr = await answered(slack, "chat.postMessage", channel="C_HR")
            assert "twenty-seven" in hr.text and "_handbook.txt_" in hr.text and "hr/" not in visible(hr)
            # /ask in #hr-help: only `hr`, so a global article is not found there
            body = urllib.parse.urlencode(dict(command_payload("who founded 01.AI?", slack.response_url("hr")),
                                               channel_id="C_HR"))
            await app.post(body, "application/x-www-form-urlencoded")
            refused = await answered(slack, "response/hr")
            assert refused.body["response_type"] == "ephemeral" and NOT_FOUND.split()[0] in refused.text
            # elsewhere (and in DMs) the hr collection is not used, and the rest is as before
            await app.command(LEAVE, "general")
            general = await answered(slack, "response/general")
            assert "twenty-seven" not in general.text

    run(scenario())


def test_the_askers_thumbs_down_removes_the_unasked_answer(help_service: CitebotService) -> None:
    async def scenario() -> None:
        async with MockSlack() as slack, HttpSlackApp(help_service, slack) as app:
            await app.event(channel_message("Who founded 01.AI?", "4.1", user="U5"), "EvD")
            answer = await answered(slack, "chat.postMessage", channel="C_HELP")
            down = buttons(answer)[ACTION_DOWN]
            await app.click(down, "other", user="U6")  # someone else: a vote only
            other = await answered(slack, "response/other")
            assert "Thanks" in other.body["text"] and not other.body.get("delete_original")
            await app.click(down, "asker", user="U5")
            gone = await slack.wait_for(lambda c: c.path == "response/asker" and c.body.get("delete_original"))
            assert gone.body["delete_original"] is True
            thanks = await slack.wait_for(lambda c: c.path == "response/asker" and "removed" in c.body.get("text", ""))
            assert thanks.body["response_type"] == "ephemeral"
            votes = sorted((r.user, r.vote) for r in help_service.feedback.report() if r.vote)
            assert votes == [("U5", -1), ("U6", -1)]

    run(scenario())


def test_channel_command_is_for_admins(help_service: CitebotService) -> None:
    async def scenario() -> None:
        async with MockSlack() as slack, HttpSlackApp(help_service, slack) as app:
            slack.admins["UADMIN"] = True

            async def channel_command(text: str, user: str) -> Call:
                payload = dict(command_payload(text, slack.response_url("x"), user=user), command="/citebot-channel",
                               channel_id="C_NEW")
                n = len(slack.of("chat.postEphemeral"))
                await app.post(urllib.parse.urlencode(payload), "application/x-www-form-urlencoded")
                await slack.wait_for(lambda c: c.path == "chat.postEphemeral" and len(slack.of("chat.postEphemeral")) > n)
                return slack.of("chat.postEphemeral")[n]

            refused = await channel_command("on", "U1")
            assert "only workspace admins" in refused.body["text"] and refused.body["user"] == "U1"
            assert not help_service.auto_channel("slack", "C_NEW")
            on = await channel_command("on", "UADMIN")
            assert "I answer new questions in this channel" in on.body["text"]
            limited = await channel_command("collections hr, uploads", "UADMIN")
            assert "hr, uploads" in limited.body["text"]
            asker = Asker(platform="slack", user="U1", scope="T1", channel="C_NEW")
            assert help_service.collections_for(asker) == ["hr", "slack:T1"]
            bad = await channel_command("collections slack:T2", "UADMIN")
            assert "not a collection name" in bad.body["text"]
            await app.event(channel_message(LEAVE, "5.1", channel="C_NEW"), "EvN")
            answer = await answered(slack, "chat.postMessage", channel="C_NEW")
            assert "twenty-seven" in answer.text
            await channel_command("off", "UADMIN")
            assert not help_service.auto_channel("slack", "C_NEW")

    run(scenario())


def test_mock_slack_refuses_what_slack_refuses() -> None:
    async def scenario() -> None:
        from slack_sdk.errors import SlackApiError
        from slack_sdk.web.async_client import AsyncWebClient

        async with MockSlack() as slack:
            client = AsyncWebClient(token=slack.bot_token, base_url=slack.api_url)
            section = {"type": "section", "text": {"type": "mrkdwn", "text": "x"}}
            cases = [
                ([section] * 51, "must be less than 51 items [json-pointer:/blocks]"),
                ([{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}],
                 "must be less than 3001 characters [json-pointer:/blocks/0/text/text]"),
                ([{"type": "context", "elements": [{"type": "mrkdwn", "text": "x"}] * 11}], "/blocks/0/elements"),
            ]
            for blocks, message in cases:
                with pytest.raises(SlackApiError) as err:
                    await client.chat_postMessage(channel="C1", text="x", blocks=blocks)
                assert err.value.response["error"] == "invalid_blocks"
                assert message in err.value.response["errors"][0]
            with pytest.raises(SlackApiError) as err:
                await client.chat_postMessage(channel="C1", text="x" * 40001)
            assert err.value.response["error"] == "msg_too_long"
            slack.rate_limit("chat.postMessage", retry_after=1)
            with pytest.raises(SlackApiError) as err:
                await client.chat_postMessage(channel="C1", text="ok")
            assert err.value.response.status_code == 429 and err.value.response.headers["Retry-After"] == "1"
            assert (await client.chat_postMessage(channel="C1", text="x", blocks=[section] * 50))["ok"]
            async with aiohttp.ClientSession() as http:
                async with http.post(slack.response_url("big"), json={"text": "x", "blocks": [section] * 51}) as r:
                    assert (r.status, await r.text()) == (400, "invalid_blocks")

    run(scenario())


def test_every_reply_the_app_posts_fits_slacks_limits(help_service: CitebotService) -> None:
    async def scenario() -> None:
        async with MockSlack() as slack, HttpSlackApp(help_service, slack) as app:
            await app.command("How do plot holders " + "really " * 60 + "pay per season?", "long")
            await app.event(channel_message("When was Python 3.13 released?", "6.1"), "EvX")
            long = await answered(slack, "response/long")
            await app.click(buttons(long)[ACTION_MORE], "more")
            await answered(slack, "response/more")
            await answered(slack, "chat.postMessage", thread_ts="6.1")
            assert not slack.refused

    run(scenario())


def test_socket_mode_help_channel_question_is_answered_in_a_thread(help_service: CitebotService) -> None:
    async def scenario() -> None:
        async with MockSlack() as slack:
            settings = Settings(SLACK_BOT_TOKEN=slack.bot_token, SLACK_APP_TOKEN=slack.app_token,
                                SLACK_API_URL=slack.api_url)
            task = asyncio.create_task(serve(settings, help_service))
            try:
                env = await slack.send_envelope("events_api", event_payload(
                    channel_message("what is Sora?", "1700000000.000300", channel="G_HELP"), "EvSock"))
                await slack.wait_ack(env, timeout=3)
                call = await answered(slack, "chat.postMessage", thread_ts="1700000000.000300")
                assert call.body["channel"] == "G_HELP" and SORA_URL in call.text
                assert not slack.refused
            finally:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)

    run(scenario())


def test_a_rate_limited_answer_is_posted_after_slacks_retry_after(help_service: CitebotService) -> None:
    async def scenario() -> None:
        async with MockSlack() as slack, HttpSlackApp(help_service, slack) as app:
            slack.rate_limit("chat.postMessage", retry_after=1)
            await app.event(channel_message("When was Python 3.13 released?", "7.1"), "EvR")
            await slack.wait_for(lambda c: c.path == "chat.postMessage" and len(slack.of("chat.postMessage")) == 2)
            first, second = slack.of("chat.postMessage")
            assert slack.refused == [("chat.postMessage", "ratelimited")] and second.body["thread_ts"] == "7.1"
            assert first.body == second.body and "python-313" in second.text

    run(scenario())
