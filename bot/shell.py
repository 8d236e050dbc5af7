"""Local terminal chat: the dev mode and a test harness, formatted for a terminal.

At a terminal, lines are read through readline: the arrow keys edit the line and walk the
history (kept between sessions in a history file), Tab completes the /commands. Piped input is
read line by line, so scripts and tests can drive the same loop.
"""
from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import TextIO

from index import Answer, Turn, UserError

from .render import render_text
from .render.common import date_label
from .render.text import PLAIN, TextStyle, render_citation
from .service import APOLOGY, Asker, CitebotService
from .thread import MAX_TURNS, turn_for_chat

log = logging.getLogger(__name__)

BANNER = "citebot — ask about the indexed articles. /help lists the commands, /quit leaves."
HELP = """Type a question and press Enter. Commands:
  /sources   list the indexed articles
  /more      the last answer's other sources
  /new       start a new conversation (a question like "how old is he?" is read
             with the one before it until then)
  /help      this list
  /quit      leave (Ctrl-D too)
At a terminal, ↑/↓ recall earlier questions and Tab completes a command."""
COMMANDS = ("/help", "/sources", "/more", "/new", "/quit", "/exit")
NEW_CONVERSATION = "New conversation: the next question is read on its own."
HISTORY_LENGTH = 1000
# Escape sequences and other control characters: what an arrow or function key sends when no
# line editor is reading the terminal. Such a line is never a question.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def default_history_file() -> Path:
    """Where the shell keeps its history between sessions: ~/.cache/citebot/shell-history."""
    return Path.home() / ".cache" / "citebot" / "shell-history"


class _LineReader:
    """Reads one line at a time: readline at a terminal (editing, history), else the plain stream."""

    def __init__(self, stdin: TextIO, stdout: TextIO, prompt: str, history_file: Path | None) -> None:
        self.stdin, self.stdout, self.prompt = stdin, stdout, prompt
        self.history_file = history_file
        self.readline = _import_readline() if _is_tty(stdin) and _is_tty(stdout) else None
        if self.readline is not None:
            self._setup_readline()

    def _setup_readline(self) -> None:
        rl = self.readline
        assert rl is not None
        rl.set_history_length(HISTORY_LENGTH)
        # Only questions go into the history (see `remember`): ↑ should not bring back /quit.
        rl.set_auto_history(False)
        if self.history_file is not None and self.history_file.is_file():
            try:
                rl.read_history_file(str(self.history_file))
            except OSError as exc:  # an unreadable history is no reason to refuse to start
                log.debug("history not read: %s", exc)

        def complete(text: str, state: int) -> str | None:
            matches = [c for c in COMMANDS if c.startswith(text)] if text.startswith("/") else []
            return matches[state] if state < len(matches) else None

        rl.set_completer(complete)
        rl.set_completer_delims(" \t\n")
        # macOS Python links libedit, which spells its bindings differently.
        rl.parse_and_bind("bind ^I rl_complete" if "libedit" in (rl.__doc__ or "") else "tab: complete")

    def read(self) -> str | None:
        """The next line without its newline, or None at end of input."""
        if self.readline is not None:
            try:
                return input(self.prompt)
            except EOFError:
                self.stdout.write("\n")
                return None
        if _is_tty(self.stdin):
            self.stdout.write(self.prompt)
            self.stdout.flush()
        line = self.stdin.readline()
        return line.rstrip("\r\n") if line else None

    def remember(self, question: str) -> None:
        """Add a question to the history, unless it repeats the one before."""
        rl = self.readline
        if rl is None:
            return
        n = rl.get_current_history_length()
        if n == 0 or rl.get_history_item(n) != question:
            rl.add_history(question)

    def close(self) -> None:
        """Save the history for the next session."""
        if self.readline is None or self.history_file is None:
            return
        try:
            self.history_file.parent.mkdir(parents=True, exist_ok=True)
            self.readline.write_history_file(str(self.history_file))
        except OSError as exc:
            log.debug("history not saved: %s", exc)


def _is_tty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _import_readline():  # type: ignore[no-untyped-def]
    """The readline module, or None where Python has none (Windows without pyreadline3)."""
    try:
        import readline
    except ImportError:
        return None
    return readline


def run_shell(service: CitebotService, *, stdin: TextIO, stdout: TextIO, prompt: str = "you> ",
              color: bool = False, style: TextStyle | None = None, history_file: Path | None = None) -> int:
    """Read questions until EOF, /quit or Ctrl-C; answer each. Returns an exit code (130 after Ctrl-C)."""
    style = style or (TextStyle(ansi=True, colors=True) if color else PLAIN)
    asker = Asker(platform="shell", user="local")

    def write(s: str) -> None:
        stdout.write(s + "\n")
        stdout.flush()

    reader = _LineReader(stdin, stdout, prompt, history_file)
    last: Answer | None = None
    # Consecutive questions are one conversation (a follow-up is read with the answers before it)
    # until /new; bounded like every surface's (bot/thread.py).
    conversation: list[Turn] = []
    write(BANNER)
    try:
        while True:
            line = reader.read()
            if line is None:
                return 0
            q = line.strip()
            if not q:
                continue
            if _CONTROL.search(q):
                write("(That line held control keys, not a question; ↑/↓ recall questions at a terminal.)")
                continue
            if q.startswith("/") or q in ("quit", "exit"):
                cmd = q.split()[0].lower()
                if cmd in ("/quit", "/exit", "quit", "exit"):
                    return 0
                if cmd == "/new":
                    conversation.clear()
                    write(NEW_CONVERSATION)
                    continue
                write(_command(cmd, service, asker, last, style))
                continue
            reader.remember(q)
            try:
                last = service.ask_sync(q, asker, conversation)
                conversation[:] = [*conversation, turn_for_chat(last)][-MAX_TURNS:]
                write(render_text(last, style=style))
            except UserError as exc:
                write(str(exc))
            except Exception:
                log.exception("shell question failed")
                write(APOLOGY)
            write("")
    except KeyboardInterrupt:
        stdout.write("\n")
        return 130
    finally:
        reader.close()


def _command(cmd: str, service: CitebotService, asker: Asker, last: Answer | None, style: TextStyle) -> str:
    """The reply to a /command (never asked as a question)."""
    if cmd == "/help":
        return HELP
    if cmd == "/sources":
        rows = service.engine.sources(asker.collections)
        return ("\n".join(f"- {s.title}" + (f" ({date_label(s)})" if date_label(s) else "") + f" — {style.link(s.url or s.source)}"
                          for s in rows)
                or "No articles are indexed yet: run `citebot ingest PATH`.")
    if cmd == "/more":
        if last is None:
            return "Ask a question first; /more then lists the answer's other sources."
        if not last.more:
            return "The last answer has no other sources."
        lines = [f"Other sources for: {last.question}", ""]
        for c in last.more:
            lines.extend(render_citation(c, style=style))
        return "\n".join(lines).rstrip()
    return f"Unknown command {cmd}. /help lists the commands."
