"""Slack admin commands, for workspace admins and owners (checked with users.info, scope users:read):
`/citebot-ingest URL` adds a web page to the workspace's articles, `/citebot-channel` sets how
citebot works in a channel (answer new questions, which collections).
"""
from __future__ import annotations

import logging
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from index import UserError

from ..channels import parse_collection_names
from ..service import APOLOGY, Asker, CitebotService, ingest_outcome
from .parse import channel_of, plain_question, slack_link
from .render import render_notice
from .replies import BackgroundTasks, post_with, respond_with

log = logging.getLogger(__name__)

INGEST_COMMAND = "/citebot-ingest"
SLACK_ADMIN_ONLY = "Sorry, only workspace admins and owners can add web pages to this workspace's articles."
CHANNEL_COMMAND = "/citebot-channel"
ADMIN_ONLY = "Sorry, only workspace admins and owners can change how citebot works in a channel."
CHANNEL_USAGE = ("Usage: `/citebot-channel on` (answer new questions here), `/citebot-channel off`, "
                 "`/citebot-channel collections hr, uploads` (or `all`), `/citebot-channel` to see the settings.")


class AdminCommands(BackgroundTasks):
    """The listeners of the two admin slash commands (registered by `SlackBot.register`)."""

    service: CitebotService

    # --- /citebot-ingest URL ---------------------------------------------------------------

    async def on_ingest(self, ack: Any, command: dict[str, Any], respond: Any, client: AsyncWebClient) -> None:
        """`/citebot-ingest URL`: workspace admins and owners add a web page to the workspace's articles."""
        asker = Asker(platform="slack", user=command.get("user_id", ""), scope=command.get("team_id") or None)
        url = slack_link(command.get("text", ""))
        if not url:
            await ack(**render_notice(f"Give the address of a web page: `{INGEST_COMMAND} https://example.com/post`").to_kwargs())
            return
        await ack()
        self._spawn(self._ingest_url(url, asker, respond, client))

    async def _ingest_url(self, url: str, asker: Asker, respond: Any, client: AsyncWebClient) -> None:
        async def say(text: str) -> None:
            await respond_with(respond, render_notice(text), ephemeral=True)

        try:
            # Slash commands do not say who is an admin: users.info does (scope users:read).
            info = await client.users_info(user=asker.user)
            user = info.get("user") or {}
            if not (user.get("is_admin") or user.get("is_owner")):
                await say(SLACK_ADMIN_ONLY)
                return
            report = await self.service.ingest_url(url, asker)
        except UserError as exc:
            await say(str(exc))
            return
        except SlackApiError as exc:
            log.warning("users.info failed: %s", exc.response.get("error"))
            await say("I couldn't check your permissions: the app needs the `users:read` scope.")
            return
        except Exception:
            log.exception("%s failed", INGEST_COMMAND)
            await say(APOLOGY)
            return
        await say(ingest_outcome(report, kind="page", shown=url, same="That page", place="workspace"))

    # --- /citebot-channel -------------------------------------------------------------------

    async def on_channel_command(self, ack: Any, command: dict[str, Any], client: AsyncWebClient) -> None:
        """`/citebot-channel on|off|collections NAMES|all`: an admin sets how citebot works in this channel."""
        await ack()
        self._spawn(self._channel_command(command, client))

    async def _channel_command(self, command: dict[str, Any], client: AsyncWebClient) -> None:
        user, channel = command.get("user_id", ""), command.get("channel_id", "")

        async def say(text: str) -> None:
            await post_with(client.chat_postEphemeral, render_notice(text), channel=channel, user=user)

        asker = Asker(platform="slack", user=user, scope=command.get("team_id") or None, channel=channel_of(channel))
        try:
            if not await self._is_admin(client, user):
                await say(ADMIN_ONLY)
                return
            words = plain_question(command.get("text", "")).split(None, 1)
            verb, rest = (words[0].lower(), words[1] if len(words) > 1 else "") if words else ("", "")
            if verb in ("on", "off"):
                rule = await self.service.set_channel(asker, auto=verb == "on")
            elif verb == "collections" and rest.strip():
                everything = rest.strip().lower() in ("all", "*", "everything")
                rule = await self.service.set_channel(asker, collections=() if everything else parse_collection_names(rest))
            elif not verb:
                rule = await self.service.set_channel(asker)
            else:
                await say(CHANNEL_USAGE)
                return
        except UserError as exc:
            await say(str(exc))
            return
        except Exception:
            log.exception("Slack channel command failed")
            await say(APOLOGY)
            return
        await say(("I answer new questions in this channel when I'm confident" if rule.auto
                   else "I answer in this channel only when asked (/ask or a mention)")
                  + "; articles from " + (", ".join(rule.collections) if rule.collections else "every collection") + ".")

    async def _is_admin(self, client: AsyncWebClient, user: str) -> bool:
        """A workspace admin or owner (users.info; needs the users:read scope)."""
        resp = await client.users_info(user=user)
        info = resp.get("user") or {}
        return bool(info.get("is_admin") or info.get("is_owner") or info.get("is_primary_owner"))
