"""Local terminal chat: the dev mode and a test harness, formatted like the chat replies."""
from __future__ import annotations

import logging
from typing import Callable, TextIO

from index.errors import UserError

from .render import render_text
from .service import APOLOGY, Asker, CitebotService

log = logging.getLogger(__name__)

BANNER = "citebot — ask about the indexed articles. /sources lists them, /quit leaves."


def run_shell(service: CitebotService, *, stdin: TextIO, stdout: TextIO, prompt: str = "you> ",
              color: bool = False) -> int:
    """Read questions line by line until EOF or /quit; answer each. Returns an exit code."""
    asker = Asker(platform="shell", user="local")
    write: Callable[[str], None] = lambda s: (stdout.write(s + "\n"), stdout.flush())
    interactive = stdin.isatty()
    write(BANNER)
    while True:
        if interactive:
            stdout.write(prompt)
            stdout.flush()
        line = stdin.readline()
        if not line:
            break
        q = line.strip()
        if not q:
            continue
        if q in ("/quit", "/exit", "quit", "exit"):
            break
        if q == "/sources":
            rows = service.engine.sources(asker.collections)
            write("\n".join(f"- {s.title}" + (f" ({s.date})" if s.date else "") + f" — {s.url or s.source}" for s in rows)
                  or "No articles are indexed yet: run `citebot ingest PATH`.")
            continue
        try:
            write(render_text(service.ask_sync(q, asker), color=color))
        except UserError as exc:
            write(str(exc))
        except Exception:
            log.exception("shell question failed")
            write(APOLOGY)
        write("")
    return 0
