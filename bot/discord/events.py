"""Discord message events: @mentions and DMs answered in a thread or as a reply, and new questions
in help channels answered unasked (in a thread on them, or in their forum post) only when sure.
"""
# No `from __future__ import annotations`, as in app.py: discord.py reads live annotations.
import logging
from typing import Optional

import discord

from index import Turn, UserError

from ..render.common import ELLIPSIS
from ..service import APOLOGY, CitebotService, is_question
from ..thread import DM_WINDOW, HISTORY_MESSAGES, THREAD_WINDOW, ThreadTurn, recent
from .components import NO_PINGS, AnswerMemory, answer_view, asker_of, send_kwargs
from .parse import strip_mention, turn_of_embed
from .render import render_answer, render_notice

log = logging.getLogger(__name__)


class MessageEvents:
    """`on_message` and what it needs: which messages ask the bot, and where the answer goes."""

    client: discord.Client
    service: CitebotService
    memory: AnswerMemory

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
                turns = await self.conversation_of(message)
                answer = await self.service.ask(question, asker, turns)
            reply = render_answer(answer, question=question)
            target, reference = await self._reply_place(message, answer.question or question)
            kwargs = send_kwargs(reply)
            if answer.found:
                kwargs["view"] = answer_view(self.memory.put(answer.question or question, answer.answer),
                                             more=reply.has_more)
            await target.send(reference=reference, mention_author=False, **kwargs)  # type: ignore[arg-type]
        except UserError as exc:
            await self._reply_plain(message, render_notice(str(exc)))
        except Exception:
            log.exception("answering a message in %s failed", message.guild.id if message.guild else "a DM")
            await self._reply_plain(message, APOLOGY)

    # --- conversations ----------------------------------------------------------------------

    def _turn_of(self, message: discord.Message) -> Optional[ThreadTurn]:
        """The turn of one of citebot's own answers (None for anything else)."""
        me = self.client.user
        if me is None or message.author.id != me.id or not message.embeds:
            return None
        return turn_of_embed(message.embeds[0].to_dict(), message.created_at.timestamp())  # type: ignore[arg-type]

    async def conversation_of(self, message: discord.Message) -> list[Turn]:
        """The conversation a question continues, read from Discord (so any shard, or the bot after a
        restart, sees the same): the answer it replies to; else citebot's recent answers in the thread
        or DM it is asked in. A mention in a plain channel starts a new thread: no context."""
        now = message.created_at.timestamp()
        ref = message.reference
        if ref is not None and ref.message_id is not None:
            target = ref.resolved if isinstance(ref.resolved, discord.Message) else None
            try:
                target = target or await message.channel.fetch_message(ref.message_id)
            except discord.HTTPException as exc:
                log.info("could not read the message replied to (%s)", exc.status)
            turn = self._turn_of(target) if target is not None else None
            if turn is not None:
                return recent([turn], window=THREAD_WINDOW, now=now)
        if isinstance(message.channel, (discord.TextChannel, discord.ForumChannel)):
            return []
        window = DM_WINDOW if message.guild is None else THREAD_WINDOW
        turns: list[ThreadTurn] = []
        try:
            async for earlier in message.channel.history(limit=HISTORY_MESSAGES, before=message):
                turn = self._turn_of(earlier)
                if turn is not None:
                    turns.append(turn)
        except discord.HTTPException as exc:  # e.g. no Read Message History: the question is read alone
            log.info("could not read the thread's history (%s); reading the question alone", exc.status)
        return recent(turns, window=window, now=now)

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
                              reference=reference, mention_author=False, **send_kwargs(reply))  # type: ignore[arg-type]
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
