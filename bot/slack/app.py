"""The Slack app (Bolt for Python, asyncio): `/ask`, `/citebot-channel`, @mentions, DMs, new questions
in help channels, and answer buttons.

A thin adapter: Slack's payloads become `service.ask(...)` calls, answers are rendered by
`bot.slack.render`. Two transports share one `AsyncApp`: Socket Mode (a websocket Slack opens for
us) and HTTP (`/slack/events` behind any number of stateless replicas, plus `GET /healthz`).

Slack wants every request acknowledged within 3 seconds, so listeners `ack()` first and answer in a
background task; the service runs embedding and FAISS search in a thread, off the event loop.
"""
from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from slack_bolt.async_app import AsyncApp
from slack_bolt.response import BoltResponse
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient

from index import Answer, Turn, UserError

from ..config import Settings
from ..service import APOLOGY, Asker, CitebotService
from ..thread import DM_WINDOW, HISTORY_MESSAGES, THREAD_WINDOW, recent
from .admin import CHANNEL_COMMAND, INGEST_COMMAND, AdminCommands
from .parse import button_asker, channel_of, parse_button_value, plain_question, turn_of_message
from .render import (
    ACTION_DOWN,
    ACTION_MORE,
    ACTION_UP,
    SlackMessage,
    render_answer,
    render_not_found,
    render_notice,
    render_passages,
)
from .replies import post_with, respond_with

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
HEALTH_PATH = "/healthz"
# Retry reasons meaning "you took too long": Slack did deliver, and we had already acked and started.
TIMEOUT_RETRIES = frozenset({"http_timeout", "timeout"})
HIDDEN = "Thanks for the feedback. I've removed my answer."


class RecentKeys:
    """A bounded set of recently seen keys, each forgotten `ttl` seconds after it was added.

    Slack re-delivers an event when it thinks we missed it, and a channel mention can arrive both as
    `app_mention` and as `message`; remembering event ids and (channel, ts) keeps us to one answer.
    This memory is per process: across HTTP replicas the `X-Slack-Retry-Num` check in
    `SlackBot.skip_retries` is what stops a second answer, since every replica acks in time.
    """

    def __init__(self, *, ttl: float = 15 * 60, max_size: int = 20_000) -> None:
        if ttl <= 0 or max_size < 1:
            raise ValueError("ttl and max_size must be positive")
        self.ttl, self.max_size = ttl, max_size
        self._seen: OrderedDict[object, float] = OrderedDict()

    def add(self, *keys: object) -> bool:
        """Record `keys`; True if none of them was seen recently (i.e. this is new work)."""
        now = time.monotonic()
        while self._seen and (now - next(iter(self._seen.values())) > self.ttl or len(self._seen) > self.max_size):
            self._seen.popitem(last=False)
        keys = tuple(k for k in keys if k is not None)
        fresh = not any(k in self._seen for k in keys)
        for k in keys:
            self._seen[k] = now
            self._seen.move_to_end(k)
        return fresh


def _header(headers: dict[str, Any], name: str) -> str | None:
    value = headers.get(name)
    if isinstance(value, (list, tuple)):
        value = value[0] if value else None
    return value


class SlackBot(AdminCommands):
    """Bolt listeners that turn Slack requests into service calls and post the rendered answers.

    Here: /ask, mentions, DMs, help channels and the answer buttons; the admin commands are in
    `admin`, sending and the background tasks in `replies`."""

    def __init__(self, service: CitebotService, *, seen: RecentKeys | None = None) -> None:
        super().__init__()
        self.service = service
        self.seen = seen or RecentKeys()

    def register(self, app: AsyncApp) -> AsyncApp:
        """Attach the middleware and listeners to `app`."""
        app.middleware(self.skip_retries)
        app.command("/ask")(self.on_ask)
        app.command(CHANNEL_COMMAND)(self.on_channel_command)
        app.command(INGEST_COMMAND)(self.on_ingest)
        app.event("app_mention")(self.on_mention)
        app.event("message")(self.on_message)
        app.action(ACTION_MORE)(self.on_more)
        app.action(ACTION_UP)(self.on_vote)
        app.action(ACTION_DOWN)(self.on_vote)
        return app


    # --- middleware -----------------------------------------------------------------------

    async def skip_retries(self, req: Any, next_: Callable[[], Awaitable[Any]]) -> BoltResponse | None:
        """Ack Slack's timeout retries and do nothing: we always ack in time, so the first delivery is being answered.

        Other retry reasons (connection failed, HTTP error) mean the first try may never have reached
        an answer, so those go on, and the in-process `RecentKeys` still catches a repeat here.
        """
        retry = _header(req.headers, "x-slack-retry-num")
        reason = _header(req.headers, "x-slack-retry-reason")
        # Socket Mode mirrors its envelope's retry_attempt (0 on a first delivery) into this header.
        if retry not in (None, "", "0") and reason in TIMEOUT_RETRIES:
            log.info("ignoring Slack retry %s (%s)", retry, reason)
            return BoltResponse(status=200, body="")
        return await next_()

    # --- /ask -----------------------------------------------------------------------------

    async def on_ask(self, ack: Any, command: dict[str, Any], respond: Any) -> None:
        """`/ask question`: ack now (with the reason if the question is unusable), answer after."""
        asker = Asker(platform="slack", user=command.get("user_id", ""), scope=command.get("team_id") or None,
                      channel=channel_of(command.get("channel_id")))
        try:
            question = self.service.check_question(plain_question(command.get("text", "")))
        except UserError as exc:
            await ack(**render_notice(str(exc)).to_kwargs())
            return
        await ack()
        self._spawn(self._answer_command(question, asker, respond))

    async def _answer_command(self, question: str, asker: Asker, respond: Any) -> None:
        answer = await self._ask(question, asker, lambda msg: respond_with(respond, msg, ephemeral=True))
        if answer is None:
            return
        if answer.found:
            await respond_with(respond, render_answer(answer, question=question, show_question=True), ephemeral=False)
        else:
            await respond_with(respond, render_not_found(answer), ephemeral=True)

    # --- mentions and DMs -----------------------------------------------------------------

    async def on_mention(self, body: dict[str, Any], event: dict[str, Any], context: Any, client: AsyncWebClient) -> None:
        """@citebot in a channel: answer in a thread on that message (inside the thread if asked in one)."""
        self._conversation(body, event, context, client)

    async def on_message(self, body: dict[str, Any], event: dict[str, Any], context: Any, client: AsyncWebClient) -> None:
        """Direct messages, and new questions in help channels. Mentions are left to `app_mention`; edits,
        thread replies and bots are ignored."""
        if event.get("subtype"):
            return  # message_changed (edits), bot_message, channel_join, thread_broadcast…
        if event.get("channel_type") == "im":
            self._conversation(body, event, context, client)
        elif event.get("channel_type") in ("channel", "group"):
            self._help_channel(body, event, context, client)

    def _help_channel(self, body: dict[str, Any], event: dict[str, Any], context: Any, client: AsyncWebClient) -> None:
        channel, ts, user = event.get("channel"), event.get("ts"), event.get("user")
        if event.get("bot_id") or not user or not channel or not ts or user == context.get("bot_user_id"):
            return
        if event.get("thread_ts") and event.get("thread_ts") != ts:
            return  # a reply in a thread, not a new question
        bot_user = context.get("bot_user_id")
        if bot_user and f"<@{bot_user}>" in (event.get("text") or ""):
            return  # asked by name: app_mention answers it
        if not self.service.auto_channel("slack", channel):
            return
        if not self.seen.add(body.get("event_id"), (channel, ts)):
            return
        asker = Asker(platform="slack", user=user, scope=body.get("team_id") or event.get("team") or None, channel=channel)
        self._spawn(self._auto_answer(client, plain_question(event.get("text", ""), bot_user), asker, channel, ts))

    async def _auto_answer(self, client: AsyncWebClient, text: str, asker: Asker, channel: str, ts: str) -> None:
        """Answer in a thread on the question only when confident; otherwise nothing is posted at all."""
        try:
            answer = await self.service.auto_answer(text, asker)
        except Exception:
            log.exception("Slack help-channel question failed (channel %s)", channel)
            return
        if answer is not None:
            await post_with(client.chat_postMessage, render_answer(answer, question=answer.question, asker=asker.user),
                        channel=channel, thread_ts=ts, unfurl_links=False, unfurl_media=False)

    def _conversation(self, body: dict[str, Any], event: dict[str, Any], context: Any, client: AsyncWebClient) -> None:
        if event.get("bot_id") or event.get("subtype") == "bot_message" or not event.get("user"):
            return
        channel, ts = event.get("channel"), event.get("ts")
        if not channel or not ts:
            return
        if not self.seen.add(body.get("event_id"), (channel, ts)):
            log.info("skipping a repeated Slack event %s", body.get("event_id"))
            return
        # app_mention carries no channel_type; DM channel ids start with "D".
        im = event.get("channel_type") == "im" or str(channel).startswith("D")
        thread_ts = event.get("thread_ts") if im else (event.get("thread_ts") or ts)
        asker = Asker(platform="slack", user=event["user"], scope=body.get("team_id") or event.get("team") or None,
                      channel=None if im else channel_of(channel))
        question = plain_question(event.get("text", ""), context.get("bot_user_id"))
        # Asked inside a thread (or in a DM): the thread's earlier answers are the conversation.
        earlier = (event.get("thread_ts") if not im else None) or None
        self._spawn(self._answer_conversation(client, question, asker, channel, thread_ts, im,
                                              history=(earlier, ts, context.get("bot_user_id"))))

    async def conversation_of(self, client: AsyncWebClient, channel: str, thread: str | None, before: str,
                              im: bool, bot_user_id: str | None) -> list[Turn]:
        """The turns of citebot's earlier answers in this thread (or, in a DM, its recent messages),
        read from Slack itself, so any replica or a restarted app sees the same conversation.
        Nothing (a question read alone) when Slack refuses, e.g. a missing history scope."""
        if thread is None and not im:
            return []
        now = float(before) if before else time.time()
        window = DM_WINDOW if im and thread is None else THREAD_WINDOW
        try:
            if thread is not None:
                resp = await client.conversations_replies(channel=channel, ts=thread, limit=HISTORY_MESSAGES)
            else:
                resp = await client.conversations_history(channel=channel, limit=HISTORY_MESSAGES,
                                                          oldest=f"{now - window:.6f}", latest=before)
        except SlackApiError as exc:
            # e.g. missing_scope (channels:history / groups:history / im:history not granted)
            log.info("Slack refused the thread's history (%s); reading the question alone", exc.response.get("error"))
            return []
        except Exception:  # noqa: BLE001 - without history the question is read alone, never refused
            log.warning("reading a Slack thread's history failed; reading the question alone", exc_info=True)
            return []
        turns = [t for m in resp.get("messages") or () if float(m.get("ts") or 0) < now
                 for t in [turn_of_message(m, bot_user_id)] if t is not None]
        return recent(turns, window=window, now=now)

    async def _answer_conversation(self, client: AsyncWebClient, question: str, asker: Asker,
                                   channel: str, thread_ts: str | None, im: bool,
                                   history: tuple[str | None, str, str | None] = (None, "", None)) -> None:
        async def private(msg: SlackMessage) -> None:
            # In a channel, only the asker needs to read "not found" or why a question was refused.
            if im:
                await post_with(client.chat_postMessage, msg, channel=channel, thread_ts=thread_ts)
            else:
                await post_with(client.chat_postEphemeral, msg, channel=channel, user=asker.user, thread_ts=thread_ts)

        earlier, before, bot_user_id = history
        turns = await self.conversation_of(client, channel, earlier, before, im, bot_user_id)
        answer = await self._ask(question, asker, private, turns)
        if answer is None:
            return
        if answer.found:
            await post_with(client.chat_postMessage, render_answer(answer, question=question),
                        channel=channel, thread_ts=thread_ts, unfurl_links=False, unfurl_media=False)
        else:
            await private(render_not_found(answer))

    # --- buttons --------------------------------------------------------------------------

    async def on_more(self, ack: Any, body: dict[str, Any], action: dict[str, Any], respond: Any) -> None:
        """"More sources": the citations beyond the first page, shown to whoever clicked."""
        await ack()
        question, _ = parse_button_value(action.get("value", ""))
        if not question:
            return
        self._spawn(self._more(question, _action_asker(body), respond))

    async def _more(self, question: str, asker: Asker, respond: Any) -> None:
        reply = lambda msg: respond_with(respond, msg, ephemeral=True, replace_original=False)  # noqa: E731
        try:
            answer = await self.service.more_sources(question, asker)
        except UserError as exc:
            await reply(render_notice(str(exc)))
            return
        except Exception:
            log.exception("Slack 'more sources' failed")
            await reply(render_notice(APOLOGY))
            return
        await reply(render_passages(answer))

    async def on_vote(self, ack: Any, body: dict[str, Any], action: dict[str, Any], respond: Any) -> None:
        """👍/👎 under an answer: recorded in the shared feedback store (`citebot feedback`)."""
        await ack()
        question, answer = parse_button_value(action.get("value", ""))
        if not question:
            return
        vote = 1 if action.get("action_id") == ACTION_UP else -1
        clicker = _action_asker(body)
        # A 👎 from the person an unasked answer was for removes that answer.
        hide = vote < 0 and button_asker(action.get("value", "")) == clicker.user
        self._spawn(self._vote(question, answer, vote, clicker, respond, hide=hide))

    async def _vote(self, question: str, answer: str | None, vote: int, asker: Asker, respond: Any,
                    *, hide: bool = False) -> None:
        try:
            await asyncio.to_thread(self.service.record_vote, question, vote, asker, answer)
        except Exception:
            log.exception("recording Slack feedback failed")
            await respond_with(respond, render_notice(APOLOGY), ephemeral=True, replace_original=False)
            return
        if hide:
            try:
                await respond(delete_original=True)
            except Exception:
                log.exception("removing an answer after its asker's 👎 failed")
            await respond_with(respond, render_notice(HIDDEN), ephemeral=True, replace_original=False)
            return
        thanks = "Thanks, noted 👍" if vote > 0 else "Thanks, noted 👎: the answer will be reviewed."
        # A private thank-you: the answer message with its buttons stays as everyone sees it.
        await respond_with(respond, render_notice(thanks), ephemeral=True, replace_original=False)

    # --- shared ---------------------------------------------------------------------------

    async def _ask(self, question: str, asker: Asker, reply_private: Callable[[SlackMessage], Awaitable[None]],
                   conversation: list[Turn] | None = None) -> Answer | None:
        """The answer, or None after telling the asker why there is none."""
        try:
            return await self.service.ask(question, asker, conversation or [])
        except UserError as exc:
            await reply_private(render_notice(str(exc)))
        except Exception:
            log.exception("Slack question failed (user %s, team %s)", asker.user, asker.scope or "-")
            await reply_private(render_notice(APOLOGY))
        return None


def _action_asker(body: dict[str, Any]) -> Asker:
    user = body.get("user") or {}
    team = (body.get("team") or {}).get("id") or user.get("team_id")
    return Asker(platform="slack", user=user.get("id", ""), scope=team or None)


# --- wiring -------------------------------------------------------------------------------


def api_url(settings: Settings) -> str:
    """`SLACK_API_URL` with the trailing slash slack_sdk needs to join method names onto it."""
    url = settings.slack_api_url.strip() or "https://slack.com/api/"
    return url if url.endswith("/") else url + "/"


def make_client(settings: Settings) -> AsyncWebClient:
    """The Web API client, on `SLACK_API_URL` (GovSlack or a test fake use another host)."""
    if settings.slack_bot_token is None:
        raise UserError("set SLACK_BOT_TOKEN to run the Slack app")
    client = AsyncWebClient(token=settings.slack_bot_token.get_secret_value(), base_url=api_url(settings))
    # Slack answers a burst (a busy help channel) with 429 + Retry-After: wait that long and post once more.
    client.retry_handlers.append(AsyncRateLimitErrorRetryHandler(max_retry_count=1))
    return client


class _WithholdRejectedBodies(logging.Filter):
    """Bolt logs a rejected request's whole body (response_url, user text) at INFO; keep only the fact."""

    def filter(self, record: logging.LogRecord) -> bool:
        if str(record.msg).startswith("Invalid request signature detected"):
            record.msg, record.args = "Invalid request signature detected (request not logged)", ()
        return True


_VERIFICATION_LOGGER = "slack_bolt.RequestVerification"  # AsyncRequestVerification logs through it


def build_app(settings: Settings, service: CitebotService, *, client: AsyncWebClient | None = None,
              bot: SlackBot | None = None) -> AsyncApp:
    """A Bolt app answering from `service`; the transport (Socket Mode or HTTP) is chosen by the caller."""
    secret = settings.slack_signing_secret.get_secret_value() if settings.slack_signing_secret else ""
    app = AsyncApp(
        name="citebot",
        client=client or make_client(settings),
        # Empty, not None: Bolt would otherwise read SLACK_SIGNING_SECRET from os.environ itself.
        signing_secret=secret,
        # False keeps ack() immediate in HTTP mode; answers are posted afterwards by our tasks.
        process_before_response=False,
    )
    verification_log = logging.getLogger(_VERIFICATION_LOGGER)
    if not any(isinstance(f, _WithholdRejectedBodies) for f in verification_log.filters):
        verification_log.addFilter(_WithholdRejectedBodies())
    (bot or SlackBot(service)).register(app)
    return app


async def _healthz(request: web.Request) -> web.Response:
    return web.json_response({"ok": True})


def web_app(app: AsyncApp) -> web.Application:
    """The aiohttp application for HTTP mode: Bolt at `/slack/events` plus `GET /healthz`."""
    application = app.web_app(path=EVENTS_PATH)
    application.router.add_get(HEALTH_PATH, _healthz)
    return application


async def serve(settings: Settings, service: CitebotService, *, http: bool = False, port: int | None = None,
                host: str = "0.0.0.0") -> None:
    """Run the Slack app until cancelled: Socket Mode by default, or HTTP on `host:port`."""
    from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

    if http and settings.slack_signing_secret is None:
        raise UserError("set SLACK_SIGNING_SECRET to run the Slack app over HTTP")
    if not http and settings.slack_app_token is None:
        raise UserError("set SLACK_APP_TOKEN (xapp-…) to run the Slack app in Socket Mode")
    client = make_client(settings)
    bot = SlackBot(service)
    app = build_app(settings, service, client=client, bot=bot)
    try:
        if http:
            runner = web.AppRunner(web_app(app), access_log=None)
            await runner.setup()
            try:
                port = port if port is not None else settings.slack_port
                await web.TCPSite(runner, host, port).start()
                log.info("Slack app listening on http://%s:%d%s", host, port, EVENTS_PATH)
                await asyncio.Event().wait()
            finally:
                await runner.cleanup()
        else:
            assert settings.slack_app_token is not None
            handler = AsyncSocketModeHandler(app, app_token=settings.slack_app_token.get_secret_value(),
                                             web_client=client)
            try:
                await handler.connect_async()
                log.info("Slack app connected in Socket Mode")
                await asyncio.Event().wait()
            finally:
                await handler.close_async()
    finally:
        await bot.aclose()
