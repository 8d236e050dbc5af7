"""Discord adapter (discord.py): /ask, /sources, /ingest, /forget, /channel, @mentions and DMs,
new questions in help channels (text and forum), answer buttons.

Thin by design: every question goes to `CitebotService` (which runs embedding and FAISS off the
event loop) and every reply is rendered by `bot.discord.render`. Discord's rules shape the code:
an interaction must be answered or deferred within 3 s, so handlers defer first and work after;
nothing we send may ping, so every send carries `AllowedMentions.none()`.
"""
# No `from __future__ import annotations`: discord.py reads slash-command option types from the
# live annotations, and /ask's length limit is built at runtime from the settings.
import asyncio
import logging
import re
import secrets
import weakref
from collections import OrderedDict
from typing import Any, Optional, Union

import discord
import yarl
from discord import app_commands
from discord.gateway import DiscordWebSocket
from discord.http import Route

from index import UserError

from ..channels import parse_collection_names
from ..config import Settings
from ..render.common import ELLIPSIS
from ..service import APOLOGY, Asker, CitebotService, is_question
from .parse import strip_mention, unrender
from .render import (
    DiscordReply,
    render_answer,
    render_not_found,
    render_notice,
    render_passages,
    render_sources,
    sources_pages,
)

log = logging.getLogger(__name__)

NO_PINGS = discord.AllowedMentions.none()
INGEST_ONE_OF = "Give either a `file:` or a `url:` to add (one at a time)."
ADMIN_ONLY = "Sorry, only members with the **Manage Server** permission can change this server's documents."
THANKS = "Thanks for the feedback!"
EXPIRED = "That answer is too old for this button; please ask the question again."
THINKING_NAME = "Answer"
HIDDEN = "Thanks for the feedback. I've removed my answer."
# Discord refuses a command whose string option allows more than 6,000 characters (sync fails).
OPTION_MAX_LENGTH = 6000
MESSAGE_CONTENT_OFF = ("Saved. Discord's Message Content intent is off for this bot, so I can't read new "
                       "questions yet: enable it in the Developer Portal (Bot → Privileged Gateway Intents) "
                       "and restart citebot.")

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


def asker_of(user_id: int, guild_id: Optional[int], channel: Any = None) -> Asker:
    """Who asks, scoped to their server (None in DMs): uploads of one server never answer another.

    `channel` is where they ask (a thread counts as its parent channel, a forum post as its forum),
    which may limit the collections they are answered from.
    """
    channel_id = None
    if guild_id and channel is not None:
        channel_id = getattr(channel, "parent_id", None) if isinstance(channel, discord.Thread) else getattr(channel, "id", None)
    return Asker(platform="discord", user=str(user_id), scope=str(guild_id) if guild_id else None,
                 channel=str(channel_id) if channel_id else None)


class AnswerMemory:
    """Bounded map from a button's key to (question, answer sentence).

    custom_id holds at most 100 characters and a question may hold 500, so buttons carry a short
    key; after a restart (or eviction) the question is recovered from the answer's embed title.
    """

    def __init__(self, size: int = 10_000) -> None:
        self.size = size
        self._items: OrderedDict[str, tuple[str, Optional[str]]] = OrderedDict()

    def put(self, question: str, answer: Optional[str]) -> str:
        """Remember an answer; returns its key."""
        key = secrets.token_hex(6)
        self._items[key] = (question, answer)
        while len(self._items) > self.size:
            self._items.popitem(last=False)
        return key

    def get(self, key: str) -> Optional[tuple[str, Optional[str]]]:
        """(question, answer) for a key, if still remembered."""
        return self._items.get(key)


def _send_kwargs(reply: DiscordReply) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"allowed_mentions": NO_PINGS}
    if reply.content:
        kwargs["content"] = reply.content
    if reply.embeds:
        kwargs["embeds"] = [discord.Embed.from_dict(e) for e in reply.embeds]
    return kwargs


class AnswerButton(discord.ui.DynamicItem[discord.ui.Button],
                   template=r"citebot:(?P<action>more|up|down):(?P<key>[0-9a-f]+)(?::(?P<asker>\d+))?"):
    """"Show passages", 👍 and 👎 under an answer; routed by custom_id, so they survive restarts.

    Under an unasked answer the custom_id also names the asker, whose 👎 removes the answer.
    """

    STYLES = {
        "more": ("Show passages", None, discord.ButtonStyle.secondary),
        "up": (None, "👍", discord.ButtonStyle.secondary),
        "down": (None, "👎", discord.ButtonStyle.secondary),
    }

    def __init__(self, action: str, key: str, asker: Optional[str] = None) -> None:
        label, emoji, style = self.STYLES[action]
        custom_id = f"citebot:{action}:{key}" + (f":{asker}" if asker else "")
        super().__init__(discord.ui.Button(label=label, emoji=emoji, style=style, custom_id=custom_id))
        self.action, self.key, self.asker = action, key, asker

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction, item: discord.ui.Button, match: "re.Match[str]", /) -> "AnswerButton":  # type: ignore[override]
        """Rebuild the button from a click."""
        return cls(match["action"], match["key"], match["asker"])

    async def callback(self, interaction: discord.Interaction) -> None:
        """Hand the click to the bot that owns the service."""
        bot = bot_of(interaction.client)
        if bot is not None:
            await bot.on_answer_button(interaction, self.action, self.key, asker=self.asker)


class SourcesPageButton(discord.ui.DynamicItem[discord.ui.Button], template=r"citebot:src:(?P<page>\d+)"):
    """Previous / next page of /sources."""

    def __init__(self, page: int, label: str, disabled: bool = False) -> None:
        super().__init__(discord.ui.Button(label=label, style=discord.ButtonStyle.secondary,
                                           custom_id=f"citebot:src:{page}", disabled=disabled))
        self.page = page

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction, item: discord.ui.Button, match: "re.Match[str]", /) -> "SourcesPageButton":  # type: ignore[override]
        """Rebuild the button from a click."""
        return cls(int(match["page"]), item.label or "")

    async def callback(self, interaction: discord.Interaction) -> None:
        """Show the requested page."""
        bot = bot_of(interaction.client)
        if bot is not None:
            await bot.on_sources_page(interaction, self.page)


def answer_view(key: str, *, more: bool, asker: Optional[str] = None) -> discord.ui.View:
    """The buttons under an answer (fully dynamic, so discord.py keeps no per-message state)."""
    view = discord.ui.View(timeout=None)
    if more:
        view.add_item(AnswerButton("more", key))
    view.add_item(AnswerButton("up", key))
    view.add_item(AnswerButton("down", key, asker))
    return view


def sources_view(page: int, pages: int) -> Optional[discord.ui.View]:
    """Previous / next buttons for /sources, or None when everything fits one page."""
    if pages <= 1:
        return None
    view = discord.ui.View(timeout=None)
    view.add_item(SourcesPageButton(max(page - 1, 0), "◀ Previous", disabled=page <= 0))
    view.add_item(SourcesPageButton(min(page + 1, pages - 1), "Next ▶", disabled=page >= pages - 1))
    return view


# Each running client's bot, for the buttons (discord.py hands them only the interaction's client).
# Weak both ways: the client keeps its bot alive through the handlers it was given.
_BOTS: "weakref.WeakKeyDictionary[discord.Client, weakref.ref[CitebotBot]]" = weakref.WeakKeyDictionary()


def bot_of(client: discord.Client) -> "Optional[CitebotBot]":
    """The citebot bot running on this client, if any."""
    ref = _BOTS.get(client)
    return ref() if ref is not None else None


class CitebotBot:
    """The bot's behaviour over one discord.py client, plain or auto-sharded (composition, not a mixin):
    its slash commands on the client's command tree, its events and its buttons."""

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
        _BOTS[client] = weakref.ref(self)

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

    # --- slash commands ---------------------------------------------------------------------

    def _register_commands(self) -> None:
        limit = self.service.max_question_chars

        @self.tree.command(name="ask", description="Ask a question; the answer quotes the articles it comes from.")
        @app_commands.describe(question="What do you want to know?", private="Only you see the answer")
        async def ask(interaction: discord.Interaction, question: app_commands.Range[str, 1, limit],
                      private: bool = False) -> None:
            await self.ask_command(interaction, question, private)

        @self.tree.command(name="sources", description="List the articles this server can be answered from.")
        async def sources(interaction: discord.Interaction) -> None:
            await interaction.response.defer(ephemeral=True, thinking=True)
            rows = await self.service.sources(self._asker(interaction))
            reply = render_sources(rows, 0)
            view = sources_view(0, sources_pages(rows))
            kwargs = _send_kwargs(reply)
            if view:
                kwargs["view"] = view
            await interaction.followup.send(ephemeral=True, **kwargs)

        @self.tree.command(name="ingest", description="Add a document (.txt, .md, .html, .pdf) or a web page to this server's articles.")
        @app_commands.describe(file="The document to add", url="A web page to add (https://...)")
        @app_commands.guild_only()
        @app_commands.default_permissions(manage_guild=True)
        async def ingest(interaction: discord.Interaction, file: Optional[discord.Attachment] = None,
                         url: Optional[app_commands.Range[str, 1, 2000]] = None) -> None:
            if url and file is None:
                await self.ingest_url_command(interaction, url)
            elif file is not None and not url:
                await self.ingest_command(interaction, file)
            else:
                await interaction.response.send_message(render_notice(INGEST_ONE_OF), ephemeral=True,
                                                        allowed_mentions=NO_PINGS)

        @self.tree.command(name="forget", description="Remove a document this server added.")
        @app_commands.describe(source="The document's file name (see /sources)")
        @app_commands.guild_only()
        @app_commands.default_permissions(manage_guild=True)
        async def forget(interaction: discord.Interaction, source: str) -> None:
            await self.forget_command(interaction, source)

        @forget.autocomplete("source")
        async def forget_names(interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
            asker = self._asker(interaction)
            rows = await self.service.sources(asker)
            names = [r.source.rsplit("/", 1)[-1] for r in rows if r.collection == asker.collection]
            return [app_commands.Choice(name=n[:100], value=n[:100]) for n in names if current.lower() in n.lower()][:25]

        @self.tree.command(name="channel", description="Answer new questions in a channel, and choose its articles.")
        @app_commands.describe(
            answer_new_questions="Answer new questions posted there, without being asked (in a thread, only when sure)",
            collections="Collections it answers from, comma-separated (e.g. hr, uploads); 'all' for everything",
            channel="A text or forum channel (default: this one)",
        )
        @app_commands.guild_only()
        @app_commands.default_permissions(manage_guild=True)
        async def channel(interaction: discord.Interaction, answer_new_questions: Optional[bool] = None,
                          collections: Optional[app_commands.Range[str, 1, 200]] = None,
                          channel: Optional[Union[discord.TextChannel, discord.ForumChannel]] = None) -> None:
            await self.channel_command(interaction, answer_new_questions, collections, channel)

    def _asker(self, interaction: discord.Interaction) -> Asker:
        return asker_of(interaction.user.id, interaction.guild_id, interaction.channel)

    async def channel_command(self, interaction: discord.Interaction, auto: Optional[bool], collections: Optional[str],
                              channel: Optional[Any]) -> None:
        """/channel: Manage Server only; sets (or shows) a channel's unasked answers and collections."""
        if not self._may_manage(interaction):
            await interaction.response.send_message(ADMIN_ONLY, ephemeral=True, allowed_mentions=NO_PINGS)
            return
        target = channel if channel is not None else interaction.channel
        asker = asker_of(interaction.user.id, interaction.guild_id, target)
        names: Optional[tuple[str, ...]] = None
        if collections is not None:
            names = () if collections.strip().lower() in ("all", "*", "everything") else parse_collection_names(collections)
        rule = await self.service.set_channel(asker, auto=auto, collections=names)
        where = f"#{getattr(target, 'name', None) or asker.channel}"
        text = (f"{where}: " + ("I answer new questions here when I'm confident" if rule.auto
                                else "I answer only when asked (/ask or a mention)")
                + "; articles from " + (", ".join(f"`{n}`" for n in rule.collections) if rule.collections else "every collection") + ".")
        if rule.auto and not self.client.intents.message_content:
            text += "\n" + MESSAGE_CONTENT_OFF
        await interaction.response.send_message(render_notice(text), ephemeral=True, allowed_mentions=NO_PINGS)

    async def ask_command(self, interaction: discord.Interaction, question: str, private: bool) -> None:
        """/ask: defer at once (3-second deadline), answer off the loop, then follow up."""
        try:
            question = self.service.check_question(question)
        except UserError as exc:
            await interaction.response.send_message(render_notice(str(exc)), ephemeral=True, allowed_mentions=NO_PINGS)
            return
        await interaction.response.defer(ephemeral=private, thinking=True)
        try:
            answer = await self.service.ask(question, self._asker(interaction))
        except UserError as exc:
            await self._say_privately(interaction, render_notice(str(exc)), deferred_public=not private)
            return
        except Exception:
            log.exception("/ask failed")
            await self._say_privately(interaction, APOLOGY, deferred_public=not private)
            return
        if not answer.found:
            await self._say_privately(interaction, render_not_found(answer), deferred_public=not private)
            return
        reply = render_answer(answer, question=question)
        key = self.memory.put(question, answer.answer)
        await interaction.followup.send(ephemeral=private, view=answer_view(key, more=reply.has_more),
                                        **_send_kwargs(reply))

    async def _say_privately(self, interaction: discord.Interaction, text: str, *, deferred_public: bool) -> None:
        """An ephemeral reply after a defer; a public "thinking…" is removed first.

        The first follow-up after a defer replaces the thinking message and keeps its visibility,
        so a public defer must be deleted before a private follow-up can be sent.
        """
        if deferred_public:
            try:
                await interaction.delete_original_response()
            except discord.HTTPException as exc:
                log.debug("could not delete the thinking message: %s", exc)
        await interaction.followup.send(text, ephemeral=True, allowed_mentions=NO_PINGS)

    def _may_manage(self, interaction: discord.Interaction) -> bool:
        perms = interaction.permissions
        return interaction.guild_id is not None and (perms.manage_guild or perms.administrator)

    async def ingest_command(self, interaction: discord.Interaction, file: discord.Attachment) -> None:
        """/ingest: Manage Server only; the file joins this server's collection."""
        if not self._may_manage(interaction):
            await interaction.response.send_message(ADMIN_ONLY, ephemeral=True, allowed_mentions=NO_PINGS)
            return
        limit = self.service.max_upload_bytes
        if file.size > limit:
            await interaction.response.send_message(
                render_notice(f"That file is {file.size / 1048576:.1f} MB; the limit is {limit / 1048576:.0f} MB."),
                ephemeral=True, allowed_mentions=NO_PINGS)
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        data = await file.read()
        report = await self.service.ingest_upload(file.filename, data, self._asker(interaction))
        if report.skipped:
            text = "I couldn't add that file: " + "; ".join(reason for _, reason in report.skipped)
        elif report.unchanged and not (report.added or report.updated):
            text = f"`{file.filename}` is already indexed, unchanged."
        else:
            verb = "Updated" if report.updated else "Added"
            text = f"{verb} `{file.filename}` ({report.passages} passages): questions in this server can now cite it."
        await interaction.followup.send(render_notice(text), ephemeral=True, allowed_mentions=NO_PINGS)

    async def ingest_url_command(self, interaction: discord.Interaction, url: str) -> None:
        """/ingest url: Manage Server only; the page is fetched (public addresses only) into this server's collection."""
        if not self._may_manage(interaction):
            await interaction.response.send_message(ADMIN_ONLY, ephemeral=True, allowed_mentions=NO_PINGS)
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        report = await self.service.ingest_url(url, self._asker(interaction))
        if report.skipped:
            text = "I couldn't add that page: " + "; ".join(reason for _, reason in report.skipped)
        elif report.unchanged and not (report.added or report.updated):
            text = "That page is already indexed, unchanged."
        else:
            verb = "Updated" if report.updated else "Added"
            text = f"{verb} <{url}> ({report.passages} passages): questions in this server can now cite it."
        await interaction.followup.send(render_notice(text), ephemeral=True, allowed_mentions=NO_PINGS)

    async def forget_command(self, interaction: discord.Interaction, source: str) -> None:
        """/forget: Manage Server only; removes only this server's own uploads."""
        if not self._may_manage(interaction):
            await interaction.response.send_message(ADMIN_ONLY, ephemeral=True, allowed_mentions=NO_PINGS)
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        removed = await self.service.forget(source, self._asker(interaction))
        if removed:
            text = "Forgot " + ", ".join(f"`{s.rsplit('/', 1)[-1]}`" for s in removed) + "."
        else:
            text = f"This server has no uploaded document named `{source}` (see /sources)."
        await interaction.followup.send(render_notice(text), ephemeral=True, allowed_mentions=NO_PINGS)

    async def on_app_command_error(self, interaction: discord.Interaction, error: app_commands.AppCommandError) -> None:
        """A user's mistake gets its reason; anything else is logged and gets the apology."""
        original = getattr(error, "original", error)
        if isinstance(original, UserError):
            text = render_notice(str(original))
        elif isinstance(error, app_commands.CheckFailure):
            text = ADMIN_ONLY if isinstance(error, app_commands.MissingPermissions) else render_notice(str(error))
        else:
            name = interaction.command.name if interaction.command else "?"
            log.error("/%s failed", name, exc_info=original)
            text = APOLOGY
        await self._reply_ephemeral(interaction, text)

    async def _reply_ephemeral(self, interaction: discord.Interaction, text: str) -> None:
        try:
            if interaction.response.is_done():
                await interaction.followup.send(text, ephemeral=True, allowed_mentions=NO_PINGS)
            else:
                await interaction.response.send_message(text, ephemeral=True, allowed_mentions=NO_PINGS)
        except discord.HTTPException:
            log.warning("could not send an error reply for interaction %s", interaction.id, exc_info=True)

    # --- buttons ----------------------------------------------------------------------------

    def _recall(self, interaction: discord.Interaction, key: str) -> Optional[tuple[str, Optional[str]]]:
        remembered = self.memory.get(key)
        if remembered:
            return remembered
        embeds = interaction.message.embeds if interaction.message else []
        if embeds and embeds[0].title and not embeds[0].title.endswith(ELLIPSIS):
            description = embeds[0].description or ""
            first = description.split("\n", 1)[0].removeprefix("> ")
            return unrender(embeds[0].title), (unrender(first) or None)
        return None

    async def on_answer_button(self, interaction: discord.Interaction, action: str, key: str,
                               asker: Optional[str] = None) -> None:
        """Passages (ephemeral) or a 👍/👎 vote recorded with the question and answer.

        A 👎 from the person whose question was answered unasked also removes the answer.
        """
        try:
            recalled = self._recall(interaction, key)
            if recalled is None:
                await interaction.response.send_message(EXPIRED, ephemeral=True, allowed_mentions=NO_PINGS)
                return
            question, answer_text = recalled
            clicker = self._asker(interaction)
            if action == "down" and asker and asker == str(interaction.user.id) and interaction.message is not None:
                await interaction.response.defer(ephemeral=True, thinking=True)
                await asyncio.to_thread(self.service.record_vote, question, -1, clicker, answer_text)
                await interaction.message.delete()
                await interaction.followup.send(HIDDEN, ephemeral=True, allowed_mentions=NO_PINGS)
                return
            await interaction.response.defer(ephemeral=True, thinking=True)
            if action == "more":
                answer = await self.service.more_sources(question, clicker)
                await interaction.followup.send(ephemeral=True, **_send_kwargs(render_passages(answer)))
            else:
                vote = 1 if action == "up" else -1
                await asyncio.to_thread(self.service.record_vote, question, vote, clicker, answer_text)
                await interaction.followup.send(THANKS, ephemeral=True, allowed_mentions=NO_PINGS)
        except UserError as exc:
            await self._reply_ephemeral(interaction, render_notice(str(exc)))
        except Exception:
            log.exception("answer button %r failed", action)
            await self._reply_ephemeral(interaction, APOLOGY)

    async def on_sources_page(self, interaction: discord.Interaction, page: int) -> None:
        """Replace the /sources message with another page."""
        try:
            await interaction.response.defer()
            rows = await self.service.sources(self._asker(interaction))
            pages = sources_pages(rows)
            page = min(page, pages - 1)
            reply = render_sources(rows, page)
            await interaction.edit_original_response(view=sources_view(page, pages), **_send_kwargs(reply))
        except Exception:
            log.exception("sources page %d failed", page)
            await self._reply_ephemeral(interaction, APOLOGY)

    # --- mentions and DMs -------------------------------------------------------------------

    def question_in(self, message: discord.Message) -> Optional[str]:
        """The question a message asks the bot, or None when it isn't addressed to the bot."""
        me = self.client.user
        if me is None or message.author.bot or message.author.id == me.id:
            return None
        if message.guild is not None and me.id not in message.raw_mentions:
            return None  # @everyone / @here alone don't count as asking the bot
        return strip_mention(message.content, me.id)

    async def on_message(self, message: discord.Message) -> None:
        """Answer @mentions in a thread on the message (or in the thread asked in) and DMs as replies."""
        question = self.question_in(message)
        if question is None:
            await self.auto_answer(message)
            return
        asker = asker_of(message.author.id, message.guild.id if message.guild else None, message.channel)
        try:
            async with message.channel.typing():
                answer = await self.service.ask(question, asker)
            reply = render_answer(answer, question=question)
            target, reference = await self._reply_place(message, answer.question or question)
            kwargs = _send_kwargs(reply)
            if answer.found:
                kwargs["view"] = answer_view(self.memory.put(answer.question or question, answer.answer),
                                             more=reply.has_more)
            await target.send(reference=reference, mention_author=False, **kwargs)  # type: ignore[arg-type]
        except UserError as exc:
            await self._reply_plain(message, render_notice(str(exc)))
        except Exception:
            log.exception("answering a message in %s failed", message.guild.id if message.guild else "a DM")
            await self._reply_plain(message, APOLOGY)

    # --- help channels ----------------------------------------------------------------------

    def help_question_in(self, message: discord.Message) -> Optional[str]:
        """The text of a new top-level post in a help channel, or None (bots, replies, thread replies…)."""
        me = self.client.user
        if me is None or message.guild is None or message.author.bot or message.author.id == me.id:
            return None
        if message.type is not discord.MessageType.default or message.reference is not None:
            return None  # replies, pins, joins, thread-starter notices
        channel = message.channel
        if isinstance(channel, discord.Thread):
            # A forum post: its first message shares the thread's id; later messages are replies.
            if message.id != channel.id or not isinstance(channel.parent, discord.ForumChannel):
                return None
            # The title is the question when it reads like one; the body adds words only when it doesn't.
            title = channel.name or ""
            text = title if is_question(title) else f"{title}\n{message.content or ''}".strip()
        elif isinstance(channel, discord.TextChannel):
            text = (message.content or "").strip()
        else:
            return None
        if not self.service.auto_channel("discord", asker_of(me.id, message.guild.id, channel).channel):
            return None
        limit = self.service.max_question_chars
        return text if len(text) <= limit else text[:limit].rsplit(" ", 1)[0]

    async def auto_answer(self, message: discord.Message) -> None:
        """Answer a new question in a help channel, in a thread on it (or in its forum post); else stay silent."""
        text = self.help_question_in(message)
        if text is None or message.guild is None:
            return
        asker = asker_of(message.author.id, message.guild.id, message.channel)
        try:
            answer = await self.service.auto_answer(text, asker)
            if answer is None:
                return
            question = answer.question or text
            reply = render_answer(answer, question=question)
            target: discord.abc.Messageable = message.channel
            reference: Optional[discord.Message] = None
            if not isinstance(message.channel, discord.Thread):  # a forum post is its own thread already
                target, reference = await self._reply_place(message, question.split("\n", 1)[0])
            key = self.memory.put(question, answer.answer)
            await target.send(view=answer_view(key, more=reply.has_more, asker=str(message.author.id)),
                              reference=reference, mention_author=False, **_send_kwargs(reply))  # type: ignore[arg-type]
        except Exception:
            # Nobody asked us: a failure stays in the log, never becomes a message in the channel.
            log.exception("answering a help-channel question in %s failed", message.guild.id)

    async def _reply_place(self, message: discord.Message, question: str) -> tuple[discord.abc.Messageable, Optional[discord.Message]]:
        """Where an answer goes: a new thread on the message in a channel, else a reply in place."""
        if isinstance(message.channel, discord.TextChannel):
            name = question if len(question) <= 90 else question[:89].rstrip() + ELLIPSIS
            try:
                return await message.create_thread(name=name, auto_archive_duration=1440), None
            except discord.HTTPException as exc:
                log.info("could not start a thread (%s); replying in the channel", exc.status)
        return message.channel, message

    async def _reply_plain(self, message: discord.Message, text: str) -> None:
        try:
            await message.reply(text, mention_author=False, allowed_mentions=NO_PINGS)
        except discord.HTTPException:
            log.warning("could not reply to message %s", message.id, exc_info=True)


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
