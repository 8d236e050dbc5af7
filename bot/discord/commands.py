"""Discord slash commands for everyone (/ask, /sources) and the buttons under answers and lists.

/ask defers at once (Discord's 3-second interaction deadline) and answers after; the admin
commands' handlers are in `admin`. A user's mistake gets its reason, anything else the apology.
"""
# No `from __future__ import annotations`: discord.py reads slash-command option types from the
# live annotations, and /ask's length limit is built at runtime from the settings.
import asyncio
import logging
from typing import Optional, Union

import discord
from discord import app_commands

from index import UserError

from ..render.common import ELLIPSIS
from ..service import APOLOGY
from .admin import ADMIN_ONLY, INGEST_ONE_OF, AdminCommands
from .components import NO_PINGS, AnswerMemory, answer_view, send_kwargs, sources_view
from .parse import unrender
from .render import render_answer, render_not_found, render_notice, render_passages, render_sources, sources_pages

log = logging.getLogger(__name__)

THANKS = "Thanks for the feedback!"
EXPIRED = "That answer is too old for this button; please ask the question again."
HIDDEN = "Thanks for the feedback. I've removed my answer."


class SlashCommands(AdminCommands):
    """The command tree's commands and the answer / sources buttons."""

    memory: AnswerMemory
    tree: "app_commands.CommandTree[discord.Client]"

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
            kwargs = send_kwargs(reply)
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
                                        **send_kwargs(reply))

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
                await interaction.followup.send(ephemeral=True, **send_kwargs(render_passages(answer)))
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
            await interaction.edit_original_response(view=sources_view(page, pages), **send_kwargs(reply))
        except Exception:
            log.exception("sources page %d failed", page)
            await self._reply_ephemeral(interaction, APOLOGY)
