"""A fake Discord on 127.0.0.1: REST under /api/v10, a JSON gateway, and a tiny CDN.

It speaks Discord's protocol to the real discord.py client (nothing of ours is faked): it answers
login, command sync and message/interaction endpoints, records every request with its arrival
time, and lets a test push gateway events (INTERACTION_CREATE, MESSAGE_CREATE, THREAD_CREATE) to a
bot. Payload builders below produce what Discord itself would send for a slash command, a button
click, a message or a forum post.

It says no like Discord does: messages over Discord's limits (content 2,000 characters, embeds
6,000 in total, description 4,096, components…) and commands over the option limits get a 400
"Invalid Form Body" (code 50035) with Discord's error tree; an interaction answered after 3 s or
twice gets 10062 "Unknown interaction" / 40060; a route can be made to answer 429 like Discord's
rate limiter; the Message Content intent is refused (close 4014) unless the bot account allows it,
and without it a guild message's content arrives empty unless the bot is mentioned.
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

MANAGE_GUILD = 1 << 5
MEMBER_PERMISSIONS = (1 << 10) | (1 << 11) | (1 << 16) | (1 << 31)  # view, send, read history, use commands
MESSAGE_CONTENT = 1 << 15  # the privileged gateway intent
TEXT, FORUM, PUBLIC_THREAD = 0, 15, 11

# Discord's documented limits (https://discord.com/developers/docs/resources/message, …/channel#embed-limits,
# …/interactions/application-commands, …/components).
CONTENT_LIMIT = 2000
EMBEDS_PER_MESSAGE = 10
EMBED_TOTAL = 6000
EMBED_LIMITS = {"title": 256, "description": 4096}
FIELD_LIMITS = {"name": 256, "value": 1024}
MAX_FIELDS = 25
FOOTER_TEXT, AUTHOR_NAME = 2048, 256
ACTION_ROWS, ROW_ITEMS = 5, 5
CUSTOM_ID, BUTTON_LABEL = 100, 80
OPTION_STRING_MAX = 6000
OPTIONS_PER_COMMAND, CHOICES_PER_OPTION = 25, 25
COMMAND_DESCRIPTION, OPTION_DESCRIPTION = 100, 100
INTERACTION_DEADLINE = 3.0
_ids = itertools.count(1_300_000_000_000_000_000)


def _now() -> str:
    """An ISO timestamp as Discord writes them, for a message created now."""
    from datetime import datetime, timezone

    return datetime.now(timezone.utc).isoformat()


def snowflake() -> str:
    """A fresh Discord-style id."""
    return str(next(_ids))


def _json(data: Any, status: int = 200) -> web.Response:
    # discord.py only parses a body when Content-Type is exactly application/json (no charset).
    return web.Response(body=json.dumps(data).encode(), status=status, headers={"Content-Type": "application/json"})


def user_payload(user_id: str, name: str, *, bot: bool = False) -> dict[str, Any]:
    """A Discord user object."""
    return {"id": user_id, "username": name, "global_name": name, "discriminator": "0", "avatar": None,
            "bot": bot, "public_flags": 0}


def member_payload(user: dict[str, Any], permissions: int = MEMBER_PERMISSIONS) -> dict[str, Any]:
    """A guild member as it appears inside an interaction (with computed permissions)."""
    return {"user": user, "roles": [], "joined_at": "2024-01-01T00:00:00+00:00", "deaf": False, "mute": False,
            "flags": 0, "pending": False, "nick": None, "avatar": None, "permissions": str(permissions)}


@dataclass
class Request:
    """One REST call the bot made."""

    method: str
    path: str
    body: Any
    at: float
    token: str | None

    @property
    def payload(self) -> dict[str, Any]:
        """The message JSON (interaction callbacks nest it under `data`)."""
        if isinstance(self.body, dict) and "type" in self.body and "data" in self.body:
            return self.body["data"] or {}
        return self.body if isinstance(self.body, dict) else {}


@dataclass
class Guild:
    """A server the fake knows; every bot is a member of every guild."""

    id: str
    name: str
    channel_id: str
    extra_channels: list[str] = field(default_factory=list)


@dataclass
class BotAccount:
    """An application + bot user, identified by its token."""

    token: str
    user: dict[str, Any]
    app_id: str
    sockets: list[web.WebSocketResponse] = field(default_factory=list)
    # Whether the Developer Portal allows this bot the privileged Message Content intent.
    message_content_allowed: bool = True


@dataclass
class Session:
    """One gateway connection: what it identified as and the heartbeats it sent."""

    token: str
    shard: list[int]
    heartbeats: list[float] = field(default_factory=list)
    acks: int = 0
    intents: int = 0
    socket: Any = None


class FakeDiscord:
    """The fake server. `await start()`, point discord.py at `api_url` / `gateway_url`, then drive it."""

    def __init__(self, *, heartbeat_interval: float = 0.5) -> None:
        self.heartbeat_interval = heartbeat_interval
        self.requests: list[Request] = []
        self.sessions: list[Session] = []
        self.gateway_ops: list[int] = []
        self.bots: dict[str, BotAccount] = {}
        self.guilds: dict[str, Guild] = {}
        self.channels: dict[str, dict[str, Any]] = {}
        self.files: dict[str, bytes] = {}
        self.unknown: list[str] = []
        # Replies Discord sent back with a 4xx, as (request, status, body): what a limit broke.
        self.rejected: list[tuple[Request, int, dict[str, Any]]] = []
        self.interactions: dict[str, float] = {}  # interaction token → when it was dispatched
        self.acknowledged: set[str] = set()
        self.deleted: list[str] = []  # message ids deleted through the channel endpoint
        # Every message of every channel, thread and DM, by channel id in the order posted: the
        # users' (dispatched MESSAGE_CREATE) and the bots' (REST posts), served back as history.
        self.history: dict[str, list[dict[str, Any]]] = {}
        self._rate_limits: list[tuple[Callable[[str, str], bool], int, float]] = []
        self._changed = asyncio.Condition()
        self._seq = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self.url = ""

    # --- lifecycle ------------------------------------------------------------------------------

    async def start(self) -> None:
        """Listen on a free port of 127.0.0.1."""
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_get("/gateway", self._gateway)
        app.router.add_get("/cdn/{name}", self._cdn)
        app.router.add_route("*", "/api/v10/{tail:.*}", self._rest)
        self._runner = web.AppRunner(app, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"

    async def close(self) -> None:
        """Drop every socket and stop listening."""
        for bot in self.bots.values():
            for ws in list(bot.sockets):
                await ws.close()
        if self._runner:
            await self._runner.cleanup()

    @property
    def api_url(self) -> str:
        """What DISCORD_API_BASE_URL should be."""
        return self.url + "/api/v10"

    @property
    def gateway_url(self) -> str:
        """What DISCORD_GATEWAY_URL should be."""
        return self.url.replace("http://", "ws://") + "/gateway"

    # --- world ----------------------------------------------------------------------------------

    def add_bot(self, token: str, name: str = "citebot") -> BotAccount:
        """Register a bot application that may log in with `token`."""
        bot = BotAccount(token=token, user=user_payload(snowflake(), name, bot=True), app_id=snowflake())
        self.bots[token] = bot
        return bot

    def add_guild(self, name: str) -> Guild:
        """A server with one text channel, #general."""
        guild = Guild(id=snowflake(), name=name, channel_id=snowflake())
        self.guilds[guild.id] = guild
        self.channels[guild.channel_id] = self.channel_payload(guild)
        return guild

    def add_channel(self, guild: Guild, name: str, kind: int = TEXT) -> str:
        """Another channel of a guild (TEXT or FORUM), known to bots that connect afterwards; its id."""
        channel_id = snowflake()
        self.channels[channel_id] = dict(self.channel_payload(guild), id=channel_id, name=name, type=kind,
                                         position=len(guild.extra_channels) + 1)
        if kind == FORUM:
            self.channels[channel_id].update(available_tags=[], default_reaction_emoji=None,
                                             default_sort_order=None, default_forum_layout=0)
        guild.extra_channels.append(channel_id)
        return channel_id

    def rate_limit(self, match: Callable[[str, str], bool], *, times: int = 1, retry_after: float = 0.3) -> None:
        """Answer the next `times` requests matching (method, path) with Discord's 429."""
        self._rate_limits.append((match, times, retry_after))

    def add_file(self, name: str, data: bytes) -> str:
        """Host an attachment on the fake CDN; returns its URL."""
        self.files[name] = data
        return f"{self.url}/cdn/{name}"

    def channel_payload(self, guild: Guild) -> dict[str, Any]:
        """The guild's #general text channel."""
        return {"id": guild.channel_id, "type": 0, "guild_id": guild.id, "name": "general", "position": 0,
                "permission_overwrites": [], "nsfw": False, "parent_id": None, "topic": None,
                "last_message_id": None, "rate_limit_per_user": 0, "flags": 0}

    def guild_payload(self, guild: Guild, bot: BotAccount) -> dict[str, Any]:
        """GUILD_CREATE data."""
        everyone = {"id": guild.id, "name": "@everyone", "permissions": str(MEMBER_PERMISSIONS), "position": 0,
                    "color": 0, "hoist": False, "managed": False, "mentionable": False, "flags": 0}
        return {
            "id": guild.id, "name": guild.name, "icon": None, "owner_id": snowflake(), "afk_channel_id": None,
            "afk_timeout": 300, "verification_level": 0, "default_message_notifications": 0,
            "explicit_content_filter": 0, "roles": [everyone], "emojis": [], "stickers": [], "features": [],
            "mfa_level": 0, "system_channel_id": None, "system_channel_flags": 0, "rules_channel_id": None,
            "vanity_url_code": None, "description": None, "banner": None, "premium_tier": 0,
            "preferred_locale": "en-US", "public_updates_channel_id": None, "nsfw_level": 0,
            "premium_progress_bar_enabled": False, "joined_at": "2024-01-01T00:00:00+00:00", "large": False,
            "unavailable": False, "member_count": 2, "voice_states": [], "presences": [], "threads": [],
            "stage_instances": [], "guild_scheduled_events": [], "soundboard_sounds": [],
            "members": [member_payload(bot.user, MEMBER_PERMISSIONS)],
            "channels": [self.channels[c] for c in [guild.channel_id, *guild.extra_channels]],
        }

    # --- what tests do --------------------------------------------------------------------------

    async def dispatch(self, token: str, event: str, data: dict[str, Any]) -> float:
        """Send a gateway DISPATCH to every socket of that bot; returns when it was sent."""
        at = time.monotonic()
        if event == "INTERACTION_CREATE":
            self.interactions[data["token"]] = at
        if event == "MESSAGE_CREATE":
            self.history.setdefault(data["channel_id"], []).append(data)
        for ws in self.bots[token].sockets:
            session = next((s for s in self.sessions if s.socket is ws), None)
            d = data
            if event == "MESSAGE_CREATE" and session is not None and not session.intents & MESSAGE_CONTENT:
                d = self._without_content(data, self.bots[token])
            await ws.send_str(json.dumps({"op": 0, "t": event, "s": next(self._seq), "d": d}))
        return at

    @staticmethod
    def _without_content(data: dict[str, Any], bot: BotAccount) -> dict[str, Any]:
        """What a bot without the Message Content intent receives: no content in guild messages,
        unless the message mentions it (DMs always keep theirs)."""
        if "guild_id" not in data or any(m.get("id") == bot.user["id"] for m in data.get("mentions") or ()):
            return data
        return dict(data, content="", embeds=[], attachments=[], components=[])

    async def wait_for(self, predicate: Callable[[Request], bool], *, timeout: float = 10.0,
                       count: int = 1) -> list[Request]:
        """The first `count` recorded requests matching `predicate`, waiting for them to arrive."""
        async def enough() -> list[Request]:
            async with self._changed:
                while True:
                    found = [r for r in self.requests if predicate(r)]
                    if len(found) >= count:
                        return found[:count]
                    await self._changed.wait()

        return await asyncio.wait_for(enough(), timeout)

    def find(self, predicate: Callable[[Request], bool]) -> list[Request]:
        """Recorded requests matching `predicate`, so far."""
        return [r for r in self.requests if predicate(r)]

    def session_of(self, token: str) -> list[Session]:
        """Gateway sessions a bot identified."""
        return [s for s in self.sessions if s.token == token]

    # --- payloads Discord sends -----------------------------------------------------------------

    def slash(self, bot: BotAccount, guild: Guild | None, user: dict[str, Any], name: str,
              options: dict[str, Any] | None = None, *, permissions: int = MEMBER_PERMISSIONS,
              resolved: dict[str, Any] | None = None, channel_id: str | None = None) -> dict[str, Any]:
        """INTERACTION_CREATE for a slash command (type 2) in a guild's #general (or `channel_id`), or in a DM.

        An option named `channel` is a channel option, resolved as Discord resolves it."""
        opts = []
        for k, v in (options or {}).items():
            kind = 5 if isinstance(v, bool) else 11 if k == "file" else 7 if k == "channel" else 4 if isinstance(v, int) else 3
            opts.append({"name": k, "type": kind, "value": v})
            if kind == 7:
                ch = self.channels[v]
                resolved = dict(resolved or {})
                resolved.setdefault("channels", {})[v] = {
                    "id": v, "name": ch["name"], "type": ch["type"], "permissions": str(MEMBER_PERMISSIONS),
                    "parent_id": ch.get("parent_id"), "guild_id": ch.get("guild_id")}
        data: dict[str, Any] = {"id": snowflake(), "name": name, "type": 1, "options": opts}
        if resolved:
            data["resolved"] = resolved
        return self._interaction(bot, guild, user, 2, data, permissions=permissions, channel_id=channel_id)

    def click(self, bot: BotAccount, guild: Guild | None, user: dict[str, Any], message: dict[str, Any],
              custom_id: str) -> dict[str, Any]:
        """INTERACTION_CREATE for a button click (type 3) on a message the bot sent."""
        return self._interaction(bot, guild, user, 3, {"custom_id": custom_id, "component_type": 2},
                                 message=message)

    def attachment(self, name: str, data: bytes, content_type: str = "text/plain") -> tuple[str, dict[str, Any]]:
        """(id, resolved.attachments entry) for a file a user attached to a slash command."""
        att_id = snowflake()
        url = self.add_file(f"{att_id}-{name}", data)
        return att_id, {"id": att_id, "filename": name, "size": len(data), "url": url, "proxy_url": url,
                        "content_type": content_type}

    def _interaction(self, bot: BotAccount, guild: Guild | None, user: dict[str, Any], kind: int,
                     data: dict[str, Any], *, permissions: int = MEMBER_PERMISSIONS,
                     message: dict[str, Any] | None = None, channel_id: str | None = None) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "id": snowflake(), "application_id": bot.app_id, "type": kind, "token": "itok-" + snowflake(),
            "version": 1, "data": data, "locale": "en-US", "entitlements": [], "app_permissions": str(2**40 - 1),
            "attachment_size_limit": 10 * 1024 * 1024,
        }
        if guild is not None:
            where = channel_id or (message or {}).get("channel_id") or guild.channel_id
            where = where if where in self.channels else guild.channel_id
            payload.update(guild_id=guild.id, channel_id=where, channel=self.channels[where],
                           member=member_payload(user, permissions), guild_locale="en-US", context=0,
                           authorizing_integration_owners={"0": guild.id})
        else:
            dm = snowflake()
            payload.update(channel_id=dm, channel={"id": dm, "type": 1, "recipients": [user]}, user=user,
                           context=1, authorizing_integration_owners={"0": bot.user["id"]})
        if message is not None:
            payload["message"] = message
        return payload

    def forum_post(self, guild: Guild, forum_id: str, author: dict[str, Any], title: str,
                   content: str) -> tuple[dict[str, Any], dict[str, Any]]:
        """(THREAD_CREATE, MESSAGE_CREATE) data for a new forum post: a thread and its first message,
        which shares the thread's id (as Discord sends them, thread first)."""
        thread_id = snowflake()
        thread = {"id": thread_id, "type": PUBLIC_THREAD, "guild_id": guild.id, "parent_id": forum_id,
                  "name": title, "owner_id": author["id"], "message_count": 0, "member_count": 1,
                  "rate_limit_per_user": 0, "flags": 0, "applied_tags": [], "newly_created": True,
                  "last_message_id": thread_id,
                  "thread_metadata": {"archived": False, "auto_archive_duration": 4320, "locked": False,
                                      "archive_timestamp": "2024-06-01T12:00:00+00:00",
                                      "create_timestamp": "2024-06-01T12:00:00+00:00"}}
        self.channels[thread_id] = thread
        first = self.message(guild, author, content, channel_id=thread_id)
        first["id"] = thread_id
        return thread, first

    def message(self, guild: Guild | None, author: dict[str, Any], content: str, *,
                mentions: list[dict[str, Any]] = (), channel_id: str | None = None,
                message_id: str | None = None, reply_to: dict[str, Any] | None = None) -> dict[str, Any]:
        """MESSAGE_CREATE data for a message a user posted (`reply_to`: a reply to that message, which
        Discord sends along as `referenced_message`)."""
        msg: dict[str, Any] = {
            "id": message_id or snowflake(), "channel_id": channel_id or (guild.channel_id if guild else snowflake()),
            "author": author, "content": content, "timestamp": _now(),
            "edited_timestamp": None, "tts": False, "mention_everyone": "@everyone" in content,
            "mentions": [dict(m, member=member_payload(m)) for m in mentions] if guild else list(mentions),
            "mention_roles": [], "attachments": [], "embeds": [], "pinned": False, "type": 0, "flags": 0,
            "components": [],
        }
        if guild is not None:
            msg["guild_id"] = guild.id
            msg["member"] = {k: v for k, v in member_payload(author).items() if k not in ("user", "permissions")}
        if reply_to is not None:
            msg.update(type=19, referenced_message=reply_to,
                       message_reference={"type": 0, "message_id": reply_to["id"], "channel_id": reply_to["channel_id"],
                                          **({"guild_id": guild.id} if guild else {})})
        return msg

    # --- HTTP side ------------------------------------------------------------------------------

    async def _record(self, request: web.Request, body: Any) -> Request:
        auth = request.headers.get("Authorization", "")
        rec = Request(request.method, "/" + request.match_info.get("tail", ""), body, time.monotonic(),
                      auth.removeprefix("Bot ") or None)
        async with self._changed:
            self.requests.append(rec)
            self._changed.notify_all()
        return rec

    async def _body(self, request: web.Request) -> Any:
        if not request.can_read_body:
            return None
        if request.content_type.startswith("multipart/"):
            reader = await request.multipart()
            async for part in reader:
                if part.name == "payload_json":  # type: ignore[union-attr]
                    return json.loads(await part.text())  # type: ignore[union-attr]
            return None
        raw = await request.read()
        return json.loads(raw) if raw else None

    def _bot_for(self, request: web.Request) -> BotAccount | None:
        return self.bots.get(request.headers.get("Authorization", "").removeprefix("Bot "))

    def _bot_by_app(self, app_id: str) -> BotAccount | None:
        return next((b for b in self.bots.values() if b.app_id == app_id), None)

    def _message_out(self, channel_id: str, author: dict[str, Any], body: dict[str, Any] | None,
                     *, flags: int = 0) -> dict[str, Any]:
        body = body or {}
        ch = self.channels.get(channel_id, {})
        msg = {
            "id": snowflake(), "channel_id": channel_id, "author": author, "content": body.get("content") or "",
            "timestamp": _now(), "edited_timestamp": None, "tts": False,
            "mention_everyone": False, "mentions": [], "mention_roles": [], "attachments": [],
            "embeds": body.get("embeds") or [], "components": body.get("components") or [], "pinned": False,
            "type": 0, "flags": int(body.get("flags") or flags),
        }
        if ch.get("guild_id"):
            msg["guild_id"] = ch["guild_id"]
        return msg

    # --- saying no like Discord --------------------------------------------------------------------

    @staticmethod
    def _form_error(errors: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        return 400, {"message": "Invalid Form Body", "code": 50035, "errors": errors}

    @staticmethod
    def _too_long(limit: int) -> dict[str, Any]:
        return {"_errors": [{"code": "BASE_TYPE_MAX_LENGTH", "message": f"Must be {limit} or fewer in length."}]}

    def check_message(self, body: dict[str, Any] | None, *, edit: bool = False) -> tuple[int, dict[str, Any]] | None:
        """Discord's answer to a message body (or an edit's) over its limits (None when Discord would accept it)."""
        body = body or {}
        content = body.get("content") or ""
        embeds = body.get("embeds") or []
        components = body.get("components") or []
        if not edit and not content and not embeds and not body.get("attachments") and not body.get("sticker_ids") \
                and not components:
            return 400, {"message": "Cannot send an empty message", "code": 50006}
        if len(content) > CONTENT_LIMIT:
            return self._form_error({"content": self._too_long(CONTENT_LIMIT)})
        if len(embeds) > EMBEDS_PER_MESSAGE:
            return self._form_error({"embeds": self._too_long(EMBEDS_PER_MESSAGE)})
        total = 0
        for i, e in enumerate(embeds):
            for key, limit in EMBED_LIMITS.items():
                if len(e.get(key) or "") > limit:
                    return self._form_error({"embeds": {str(i): {key: self._too_long(limit)}}})
            fields = e.get("fields") or []
            if len(fields) > MAX_FIELDS:
                return self._form_error({"embeds": {str(i): {"fields": self._too_long(MAX_FIELDS)}}})
            for j, f in enumerate(fields):
                for key, limit in FIELD_LIMITS.items():
                    if len(f.get(key) or "") > limit:
                        return self._form_error({"embeds": {str(i): {"fields": {str(j): {key: self._too_long(limit)}}}}})
            footer = (e.get("footer") or {}).get("text") or ""
            if len(footer) > FOOTER_TEXT:
                return self._form_error({"embeds": {str(i): {"footer": {"text": self._too_long(FOOTER_TEXT)}}}})
            author = (e.get("author") or {}).get("name") or ""
            total += len(e.get("title") or "") + len(e.get("description") or "") + len(footer) + len(author)
            total += sum(len(f.get("name") or "") + len(f.get("value") or "") for f in fields)
        if total > EMBED_TOTAL:
            return self._form_error({"embeds": {"_errors": [{"code": "MAX_EMBED_SIZE_EXCEEDED",
                                                              "message": f"Embed size exceeds maximum size of {EMBED_TOTAL}"}]}})
        if len(components) > ACTION_ROWS:
            return self._form_error({"components": self._too_long(ACTION_ROWS)})
        seen: set[str] = set()
        for i, row in enumerate(components):
            items = row.get("components") or []
            if row.get("type") != 1 or not items or len(items) > ROW_ITEMS:
                return self._form_error({"components": {str(i): {"components": {"_errors": [
                    {"code": "BASE_TYPE_BAD_LENGTH", "message": f"Must be between 1 and {ROW_ITEMS} in length."}]}}}})
            for j, item in enumerate(items):
                where = {"components": {str(i): {"components": {str(j): None}}}}
                cid, label = item.get("custom_id") or "", item.get("label") or ""
                if len(cid) > CUSTOM_ID:
                    where["components"][str(i)]["components"][str(j)] = {"custom_id": self._too_long(CUSTOM_ID)}
                    return self._form_error(where)
                if len(label) > BUTTON_LABEL:
                    where["components"][str(i)]["components"][str(j)] = {"label": self._too_long(BUTTON_LABEL)}
                    return self._form_error(where)
                if cid and cid in seen:
                    return self._form_error({"components": {"_errors": [{"code": "COMPONENT_CUSTOM_ID_DUPLICATED",
                                                                          "message": "Component custom id cannot be duplicated"}]}})
                seen.add(cid)
        return None

    @classmethod
    def check_commands(cls, commands: list[dict[str, Any]]) -> tuple[int, dict[str, Any]] | None:
        """Discord's answer to a command sync over the application-command limits."""
        for i, c in enumerate(commands or []):
            if len(c.get("description") or "") > COMMAND_DESCRIPTION:
                return cls._form_error({str(i): {"description": cls._too_long(COMMAND_DESCRIPTION)}})
            options = c.get("options") or []
            if len(options) > OPTIONS_PER_COMMAND:
                return cls._form_error({str(i): {"options": cls._too_long(OPTIONS_PER_COMMAND)}})
            for j, o in enumerate(options):
                err: dict[str, Any] | None = None
                if len(o.get("description") or "") > OPTION_DESCRIPTION:
                    err = {"description": cls._too_long(OPTION_DESCRIPTION)}
                elif len(o.get("choices") or []) > CHOICES_PER_OPTION:
                    err = {"choices": cls._too_long(CHOICES_PER_OPTION)}
                elif o.get("type") == 3 and o.get("max_length") is not None and not 1 <= int(o["max_length"]) <= OPTION_STRING_MAX:
                    err = {"max_length": {"_errors": [{"code": "NUMBER_TYPE_MAX",
                                                       "message": f"int value should be less than or equal to {OPTION_STRING_MAX}."}]}}
                if err:
                    return cls._form_error({str(i): {"options": {str(j): err}}})
        return None

    def _check_interaction(self, token: str, kind: int | None) -> tuple[int, dict[str, Any]] | None:
        sent = self.interactions.get(token)
        if sent is None or time.monotonic() - sent > INTERACTION_DEADLINE:
            return 404, {"message": "Unknown interaction", "code": 10062}
        if token in self.acknowledged:
            return 400, {"message": "Interaction has already been acknowledged.", "code": 40060}
        self.acknowledged.add(token)
        return None

    async def _refuse(self, rec: Request, status: int, body: dict[str, Any]) -> web.Response:
        async with self._changed:
            self.rejected.append((rec, status, body))
            self._changed.notify_all()
        return _json(body, status)

    def _rate_limited(self, method: str, path: str) -> web.Response | None:
        for i, (match, times, retry_after) in enumerate(self._rate_limits):
            if times > 0 and match(method, path):
                self._rate_limits[i] = (match, times - 1, retry_after)
                # Discord's 429s pass its Cloudflare edge (Via); discord.py treats one without it as a ban.
                headers = {"Content-Type": "application/json", "Via": "1.1 google", "Retry-After": str(max(1, round(retry_after))),
                           "X-RateLimit-Limit": "5", "X-RateLimit-Remaining": "0",
                           "X-RateLimit-Reset-After": f"{retry_after:.3f}", "X-RateLimit-Bucket": "fake-bucket",
                           "X-RateLimit-Scope": "user"}
                body = {"message": "You are being rate limited.", "retry_after": retry_after, "global": False}
                return web.Response(body=json.dumps(body).encode(), status=429, headers=headers)
        return None

    async def _rest(self, request: web.Request) -> web.StreamResponse:
        body = await self._body(request)
        rec = await self._record(request, body)
        path, method = "/" + request.match_info["tail"], request.method
        parts = path.strip("/").split("/")
        bot = self._bot_for(request)
        limited = self._rate_limited(method, path)
        if limited is not None:
            return limited
        refusal: tuple[int, dict[str, Any]] | None = None
        if parts[0] == "applications" and parts[-1] == "commands" and method == "PUT":
            refusal = self.check_commands(body or [])
        elif parts[0] == "interactions" and parts[-1] == "callback":
            refusal = self._check_interaction(parts[2], (body or {}).get("type"))
            if refusal is None and (body or {}).get("type") == 4:
                refusal = self.check_message((body or {}).get("data"))
        elif method in ("POST", "PATCH") and (parts[0] == "webhooks" or (
                parts[0] == "channels" and len(parts) in (3, 4) and parts[2] == "messages")):
            if parts[0] == "webhooks" and len(parts) >= 3 and parts[2] not in self.interactions:
                refusal = 404, {"message": "Unknown Webhook", "code": 10015}
            else:
                refusal = self.check_message(body, edit=method == "PATCH")
        if refusal is not None:
            return await self._refuse(rec, *refusal)

        if path == "/users/@me" and method == "GET":
            return _json(bot.user) if bot else _json({"message": "401: Unauthorized", "code": 0}, 401)
        if path == "/oauth2/applications/@me" and bot:
            return _json({"id": bot.app_id, "name": bot.user["username"], "icon": None, "description": "",
                          "bot_public": True, "bot_require_code_grant": False, "verify_key": "0" * 64,
                          "owner": user_payload(snowflake(), "owner"), "flags": 0, "team": None,
                          "summary": "", "rpc_origins": []})
        if path == "/gateway/bot":
            return _json({"url": self.gateway_url, "shards": 1,
                          "session_start_limit": {"total": 1000, "remaining": 999, "reset_after": 0,
                                                  "max_concurrency": 1}})
        if path == "/gateway":
            return _json({"url": self.gateway_url})
        if parts[0] == "applications" and parts[-1] == "commands" and method == "PUT":
            return _json([dict(c, id=snowflake(), application_id=parts[1], version=snowflake(),
                               default_member_permissions=c.get("default_member_permissions"))
                          for c in body or []])
        if parts[0] == "applications" and parts[-1] == "commands" and method == "GET":
            return _json([])
        if parts[0] == "interactions" and parts[-1] == "callback":
            kind = (body or {}).get("type")
            data = (body or {}).get("data") or {}
            ephemeral = bool(int(data.get("flags") or 0) & 64)
            return _json({"interaction": {"id": parts[1], "type": 2, "response_message_loading": kind == 5,
                                          "response_message_ephemeral": ephemeral},
                          "resource": {"type": kind}})
        if parts[0] == "webhooks":
            app = self._bot_by_app(parts[1])
            author = app.user if app else user_payload(parts[1], "webhook", bot=True)
            if method == "DELETE":
                return web.Response(status=204)
            return _json(self._message_out(snowflake(), author, body))
        if parts[0] == "channels" and bot:
            channel_id = parts[1]
            if parts[-1] == "typing":
                return web.Response(status=204)
            if len(parts) == 5 and parts[2] == "messages" and parts[4] == "threads" and method == "POST":
                parent = self.channels.get(channel_id, {})
                thread = {"id": parts[3], "type": 11, "guild_id": parent.get("guild_id"), "parent_id": channel_id,
                          "name": (body or {}).get("name", "thread"), "owner_id": bot.user["id"],
                          "message_count": 0, "member_count": 1, "rate_limit_per_user": 0, "flags": 0,
                          "thread_metadata": {"archived": False, "auto_archive_duration": 1440,
                                              "archive_timestamp": "2024-06-01T12:00:01+00:00", "locked": False}}
                self.channels[thread["id"]] = thread
                # Discord tells the thread's creator about it on the gateway too.
                for ws in list(bot.sockets):
                    await ws.send_str(json.dumps({"op": 0, "t": "THREAD_CREATE", "s": next(self._seq),
                                                  "d": dict(thread, newly_created=True)}))
                return _json(thread)
            if len(parts) == 3 and parts[2] == "messages" and method == "POST":
                out = self._message_out(channel_id, bot.user, body)
                self.history.setdefault(channel_id, []).append(out)
                return _json(out)
            if len(parts) == 3 and parts[2] == "messages" and method == "GET":
                return self._history(channel_id, request.query)
            if len(parts) == 4 and parts[2] == "messages" and method == "GET":
                found = next((m for m in self.history.get(channel_id, ()) if m["id"] == parts[3]), None)
                return _json(found) if found else _json({"message": "Unknown Message", "code": 10008}, 404)
            if len(parts) == 4 and parts[2] == "messages" and method == "DELETE":
                self.deleted.append(parts[3])
                return web.Response(status=204)
        self.unknown.append(f"{method} {path}")
        return _json({"message": "404: Not Found (fake)", "code": 0}, 404)

    def _history(self, channel_id: str, query: Any) -> web.Response:
        """GET /channels/{id}/messages: newest first, `limit` 1-100 (Discord refuses more), before/after ids."""
        try:
            limit = int(query.get("limit", 50))
        except ValueError:
            limit = -1
        if not 1 <= limit <= 100:
            status, body = self._form_error({"limit": {"_errors": [{"code": "NUMBER_TYPE_MAX",
                                                                    "message": "int value should be <= 100 and >= 1."}]}})
            return _json(body, status)
        if channel_id not in self.channels and channel_id not in self.history:
            return _json({"message": "Unknown Channel", "code": 10003}, 404)
        msgs = self.history.get(channel_id, [])
        if "before" in query:
            msgs = [m for m in msgs if int(m["id"]) < int(query["before"])]
        if "after" in query:
            msgs = [m for m in msgs if int(m["id"]) > int(query["after"])]
        return _json(sorted(msgs, key=lambda m: -int(m["id"]))[:limit])

    async def _cdn(self, request: web.Request) -> web.Response:
        data = self.files.get(request.match_info["name"])
        if data is None:
            return web.Response(status=404)
        return web.Response(body=data, content_type="application/octet-stream")

    # --- gateway side ---------------------------------------------------------------------------

    async def _gateway(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.send_str(json.dumps({"op": 10, "s": None, "t": None,
                                      "d": {"heartbeat_interval": int(self.heartbeat_interval * 1000)}}))
        session: Session | None = None
        bot: BotAccount | None = None
        try:
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                frame = json.loads(msg.data)
                op, d = frame.get("op"), frame.get("d")
                self.gateway_ops.append(op)
                if op == 1:  # heartbeat
                    if session:
                        session.heartbeats.append(time.monotonic())
                        session.acks += 1
                    await ws.send_str(json.dumps({"op": 11, "s": None, "t": None, "d": None}))
                elif op == 2:  # identify
                    bot = self.bots.get(d.get("token", ""))
                    if bot is None:
                        await ws.close(code=4004, message=b"Authentication failed.")
                        break
                    intents = int(d.get("intents") or 0)
                    if intents & MESSAGE_CONTENT and not bot.message_content_allowed:
                        # Discord closes with 4014 "Disallowed intent(s)" when the portal hasn't enabled it.
                        await ws.close(code=4014, message=b"Disallowed intent(s).")
                        break
                    session = Session(token=bot.token, shard=d.get("shard") or [0, 1], intents=intents, socket=ws)
                    self.sessions.append(session)
                    bot.sockets.append(ws)
                    await self._ready(ws, bot, session)
                elif op == 6:  # resume: this fake never resumes
                    await ws.send_str(json.dumps({"op": 9, "s": None, "t": None, "d": False}))
        finally:
            if bot and ws in bot.sockets:
                bot.sockets.remove(ws)
        return ws

    async def _ready(self, ws: web.WebSocketResponse, bot: BotAccount, session: Session) -> None:
        shard_id, shard_count = session.shard
        guilds = [g for g in self.guilds.values() if (int(g.id) >> 22) % shard_count == shard_id] \
            if shard_count > 1 else list(self.guilds.values())
        ready = {"v": 10, "user": bot.user, "guilds": [{"id": g.id, "unavailable": True} for g in guilds],
                 "session_id": "sess-" + snowflake(), "resume_gateway_url": self.gateway_url,
                 "shard": session.shard, "application": {"id": bot.app_id, "flags": 0},
                 "private_channels": [], "relationships": [], "user_settings": {}, "presences": []}
        await ws.send_str(json.dumps({"op": 0, "t": "READY", "s": next(self._seq), "d": ready}))
        for g in guilds:
            await ws.send_str(json.dumps({"op": 0, "t": "GUILD_CREATE", "s": next(self._seq),
                                          "d": self.guild_payload(g, bot)}))
