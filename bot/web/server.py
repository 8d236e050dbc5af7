"""Serving the team's web page (bot/web/site.py) on a host and port until cancelled."""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from aiohttp import web

from .site import MAX_LINE, WebSite

log = logging.getLogger(__name__)


async def serve(site: WebSite, host: str, port: int, *, ready: Callable[[str], None] | None = None) -> None:
    """Serve until cancelled. The access log is off: an /ask URL holds the question."""
    runner = web.AppRunner(site.app(), access_log=None, max_line_size=MAX_LINE, max_field_size=MAX_LINE,
                           handle_signals=False)
    await runner.setup()
    try:
        site_ = web.TCPSite(runner, host, port)
        await site_.start()
        url = f"http://{'[' + host + ']' if ':' in host else host}:{port}/"
        log.info("web page on %s", url)
        if ready is not None:
            ready(url)
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()

