"""Discord admin commands, for members with Manage Server: /channel, /ingest (file or url), /forget.

Every one checks the permission itself as well (a server can re-grant commands to anyone) and
answers ephemerally; uploads and pages join the server's own collection.
"""
# No `from __future__ import annotations`, as in app.py: discord.py reads live annotations.
from typing import Any, Optional

import discord

from ..channels import parse_collection_names
from ..service import Asker, CitebotService, ingest_outcome
from .components import NO_PINGS, asker_of
from .render import render_notice

INGEST_ONE_OF = "Give either a `file:` or a `url:` to add (one at a time)."
ADMIN_ONLY = "Sorry, only members with the **Manage Server** permission can change this server's documents."
MESSAGE_CONTENT_OFF = ("Saved. Discord's Message Content intent is off for this bot, so I can't read new "
                       "questions yet: enable it in the Developer Portal (Bot → Privileged Gateway Intents) "
                       "and restart citebot.")


class AdminCommands:
    """The handlers behind the admin slash commands (registered by `SlashCommands`)."""

    client: discord.Client
    service: CitebotService

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
        shown = f"`{file.filename}`"
        text = ingest_outcome(report, kind="file", shown=shown, same=shown, place="server")
        await interaction.followup.send(render_notice(text), ephemeral=True, allowed_mentions=NO_PINGS)

    async def ingest_url_command(self, interaction: discord.Interaction, url: str) -> None:
        """/ingest url: Manage Server only; the page is fetched (public addresses only) into this server's collection."""
        if not self._may_manage(interaction):
            await interaction.response.send_message(ADMIN_ONLY, ephemeral=True, allowed_mentions=NO_PINGS)
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        report = await self.service.ingest_url(url, self._asker(interaction))
        text = ingest_outcome(report, kind="page", shown=f"<{url}>", same="That page", place="server")
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
