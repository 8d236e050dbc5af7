"""What the Slack listeners share: sending a rendered message (response_url or a Web API method), and
the background tasks answers are worked out in after the 3-second `ack()`.
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from .render import SlackMessage

log = logging.getLogger(__name__)


class BackgroundTasks:
    """Answers in flight: started after `ack()`, drained (then cancelled) at shutdown."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[None]] = set()

    async def aclose(self, grace: float = 10.0) -> None:
        """At shutdown: let answers in flight be posted for up to `grace` seconds, then cancel the rest."""
        await self.drain(grace)
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def drain(self, timeout: float = 30.0) -> None:
        """Wait for answers in flight to be posted."""
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=timeout)

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        # Keep a reference: the loop holds tasks only weakly.
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


async def respond_with(respond: Any, msg: SlackMessage, *, ephemeral: bool, replace_original: bool | None = None) -> None:
    """Reply through the request's response_url (works in channels the bot has not joined)."""
    try:
        resp = await respond(**msg.to_kwargs(), response_type="ephemeral" if ephemeral else "in_channel",
                             replace_original=replace_original)
        if getattr(resp, "status_code", 200) >= 300:
            log.warning("Slack response_url answered %s", resp.status_code)
    except Exception:
        log.exception("posting to Slack's response_url failed")


async def post_with(method: Callable[..., Awaitable[Any]], msg: SlackMessage, **kwargs: Any) -> None:
    """Post through a Web API method (chat.postMessage, chat.postEphemeral…); None arguments are left out."""
    kwargs = {k: v for k, v in kwargs.items() if v is not None}
    try:
        await method(**msg.to_kwargs(), **kwargs)
    except Exception:
        log.exception("posting a Slack message failed")
