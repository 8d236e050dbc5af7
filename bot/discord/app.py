"""Discord adapter (discord.py): /ask, /sources, /ingest, /forget, /channel, @mentions and DMs,
new questions in help channels (text and forum), answer buttons.

Thin by design: every question goes to `CitebotService` (which runs embedding and FAISS off the
event loop) and every reply is rendered by `bot.discord.render`. Discord's rules shape the code:
an interaction must be answered or deferred within 3 s, so handlers defer first and work after;
nothing we send may ping, so every send carries `AllowedMentions.none()`.
"""
# No `from __future__ import annotations`: discord.py reads slash-command option types from the
# live annotations, and /ask's length limit is built at runtime from the settings.
#
# Here: start-up (endpoints, shards, limits), the bot that ties the parts together, and serve().
# The parts: `commands` (/ask, /sources, buttons), `admin` (/channel, /ingest, /forget), `events`
# (mentions, DMs, help channels), `components` (the asker, send arguments, buttons and views).
import logging
import re
from typing import Any, Optional

import discord
import yarl
from discord import app_commands
from discord.gateway import DiscordWebSocket
from discord.http import Route

from index import UserError

from ..config import Settings
from ..service import CitebotService
from .commands import SlashCommands
from .components import NO_PINGS, AnswerButton, AnswerMemory, SourcesPageButton, register
from .events import MessageEvents

log = logging.getLogger(__name__)

THINKING_NAME = "Answer"
# Discord refuses a command whose string option allows more than 6,000 characters (sync fails).
OPTION_MAX_LENGTH = 6000

# discord.py keeps its endpoints as process-wide class attributes; remember Discord's own.
_DISCORD_API = Route.BASE
_DISCORD_GATEWAY = DiscordWebSocket.DEFAULT_GATEWAY


def api_base(url: str) -> str:
    """A REST base URL as discord.py wants it: ending in /api/v10 (added when the proxy URL has none)."""
    url = url.rstrip("/")
    if re.search(r"/api/v\d+$", url):
        return url
    return url + ("/v10" if url.endswith("/api") else "/api/v10")


def configure_endpoints(settings: Settings) -> None:
    """Point discord.py at DISCORD_API_BASE_URL / DISCORD_GATEWAY_URL (e.g. nirn-proxy), else Discord."""
    Route.BASE = api_base(settings.discord_api_base_url) if settings.discord_api_base_url else _DISCORD_API
    DiscordWebSocket.DEFAULT_GATEWAY = (
        yarl.URL(settings.discord_gateway_url) if settings.discord_gateway_url else _DISCORD_GATEWAY
    )


def shard_options(settings: Settings) -> Optional[dict[str, Any]]:
    """AutoShardedClient options from CITEBOT_DISCORD_SHARDS / _SHARD_IDS, or None for a plain client."""
    shards = (settings.discord_shards or "").strip().lower()
    ids = (settings.discord_shard_ids or "").strip()
    if not shards:
        if ids:
            raise UserError("CITEBOT_DISCORD_SHARD_IDS needs CITEBOT_DISCORD_SHARDS (the total shard count)")
        return None
    if shards == "auto":
        if ids:
            raise UserError("CITEBOT_DISCORD_SHARD_IDS needs CITEBOT_DISCORD_SHARDS to be a number, not 'auto'")
        return {"shard_count": None}
    try:
        count = int(shards)
        shard_ids = [int(x) for x in ids.split(",") if x.strip()] if ids else None
    except ValueError:
        raise UserError("CITEBOT_DISCORD_SHARDS must be a number or 'auto'; CITEBOT_DISCORD_SHARD_IDS e.g. '0,1'") from None
    if count < 1 or any(not 0 <= i < count for i in shard_ids or ()):
        raise UserError(f"shard ids must be between 0 and {count - 1} for {count} shards")
    return {"shard_count": count, "shard_ids": shard_ids}


def check_limits(settings: Settings) -> None:
    """Refuse settings Discord itself would reject, before connecting (a failed command sync is silent)."""
    if settings.max_question_chars > OPTION_MAX_LENGTH:
        raise UserError(f"CITEBOT_MAX_QUESTION_CHARS is {settings.max_question_chars:,}, but Discord allows at most "
                        f"{OPTION_MAX_LENGTH:,} characters in a command option; set it to {OPTION_MAX_LENGTH:,} or less")


class CitebotBot(SlashCommands, MessageEvents):
    """The bot's behaviour over one discord.py client, plain or auto-sharded (it holds the client, it
    is not one): its slash commands on the client's command tree (`commands`, `admin`), its message
    events (`events`) and its buttons (`components`)."""

    def __init__(self, client: discord.Client, service: CitebotService, *, guild_id: Optional[int] = None,
                 fetch_shard_count: bool = False) -> None:
        self.client = client
        self.service = service
        self.guild_id = guild_id
        self.fetch_shard_count = fetch_shard_count
        self.memory = AnswerMemory()
        self.tree: app_commands.CommandTree[discord.Client] = app_commands.CommandTree(client)
        self.tree.on_error = self.on_app_command_error  # type: ignore[method-assign]
        self._register_commands()
        # discord.py's documented hooks: `setup_hook` is awaited once before connecting, `Client.event`
        # installs each `on_*` handler by its name.
        client.setup_hook = self.setup_hook  # type: ignore[method-assign]
        client.event(self.on_ready)
        client.event(self.on_message)
        register(client, self)

    # --- startup ----------------------------------------------------------------------------

    async def setup_hook(self) -> None:
        """Route answer buttons by custom_id and sync slash commands (one server in development)."""
        self.client.add_dynamic_items(AnswerButton, SourcesPageButton)
        if self.fetch_shard_count:
            # 'auto' normally also takes the gateway URL from /gateway/bot, which would bypass
            # DISCORD_GATEWAY_URL; asking for the count alone keeps the configured gateway.
            count, _, _ = await self.client.http.get_bot_gateway()
            self.client.shard_count = count
        try:
            if self.guild_id:
                guild = discord.Object(id=self.guild_id)
                self.tree.copy_global_to(guild=guild)
                synced = await self.tree.sync(guild=guild)
            else:
                synced = await self.tree.sync()
            log.info("synced %d slash commands %s", len(synced),
                     f"to guild {self.guild_id}" if self.guild_id else "globally")
        except discord.HTTPException as exc:
            # Commands synced earlier keep working; don't refuse to start over this.
            log.warning("slash command sync failed (%s %s); continuing", exc.status, exc.text)

    async def on_ready(self) -> None:
        """Log once connected (never the token)."""
        user = self.client.user
        log.info("Discord: logged in as %s (%s) in %d servers", user, getattr(user, "id", "?"),
                 len(self.client.guilds))


def create_client(settings: Settings, service: CitebotService, **options: Any) -> discord.Client:
    """The client these settings ask for (one gateway connection, or auto-sharded over
    CITEBOT_DISCORD_SHARDS), with the bot wired in, not yet connected."""
    intents = discord.Intents.default()  # mentions and DMs carry their content without privileges
    # Reading new questions in help channels needs the privileged Message Content intent; it is
    # asked for only when some channel is set to answer unasked (setting or an earlier /channel).
    intents.message_content = service.channels.any_auto("discord")
    options.setdefault("allowed_mentions", NO_PINGS)
    shards = shard_options(settings)
    client: discord.Client
    if shards is None:
        client, fetch = discord.Client(intents=intents, **options), False
    else:
        fetch = shards["shard_count"] is None and bool(settings.discord_gateway_url)
        client = discord.AutoShardedClient(intents=intents, **shards, **options)
    CitebotBot(client, service, guild_id=settings.discord_guild_id, fetch_shard_count=fetch)
    return client


async def serve(settings: Settings, service: CitebotService) -> None:
    """Run the Discord bot until cancelled; the connection is closed on the way out."""
    if settings.discord_token is None:
        raise UserError("set DISCORD_TOKEN (in the environment or .env) to run the Discord bot")
    check_limits(settings)
    configure_endpoints(settings)
    client = create_client(settings, service)
    async with client:
        try:
            await client.start(settings.discord_token.get_secret_value())
        except discord.LoginFailure:
            raise UserError("Discord rejected DISCORD_TOKEN; copy the bot token again from the Developer Portal") from None
        except discord.PrivilegedIntentsRequired:
            raise UserError("Discord refused the Message Content intent that help channels (CITEBOT_AUTO_CHANNELS) "
                            "need: enable it in the Developer Portal (Bot → Privileged Gateway Intents)") from None
