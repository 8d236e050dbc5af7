"""The shell keeps the thread (issue 29): consecutive questions are one conversation, /new starts over,
and a person chatting sees no log lines."""
from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

from bot.shell import NEW_CONVERSATION, run_shell
from tests.conftest import ROOT


def chat(service, *lines: str) -> str:
    out = io.StringIO()
    assert run_shell(service, stdin=io.StringIO("\n".join(lines) + "\n"), stdout=out) == 0
    return out.getvalue()


def test_a_follow_up_is_read_with_the_question_before_until_new(service) -> None:
    screen = chat(service, "who founded 01.AI?", "what were its first models called?", "/new",
                  "what were its first models called?", "what is Sora?", "who made it?")
    first, after_new = screen.split(NEW_CONVERSATION)
    assert "Kai-Fu Lee" in first
    assert "(Reading this as: what were 01.AI's first models called?)" in first and "Yi" in first
    # After /new the same words are a question of their own (read alone); "what is Sora?" names
    # its own subject, and the follow-up after it is read with it.
    assert [line for line in after_new.splitlines() if "Reading this as" in line] == ["(Reading this as: who made Sora?)"]


def test_shell_started_by_run_shows_no_log_lines(examples_index: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CITEBOT_", "DISCORD_", "SLACK_"))}
    r = subprocess.run([sys.executable, "-m", "bot.cli", "run", "--index", str(examples_index)],
                       input="who founded 01.AI?\n/quit\n", capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)
    assert r.returncode == 0, r.stderr
    screen = r.stdout + r.stderr
    assert "Kai-Fu Lee" in r.stdout
    assert "INFO" not in screen and "opened index generation" not in screen
