"""What every part of the Discord adapter shares: who asks, how a reply is sent, the buttons under it.

The buttons are dynamic items routed by custom_id, so they survive restarts; a click reaches the
bot running on the interaction's client through `bot_of` (the `ButtonHandler` it registered).
"""
# No `from __future__ import annotations`, as in app.py: discord.py reads live annotations.
import re
import secrets
import weakref
from collections import OrderedDict
from typing import Any, Optional, Protocol

import discord

from ..service import Asker
from .render import DiscordReply

NO_PINGS = discord.AllowedMentions.none()


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


def send_kwargs(reply: DiscordReply) -> dict[str, Any]:
    """A rendered reply as discord.py's send() arguments, never pinging anyone."""
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


class ButtonHandler(Protocol):
    """What the buttons need from the bot that owns the service (bot.discord.app.CitebotBot)."""

    async def on_answer_button(self, interaction: discord.Interaction, action: str, key: str,
                               asker: Optional[str] = None) -> None:
        """A click on "Show passages", 👍 or 👎."""

    async def on_sources_page(self, interaction: discord.Interaction, page: int) -> None:
        """A click on /sources' previous / next."""


def register(client: discord.Client, bot: ButtonHandler) -> None:
    """Make `bot` the one the buttons of this client's messages reach."""
    _BOTS[client] = weakref.ref(bot)


# Each running client's bot, for the buttons (discord.py hands them only the interaction's client).
# Weak both ways: the client keeps its bot alive through the handlers it was given.
_BOTS: "weakref.WeakKeyDictionary[discord.Client, weakref.ref[ButtonHandler]]" = weakref.WeakKeyDictionary()


def bot_of(client: discord.Client) -> Optional["ButtonHandler"]:
    """The citebot bot running on this client, if any."""
    ref = _BOTS.get(client)
    return ref() if ref is not None else None
