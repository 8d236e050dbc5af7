"""`citebot shell` as a person uses it: a real process on a pseudo-terminal, keys sent as bytes."""
from __future__ import annotations

import fcntl
import io
import os
import select
import signal
import sqlite3
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="pseudo-terminals are POSIX-only")

UP, DOWN = b"\x1b[A", b"\x1b[B"
BOLD = "\x1b[1m"
COLOURED = ("\x1b[1;36m", "\x1b[4;34m")


def _own_terminal() -> None:
    """In the child: a new session whose controlling terminal is the pty, so Ctrl-C sends SIGINT."""
    os.setsid()
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


class Terminal:
    """`citebot shell` on a pty: `send` types keys, `expect` waits for text on the screen."""

    def __init__(self, index: Path, home: Path, **env: str) -> None:
        e = {k: v for k, v in os.environ.items() if not k.startswith(("CITEBOT_", "DISCORD_", "SLACK_", "NO_COLOR"))}
        # The exported ONNX model stays where it is; only the history goes to a fresh HOME.
        e.update(HOME=str(home), TERM="xterm", CITEBOT_CACHE_DIR=str(Path.home() / ".cache" / "citebot" / "onnx"))
        e.update(env)
        self.master, slave = os.openpty()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "shell", "--index", str(index)],
            stdin=slave, stdout=slave, stderr=slave, env=e, cwd=ROOT, preexec_fn=_own_terminal,
        )
        os.close(slave)
        self.screen = ""

    def read(self, timeout: float) -> None:
        ready, _, _ = select.select([self.master], [], [], timeout)
        if ready:
            try:
                self.screen += os.read(self.master, 65536).decode("utf-8", "replace")
            except OSError:  # the process ended and closed its side
                pass

    def expect(self, text: str, count: int = 1, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while self.screen.count(text) < count:
            if time.monotonic() > deadline or (self.proc.poll() is not None and not select.select([self.master], [], [], 0)[0]):
                raise AssertionError(f"{text!r} (x{count}) never appeared; screen:\n{self.screen[-3000:]}")
            self.read(0.2)

    def send(self, keys: bytes) -> None:
        os.write(self.master, keys)

    def ask(self, keys: bytes, timeout: float = 120.0) -> None:
        """Type keys + Enter, then wait for the next empty prompt (readline redraws the prompt line
        when ↑ recalls a question, so a prompt followed by text is not the next one)."""
        n = self.screen.count("you> ")
        self.send(keys + b"\r")
        deadline = time.monotonic() + timeout
        while not (self.screen.count("you> ") > n and self.screen.endswith("\nyou> ")):
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise AssertionError(f"no new prompt after {keys!r}; screen:\n{self.screen[-3000:]}")
            self.read(0.2)

    def wait(self) -> int:
        """The exit code, reading the screen meanwhile (a full pty buffer would block the process)."""
        deadline = time.monotonic() + 60
        while self.proc.poll() is None:
            if time.monotonic() > deadline:
                raise AssertionError(f"the shell did not end; screen:\n{self.screen[-3000:]}")
            self.read(0.2)
        self.read(0.1)
        return self.proc.returncode

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        os.close(self.master)


def questions_recorded(index: Path) -> list[str]:
    with sqlite3.connect(index / "feedback.sqlite") as conn:
        return [q for (q,) in conn.execute("SELECT question FROM feedback ORDER BY rowid")]


@pytest.mark.slow
def test_shell_on_a_terminal_edits_lines_keeps_history_and_shows_bold(examples_index: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    t = Terminal(examples_index, home)
    try:
        t.expect("you> ")
        t.ask(b"How much is the fee per season for a plot?")
        assert f"{BOLD}25" in t.screen and "**" not in t.screen  # the answer word is bold, not in asterisks
        t.ask(b"who founded 01.AI?")
        assert "Kai-Fu Lee" in t.screen
        assert "\x1b]8;;https://example.org/citebot-samples/01ai-profile" in t.screen  # a clickable link
        assert any(c in t.screen for c in COLOURED)
        t.ask(b"/more")
        assert "Other sources for: who founded 01.AI?" in t.screen and "[4]" in t.screen
        t.ask(b"what is the capital of Peru?")
        assert t.screen.count("couldn't find") == 1
        t.ask(UP)  # ↑ recalls the last question; Enter asks it again
        assert t.screen.count("couldn't find") == 2
        t.ask(UP + UP + DOWN + DOWN)  # back down to an empty line: nothing is asked
        assert t.screen.count("couldn't find") == 2
        t.ask(b"/help")
        assert "/sources" in t.screen and "/more" in t.screen
        t.ask(b"/so\t")  # Tab completes the command
        assert "- Riverside community garden doubles its plots" in t.screen
        t.send(b"/quit\r")
        assert t.wait() == 0
    finally:
        t.kill()
    # Only real questions reached the index: no escape sequence, no command.
    assert questions_recorded(examples_index) == ["what is the capital of Peru?"] * 2
    assert (home / ".cache" / "citebot" / "shell-history").is_file()

    # A new session: the history is still there, NO_COLOR keeps bold but drops colours, Ctrl-C leaves.
    t = Terminal(examples_index, home, NO_COLOR="1")
    try:
        t.expect("you> ")
        t.ask(UP)
        assert "couldn't find" in t.screen
        t.ask(b"How much is the fee per season for a plot?")
        assert f"{BOLD}25" in t.screen and not any(c in t.screen for c in COLOURED)
        time.sleep(0.5)  # let the prompt settle into readline: a person does not press Ctrl-C mid-redraw
        t.send(b"\x03")
        assert t.wait() == 130
    finally:
        t.kill()
    assert questions_recorded(examples_index) == ["what is the capital of Peru?"] * 3
    assert "Traceback" not in t.screen


@pytest.mark.slow
def test_piped_shell_is_plain_and_never_asks_control_keys(examples_index: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CITEBOT_", "DISCORD_", "SLACK_"))}
    r = subprocess.run(
        [sys.executable, "-m", "bot.cli", "shell", "--index", str(examples_index)],
        input="who founded 01.AI?\n\x1b[A\n/nonsense\n/more\n", capture_output=True, text=True, env=env, cwd=ROOT,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr
    assert "Kai-Fu Lee" in r.stdout and "\x1b" not in r.stdout
    assert "control keys, not a question" in r.stdout and "Unknown command /nonsense" in r.stdout
    assert "Other sources for" in r.stdout
    assert not (examples_index / "feedback.sqlite").exists() or questions_recorded(examples_index) == []


def test_terminal_style_follows_tty_no_color_and_dumb_terminals() -> None:
    from bot.render import terminal_style

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    assert not terminal_style(io.StringIO(), {}).ansi
    assert terminal_style(Tty(), {"TERM": "xterm"}).colors
    assert terminal_style(Tty(), {"NO_COLOR": "1"}).ansi and not terminal_style(Tty(), {"NO_COLOR": "1"}).colors
    assert not terminal_style(Tty(), {"TERM": "dumb"}).ansi
