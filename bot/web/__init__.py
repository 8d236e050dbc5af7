"""The web page for the team that runs citebot: what was asked, what wasn't answered, what is indexed.

`citebot web [--host H] [--port P]` serves it alone; `citebot run` serves it beside the chat
adapters when CITEBOT_WEB_PORT is set. Both refuse to start without CITEBOT_WEB_TOKEN or
CITEBOT_WEB_ADMIN_TOKEN: a page that shows what people asked is never open by accident.
"""
from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

from .auth import Role, Sessions, Tokens
from .metrics import Metrics
from .server import serve
from .site import WebSite

log = logging.getLogger(__name__)

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8080

__all__ = ["Metrics", "Role", "Sessions", "Tokens", "WebSite", "cmd_web", "serve", "site_for", "web_coroutines",
           "DEFAULT_HOST", "DEFAULT_PORT"]


def tokens_from(settings: Any) -> Tokens:
    """The configured tokens; a UserError saying what to set when there are none (or they are too short)."""
    def value(secret: Any) -> str | None:
        return secret.get_secret_value().strip() if secret is not None else None

    return Tokens(read=value(settings.web_token), admin=value(settings.web_admin_token))


def site_for(app: Any) -> WebSite:
    """The site over the CLI's App (its service, engine and settings)."""
    from ..sync import make_ingester

    settings = app.settings
    tokens = tokens_from(settings)  # first: no token, no model loading
    return WebSite(app.service, tokens, sources_file=Path(settings.sources_file),
                   ingester=lambda: make_ingester(app.engine, settings))


def _warn_if_open(host: str) -> None:
    if host not in ("127.0.0.1", "::1", "localhost"):
        log.warning("the web page listens on %s, not only this machine: serve it over HTTPS (a proxy in front) "
                    "so tokens and session cookies are never sent in clear", host)


def cmd_web(app: Any, args: Any) -> int:
    """`citebot web`: serve the page until Ctrl-C."""
    settings = app.settings
    host = args.host or settings.web_host or DEFAULT_HOST
    port = args.port or settings.web_port or DEFAULT_PORT
    site = site_for(app)
    try:
        app.engine.warm_up()
    except Exception as exc:  # noqa: BLE001 - a missing or broken index is shown on the pages, not fatal here
        log.debug("warm-up failed", exc_info=True)
        print(f"citebot web: the index cannot answer yet ({type(exc).__name__}); the pages say why", file=sys.stderr)
    _warn_if_open(host)

    def ready(url: str) -> None:
        print(f"citebot web: serving {url} (Ctrl-C to stop)", file=sys.stderr, flush=True)

    try:
        asyncio.run(serve(site, host, port, ready=ready))
    except OSError as exc:
        print(f"citebot web: cannot listen on {host}:{port} ({exc.strerror or exc})", file=sys.stderr)
        return 1
    return 0


def web_coroutines(app: Any) -> list[Coroutine[Any, Any, None]]:
    """The page inside `citebot run` when CITEBOT_WEB_PORT is set (else nothing)."""
    settings = app.settings
    if not settings.web_port:
        return []
    site = site_for(app)
    _warn_if_open(settings.web_host)
    return [serve(site, settings.web_host, settings.web_port)]
