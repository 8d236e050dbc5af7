"""A fake Slack on 127.0.0.1, at the protocol level: Web API methods, a response_url sink and the
Socket Mode websocket (hello, envelopes, acks). Modelled on slack-bolt's own
`tests/mock_web_api_server`: real clients talk to it over HTTP and the tests count what arrived.

It says no like Slack does: a message with more than 50 blocks, a section text over 3,000
characters, a context over 10 elements, a button over its limits… gets `invalid_blocks` with
Slack's `[json-pointer:…]` messages (a response_url answers 400 `invalid_blocks`); text over 40,000
characters gets `msg_too_long`; a method can be made to answer 429 `ratelimited` with Retry-After.
"""
from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

# Block Kit and Web API limits (https://api.slack.com/reference/block-kit/blocks, …/methods/chat.postMessage).
MAX_BLOCKS = 50
TEXT_OBJECT = 3000  # a section's text, a context element's text
CONTEXT_ELEMENTS = 10
ACTIONS_ELEMENTS = 25
BUTTON_TEXT, BUTTON_VALUE, ACTION_ID = 75, 2000, 255
MESSAGE_TEXT = 40000
MESSAGE_METHODS = ("chat.postMessage", "chat.postEphemeral", "chat.update")
# The history scope each kind of conversation needs (C… public, G… private, D… direct messages).
HISTORY_SCOPES = {"C": "channels:history", "G": "groups:history", "D": "im:history"}
HISTORY_LIMIT = 1000  # conversations.history / .replies: at most this many messages a page


def block_errors(blocks: Any) -> list[str]:
    """Slack's complaints about a blocks array, in its own words ([] when Slack would accept it)."""
    if isinstance(blocks, str):
        blocks = json.loads(blocks or "[]")
    errors: list[str] = []
    if len(blocks) > MAX_BLOCKS:
        errors.append(f"must be less than {MAX_BLOCKS + 1} items [json-pointer:/blocks]")
    for i, b in enumerate(blocks):
        kind = b.get("type")
        if kind == "section":
            text = (b.get("text") or {}).get("text") or ""
            if not text and not b.get("fields"):
                errors.append(f"must provide either text or fields [json-pointer:/blocks/{i}]")
            if len(text) > TEXT_OBJECT:
                errors.append(f"must be less than {TEXT_OBJECT + 1} characters [json-pointer:/blocks/{i}/text/text]")
        elif kind == "context":
            elements = b.get("elements") or []
            if not elements or len(elements) > CONTEXT_ELEMENTS:
                errors.append(f"must be between 1 and {CONTEXT_ELEMENTS} items [json-pointer:/blocks/{i}/elements]")
            for j, e in enumerate(elements):
                if len(e.get("text") or "") > TEXT_OBJECT:
                    errors.append(f"must be less than {TEXT_OBJECT + 1} characters "
                                  f"[json-pointer:/blocks/{i}/elements/{j}/text]")
        elif kind == "actions":
            elements = b.get("elements") or []
            if not elements or len(elements) > ACTIONS_ELEMENTS:
                errors.append(f"must be between 1 and {ACTIONS_ELEMENTS} items [json-pointer:/blocks/{i}/elements]")
            ids = [e.get("action_id") for e in elements if e.get("action_id")]
            if len(ids) != len(set(ids)):
                errors.append(f"action_id values must be unique [json-pointer:/blocks/{i}/elements]")
            for j, e in enumerate(elements):
                where = f"[json-pointer:/blocks/{i}/elements/{j}"
                if len((e.get("text") or {}).get("text") or "") > BUTTON_TEXT:
                    errors.append(f"must be less than {BUTTON_TEXT + 1} characters {where}/text/text]")
                if len(e.get("value") or "") > BUTTON_VALUE:
                    errors.append(f"must be less than {BUTTON_VALUE + 1} characters {where}/value]")
                if len(e.get("action_id") or "") > ACTION_ID:
                    errors.append(f"must be less than {ACTION_ID + 1} characters {where}/action_id]")
        elif kind not in ("divider", "header", "image", "rich_text", "input", "file", "video"):
            errors.append(f"unsupported type: {kind} [json-pointer:/blocks/{i}/type]")
    return errors


@dataclass
class Call:
    """One request that reached the fake: `path` is the Web API method or `response/<key>`."""

    path: str
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def text(self) -> str:
        """Everything a user could read in this message (text and blocks), as one JSON string."""
        return json.dumps({k: self.body.get(k) for k in ("text", "blocks")}, ensure_ascii=False)


class MockSlack:
    """Plays Slack's servers for one test; start with `async with MockSlack() as slack:`."""

    def __init__(self, *, bot_token: str = "xoxb-test-bot-token", app_token: str = "xapp-test-app-token",
                 team_id: str = "T1", bot_user_id: str = "UBOT", bot_id: str = "BBOT") -> None:
        self.bot_token, self.app_token = bot_token, app_token
        self.team_id, self.bot_user_id, self.bot_id = team_id, bot_user_id, bot_id
        self.calls: list[Call] = []
        self.acks: dict[str, dict[str, Any]] = {}
        self.connected = asyncio.Event()
        # users.info answers: user id → is_admin (unknown users are plain members).
        self.admins: dict[str, bool] = {}
        # Calls Slack refused (method, error) — what a limit broke.
        self.refused: list[tuple[str, str]] = []
        # Every message in every conversation: the bot's posts and the users' messages a test
        # delivers (`add_message`), served back by conversations.history / conversations.replies.
        self.messages: list[dict[str, Any]] = []
        self.scopes = {"channels:history", "groups:history", "im:history", "chat:write", "commands", "app_mentions:read"}
        self._rate_limits: dict[str, tuple[int, int]] = {}
        self._changed = asyncio.Condition()
        self._sockets: list[web.WebSocketResponse] = []
        self._ids = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self.port = 0

    # --- lifecycle ------------------------------------------------------------------------

    async def __aenter__(self) -> MockSlack:
        app = web.Application()
        app.router.add_post("/api/{method}", self._api)
        app.router.add_get("/api/{method}", self._api)  # slack_sdk sends users.info & co. as GET
        app.router.add_post("/response/{key}", self._response_url)
        app.router.add_get("/link/", self._socket)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def __aexit__(self, *exc: object) -> None:
        for ws in self._sockets:
            await ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def url(self) -> str:
        """http://127.0.0.1:PORT"""
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_url(self) -> str:
        """The Web API base URL, with the trailing slash slack_sdk needs."""
        return f"{self.url}/api/"

    def response_url(self, key: str = "r1") -> str:
        """A response_url for a command or a button click."""
        return f"{self.url}/response/{key}"

    # --- what arrived ---------------------------------------------------------------------

    def of(self, path: str) -> list[Call]:
        """Calls to one method (`chat.postMessage`) or response_url (`response/r1`)."""
        return [c for c in self.calls if c.path == path]

    @property
    def posts(self) -> list[Call]:
        """Everything that would show a message to someone."""
        return [c for c in self.calls if c.path.startswith(("chat.", "response/"))]

    async def wait_for(self, pred: Callable[[Call], bool], timeout: float = 15.0) -> Call:
        """The first call (already arrived or arriving within `timeout`) that matches `pred`."""
        async def find() -> Call:
            async with self._changed:
                while True:
                    for c in self.calls:
                        if pred(c):
                            return c
                    await self._changed.wait()
        return await asyncio.wait_for(find(), timeout)

    async def wait_posts(self, n: int, timeout: float = 15.0) -> list[Call]:
        """The message-posting calls, once there are at least `n`."""
        async def find() -> list[Call]:
            async with self._changed:
                while len(self.posts) < n:
                    await self._changed.wait()
                return self.posts
        return await asyncio.wait_for(find(), timeout)

    def add_message(self, event: dict[str, Any]) -> None:
        """Record a user's message (an event a test delivers) as Slack keeps it in the conversation."""
        self.messages.append({k: v for k, v in event.items() if k in ("type", "user", "text", "ts", "thread_ts", "channel",
                                                                     "bot_id", "blocks")})

    def _history(self, method: str, body: dict[str, Any]) -> dict[str, Any]:
        """conversations.history (a channel's top-level messages, newest first) and conversations.replies
        (a thread: its parent then replies, oldest first), refusing what Slack refuses."""
        channel, ts = body.get("channel"), body.get("ts")
        if not channel:
            return {"ok": False, "error": "channel_not_found"}
        if HISTORY_SCOPES.get(str(channel)[:1], "channels:history") not in self.scopes:
            return {"ok": False, "error": "missing_scope", "needed": HISTORY_SCOPES.get(str(channel)[:1])}
        try:
            limit = int(body.get("limit") or 100)
        except ValueError:
            return {"ok": False, "error": "invalid_limit"}
        limit = min(max(limit, 1), HISTORY_LIMIT)
        here = [m for m in self.messages if m.get("channel") == channel]
        if method == "conversations.replies":
            if not ts:
                return {"ok": False, "error": "invalid_arguments"}
            thread = [m for m in here if m["ts"] == ts or m.get("thread_ts") == ts]
            if not any(m["ts"] == ts for m in thread):
                return {"ok": False, "error": "thread_not_found"}
            return {"ok": True, "messages": sorted(thread, key=lambda m: float(m["ts"]))[:limit], "has_more": False}
        oldest, latest = float(body.get("oldest") or 0), float(body.get("latest") or 1e12)
        top = [m for m in here if m.get("thread_ts") in (None, m["ts"]) and oldest < float(m["ts"]) < latest]
        return {"ok": True, "messages": sorted(top, key=lambda m: -float(m["ts"]))[:limit], "has_more": False}

    def rate_limit(self, method: str, *, times: int = 1, retry_after: int = 1) -> None:
        """Answer the next `times` calls of `method` with Slack's 429 `ratelimited`."""
        self._rate_limits[method] = (times, retry_after)

    async def _record(self, call: Call) -> None:
        async with self._changed:
            self.calls.append(call)
            self._changed.notify_all()

    # --- Web API --------------------------------------------------------------------------

    async def _body(self, request: web.Request) -> dict[str, Any]:
        if request.content_type == "application/json":
            return await request.json()
        form = await request.post()
        return {k: v for k, v in form.items()}

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        body = await self._body(request)
        body.update({k: v for k, v in request.query.items() if k not in body})
        await self._record(Call(method, body, dict(request.headers)))
        auth = request.headers.get("Authorization", "")
        expected = self.app_token if method == "apps.connections.open" else self.bot_token
        if auth != f"Bearer {expected}":
            return web.json_response({"ok": False, "error": "invalid_auth"})
        times, retry_after = self._rate_limits.get(method, (0, 0))
        if times > 0:
            self._rate_limits[method] = (times - 1, retry_after)
            self.refused.append((method, "ratelimited"))
            return web.json_response({"ok": False, "error": "ratelimited"}, status=429,
                                     headers={"Retry-After": str(retry_after)})
        if method in MESSAGE_METHODS:
            errors = block_errors(body.get("blocks") or [])
            if errors:
                self.refused.append((method, "invalid_blocks"))
                return web.json_response({"ok": False, "error": "invalid_blocks", "errors": errors,
                                          "response_metadata": {"messages": [f"[ERROR] {e}" for e in errors]}})
            if len(body.get("text") or "") > MESSAGE_TEXT:
                self.refused.append((method, "msg_too_long"))
                return web.json_response({"ok": False, "error": "msg_too_long"})
        if method == "users.info":
            user = body.get("user", "")
            admin = self.admins.get(user, False)
            return web.json_response({"ok": True, "user": {"id": user, "team_id": self.team_id, "name": user.lower(),
                                                           "is_admin": admin, "is_owner": False,
                                                           "is_primary_owner": False, "is_bot": False}})
        if method == "auth.test":
            return web.json_response({
                "ok": True, "url": "https://test.slack.com/", "team": "Test", "user": "citebot",
                "team_id": self.team_id, "user_id": self.bot_user_id, "bot_id": self.bot_id,
                "is_enterprise_install": False,
            })
        if method == "apps.connections.open":
            return web.json_response({"ok": True, "url": f"ws://127.0.0.1:{self.port}/link/?ticket=t-{next(self._ids)}"})
        if method == "chat.postMessage":
            ts = f"{time.time():.6f}"
            blocks = body.get("blocks") or []
            self.messages.append({"type": "message", "user": self.bot_user_id, "bot_id": self.bot_id, "ts": ts,
                                  "channel": body.get("channel"), "text": body.get("text"),
                                  "blocks": json.loads(blocks) if isinstance(blocks, str) else blocks,
                                  **({"thread_ts": body["thread_ts"]} if body.get("thread_ts") else {})})
            return web.json_response({"ok": True, "channel": body.get("channel"), "ts": ts,
                                      "message": {"text": body.get("text"), "ts": ts}})
        if method in ("conversations.history", "conversations.replies"):
            answer = self._history(method, body)
            if not answer["ok"]:
                self.refused.append((method, answer["error"]))
            return web.json_response(answer)
        if method == "chat.postEphemeral":
            return web.json_response({"ok": True, "message_ts": f"{int(time.time())}.{next(self._ids):06d}"})
        return web.json_response({"ok": False, "error": "unknown_method"})

    async def _response_url(self, request: web.Request) -> web.Response:
        body = await request.json()
        await self._record(Call("response/" + request.match_info["key"], body, dict(request.headers)))
        if block_errors(body.get("blocks") or []):
            self.refused.append(("response/" + request.match_info["key"], "invalid_blocks"))
            return web.Response(status=400, text="invalid_blocks")
        return web.Response(text="ok")

    # --- Socket Mode ----------------------------------------------------------------------

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        self._sockets.append(ws)
        await ws.send_json({"type": "hello", "num_connections": 1,
                            "debug_info": {"host": "mock-slack", "approximate_connection_time": 3600},
                            "connection_info": {"app_id": "A1"}})
        self.connected.set()
        async for msg in ws:
            if msg.type == WSMsgType.TEXT:
                data = json.loads(msg.data)
                if "envelope_id" in data:
                    async with self._changed:
                        self.acks[data["envelope_id"]] = data
                        self._changed.notify_all()
        return ws

    async def send_envelope(self, type: str, payload: dict[str, Any], *, retry_attempt: int = 0,
                            retry_reason: str = "", accepts_response_payload: bool = False) -> str:
        """Deliver an envelope over the Socket Mode connection as Slack does; returns its envelope_id."""
        await asyncio.wait_for(self.connected.wait(), 10)
        envelope_id = f"env-{next(self._ids)}"
        envelope: dict[str, Any] = {"envelope_id": envelope_id, "type": type, "payload": payload,
                                    "accepts_response_payload": accepts_response_payload}
        if type == "events_api":
            envelope.update(retry_attempt=retry_attempt, retry_reason=retry_reason)
        await self._sockets[-1].send_json(envelope)
        return envelope_id

    async def wait_ack(self, envelope_id: str, timeout: float = 3.0) -> dict[str, Any]:
        """The client's acknowledgement of an envelope, which Slack wants within 3 seconds."""
        async def find() -> dict[str, Any]:
            async with self._changed:
                while envelope_id not in self.acks:
                    await self._changed.wait()
                return self.acks[envelope_id]
        return await asyncio.wait_for(find(), timeout)
