"""The `citebot` command as a user and scripts run it: real process, real model, real index."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import EXAMPLES, ROOT

CITATION_KEYS = {"n", "title", "date", "url", "source", "snippet", "start", "end", "score"}


def run(*args: str, stdin: str | None = None, env: dict | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Run `citebot ARGS` in a fresh process, as a user would."""
    e = {k: v for k, v in os.environ.items() if not k.startswith(("CITEBOT_", "DISCORD_", "SLACK_"))}
    e.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args], input=stdin, capture_output=True, text=True,
        env=e, cwd=cwd or ROOT, timeout=300,
    )


def test_ingest_then_ask_json_contract(tmp_path: Path) -> None:
    ix = str(tmp_path / "ix")
    r = run("ingest", "--index", ix, str(EXAMPLES))
    assert r.returncode == 0, r.stderr
    assert "4 added" in r.stdout
    r = run("ask", "--index", ix, "--json", "who founded 01.AI?")
    assert r.returncode == 0, r.stderr
    obj = json.loads(r.stdout)
    assert {"question", "found", "answer", "citations"} <= set(obj)
    assert obj["question"] == "who founded 01.AI?" and obj["found"] is True
    assert isinstance(obj["answer"], str) and obj["answer"]
    assert 1 <= len(obj["citations"]) <= 3
    for i, c in enumerate(obj["citations"], 1):
        assert CITATION_KEYS <= set(c)
        assert c["n"] == i
        src = Path(c["source"])
        assert src.is_file()
        assert c["snippet"]
    assert any(obj["answer"] in c["snippet"] for c in obj["citations"])


def test_ask_reads_questions_from_stdin_one_json_per_line(tmp_path: Path) -> None:
    ix = str(tmp_path / "ix")
    assert run("ingest", "--index", ix, str(EXAMPLES)).returncode == 0
    r = run("ask", "--index", ix, "--json", "-", stdin="who founded 01.AI?\n\nWhen did OpenAI unveil Sora?\nhow do I bake sourdough bread?\n")
    assert r.returncode == 0, r.stderr
    lines = [json.loads(x) for x in r.stdout.splitlines()]
    assert [x["question"] for x in lines] == ["who founded 01.AI?", "When did OpenAI unveil Sora?", "how do I bake sourdough bread?"]
    assert [x["found"] for x in lines] == [True, True, False]
    assert lines[2]["answer"] is None and lines[2]["citations"] == []


def test_plain_ask_reads_like_chat_and_not_found_is_plain(tmp_path: Path) -> None:
    ix = str(tmp_path / "ix")
    run("ingest", "--index", ix, str(EXAMPLES))
    r = run("ask", "--index", ix, "When did OpenAI unveil Sora?")
    assert r.returncode == 0
    assert r.stdout.startswith("> ") and "Sora" in r.stdout and "[1] OpenAI shows Sora" in r.stdout
    r = run("ask", "--index", ix, "what is the capital of Peru?")
    assert "I couldn't find that in the indexed articles" in r.stdout


def test_empty_question_gets_usage_hint_exit_2(tmp_path: Path) -> None:
    r = run("ask", "--index", str(tmp_path / "ix"), "")
    assert r.returncode == 2
    assert "citebot ask" in r.stderr and "Traceback" not in r.stderr


def test_ingest_exit_codes_and_skip_reasons(tmp_path: Path) -> None:
    bad = tmp_path / "bad.pdf"
    bad.write_bytes(b"%PDF-1.4 truncated")
    ix = str(tmp_path / "ix")
    r = run("ingest", "--index", ix, str(EXAMPLES), str(bad))
    assert r.returncode == 1
    assert "skipped" in r.stdout and "bad.pdf" in r.stdout and "Traceback" not in r.stderr
    r = run("ingest", "--index", ix, str(EXAMPLES))
    assert r.returncode == 0 and "4 unchanged" in r.stdout
    assert run("ingest").returncode == 2  # usage error: no PATH


def test_sources_and_forget(tmp_path: Path) -> None:
    ix = str(tmp_path / "ix")
    run("ingest", "--index", ix, str(EXAMPLES))
    rows = json.loads(run("sources", "--index", ix, "--json").stdout)
    assert len(rows) == 4 and {"source", "title", "date", "url", "collection"} <= set(rows[0])
    r = run("forget", "--index", ix, "community-garden-2024-05-12.txt")
    assert r.returncode == 0 and "forgot" in r.stdout
    rows = json.loads(run("sources", "--index", ix, "--json").stdout)
    assert len(rows) == 3
    assert run("forget", "--index", ix, "nothing-like-this.txt").returncode == 1


def test_index_dir_from_environment(tmp_path: Path) -> None:
    env = {"CITEBOT_INDEX_DIR": str(tmp_path / "envix")}
    assert run("ingest", str(EXAMPLES / "community-garden-2024-05-12.txt"), env=env).returncode == 0
    assert (tmp_path / "envix" / "CURRENT").is_file()
    r = run("ask", "--json", "How much is the fee per season for a plot?", env=env)
    assert json.loads(r.stdout)["found"] is True


def test_run_without_tokens_falls_back_to_the_shell(tmp_path: Path) -> None:
    ix = str(tmp_path / "ix")
    run("ingest", "--index", ix, str(EXAMPLES))
    r = run("run", "--index", ix, stdin="who founded 01.AI?\n/quit\n")
    assert r.returncode == 0, r.stderr
    assert "starting the local shell" in r.stderr
    assert "> " in r.stdout and "Kai-Fu Lee" in r.stdout and "[1]" in r.stdout


def test_env_file_is_read_never_written(tmp_path: Path) -> None:
    envfile = tmp_path / ".env"
    envfile.write_text(f"CITEBOT_INDEX_DIR={tmp_path / 'dotenvix'}\n")
    before = envfile.read_bytes()
    r = run("ingest", str(EXAMPLES / "community-garden-2024-05-12.txt"), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "dotenvix" / "CURRENT").exists()
    assert envfile.read_bytes() == before


def test_env_example_documents_every_setting() -> None:
    """Settings' names are a contract: each one a user can set is shown, with a comment, in .env.example."""
    from bot.config import Settings

    lines = (ROOT / ".env.example").read_text().splitlines()
    names = set()
    for field in Settings.model_fields.values():
        alias = field.validation_alias
        names.update(alias.choices if hasattr(alias, "choices") else [alias])
    for name in sorted(n for n in names if n != "PORT"):
        at = next((i for i, line in enumerate(lines) if line.startswith(f"{name}=")), None)
        assert at is not None, f"{name} is missing from .env.example"
        while at > 0 and re.match(r"[A-Z_]+=", lines[at - 1]):  # settings grouped under one comment
            at -= 1
        assert at > 0 and lines[at - 1].startswith("#"), f"{name} has no comment above it"


# --- errors a newcomer meets (issue 17) -----------------------------------------------------------


@pytest.mark.parametrize("cmd", [["ask", "who founded 01.AI?"], ["ask", "-"], ["shell"], ["run"]])
def test_no_index_is_one_line_naming_the_folder_and_ingest_exit_2(tmp_path: Path, cmd: list[str]) -> None:
    missing = tmp_path / "no-such-index"
    r = run(*cmd, "--index", str(missing), stdin="who founded 01.AI?\n")
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and str(missing) in lines[0] and "citebot ingest" in lines[0]
    assert "couldn't find" not in r.stdout  # missing setup is not an answer


def test_bots_refuse_to_start_without_an_index_in_their_log(tmp_path: Path) -> None:
    r = run("discord", "--index", str(tmp_path / "ix"), env={"DISCORD_TOKEN": "not-a-real-token"})
    assert r.returncode == 2
    assert "ERROR" in r.stderr and "citebot ingest" in r.stderr and "Traceback" not in r.stderr
    assert "not-a-real-token" not in r.stderr


def test_empty_index_says_so(tmp_path: Path) -> None:
    ix = tmp_path / "ix"
    assert run("ingest", "--index", str(ix), str(EXAMPLES / "community-garden-2024-05-12.txt")).returncode == 0
    assert run("forget", "--index", str(ix), "community-garden-2024-05-12.txt").returncode == 0
    r = run("ask", "--index", str(ix), "How much is a plot?")
    assert r.returncode == 2 and "holds no articles" in r.stderr and "citebot ingest" in r.stderr


def test_ingest_of_a_folder_without_supported_files_names_the_extensions(tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "notes.docx").write_bytes(b"PK\x03\x04")
    r = run("ingest", "--index", str(tmp_path / "ix"), str(folder))
    assert "0 added" in r.stdout
    assert "no supported file" in r.stderr and ".md" in r.stderr and ".pdf" in r.stderr and ".html" in r.stderr


def test_closed_pipe_ends_quietly(tmp_path: Path) -> None:
    ix = str(tmp_path / "ix")
    assert run("ingest", "--index", ix, str(EXAMPLES)).returncode == 0
    e = {k: v for k, v in os.environ.items() if not k.startswith(("CITEBOT_", "DISCORD_", "SLACK_"))}
    # As `citebot sources --json | head` when head has read enough: the reader is gone before the write.
    proc = subprocess.Popen([sys.executable, "-m", "bot.cli", "sources", "--json", "--index", ix],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=e, cwd=ROOT)
    proc.stdout.close()  # closed before anything is written
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 141
    assert "Traceback" not in err and "BrokenPipe" not in err


@pytest.mark.parametrize("env, name", [({"CITEBOT_CITATIONS": "many"}, "CITEBOT_CITATIONS"),
                                       ({"CITEBOT_EMBEDDING_BACKEND": "onxx"}, "CITEBOT_EMBEDDING_BACKEND"),
                                       ({"CITEBOT_READER": "maybe"}, "CITEBOT_READER")])
def test_bad_setting_is_one_line_exit_2(tmp_path: Path, env: dict, name: str) -> None:
    r = run("ask", "--index", str(tmp_path), "q", env=env)
    assert r.returncode == 2
    assert len(r.stderr.strip().splitlines()) == 1 and name in r.stderr and "Traceback" not in r.stderr


def test_ctrl_c_exits_130_without_traceback(tmp_path: Path) -> None:
    import signal
    import time

    ix = str(tmp_path / "ix")
    assert run("ingest", "--index", ix, str(EXAMPLES)).returncode == 0
    e = {k: v for k, v in os.environ.items() if not k.startswith(("CITEBOT_", "DISCORD_", "SLACK_"))}
    proc = subprocess.Popen([sys.executable, "-m", "bot.cli", "ask", "--index", ix, "-"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=e, cwd=ROOT)
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write("who founded 01.AI?\n")
    proc.stdin.flush()
    assert "Kai-Fu Lee" in proc.stdout.readline() + proc.stdout.readline()  # answering, waiting for more
    time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "Traceback" not in err


def test_doctor_reports_versions_backend_index_and_tokens_without_their_values(tmp_path: Path) -> None:
    ix = str(tmp_path / "ix")
    assert run("ingest", "--index", ix, str(EXAMPLES)).returncode == 0
    secret_bot, secret_sign = "xoxb-1234-secretvalue", "0123456789abcdef0123456789abcdef"
    r = run("doctor", "--index", ix, env={"SLACK_BOT_TOKEN": secret_bot, "SLACK_SIGNING_SECRET": secret_sign,
                                          "DISCORD_TOKEN": "pasted-the-client-secret"})
    out = r.stdout
    assert secret_bot not in out + r.stderr and secret_sign not in out + r.stderr and "pasted-the-client" not in out
    assert "Python" in out or "python" in out
    assert re.search(r"ok\s+model\s+sentence-transformers/all-MiniLM-L6-v2 on (onnx-int8|torch)", out)
    assert re.search(r"ok\s+index\s+.*generation gen-\d+, 4 articles", out)
    assert re.search(r"ok\s+reader\s+on \(CITEBOT_READER=on, the default\)", out)
    assert re.search(r"FAIL\s+DISCORD_TOKEN\s+set, but does not look like one", out)
    assert re.search(r"ok\s+SLACK_BOT_TOKEN\s+set", out) and re.search(r"SLACK_APP_TOKEN\s+not set", out)
    assert r.returncode == 1  # the malformed Discord token is a failed check

    r = run("doctor", "--json", "--index", str(tmp_path / "elsewhere"))
    checks = {c["name"]: c for c in json.loads(r.stdout)}
    assert checks["index"]["status"] == "fail" and "citebot ingest" in checks["index"]["detail"]
    assert checks["DISCORD_TOKEN"]["detail"] == "not set" and r.returncode == 1


def test_the_reader_is_on_by_default_and_a_setting_turns_it_off(tmp_path: Path) -> None:
    ix = str(tmp_path / "ix")
    assert run("ingest", "--index", ix, str(EXAMPLES)).returncode == 0
    off = json.loads(run("ask", "--index", ix, "--json", "who founded 01.AI?", env={"CITEBOT_READER": "off"}).stdout)
    r = run("ask", "--index", ix, "--json", "who founded 01.AI?")
    on = json.loads(r.stdout)
    assert on["found"] and off["found"] and "Kai-Fu Lee" in on["answer"] and "Kai-Fu Lee" in off["answer"]
    # The two paths decide with different confidences (the reader's own, or the embedding signals').
    assert on["confidence"] != off["confidence"]
    checks = {c["name"]: c for c in json.loads(run("doctor", "--json", "--index", ix).stdout)}
    assert checks["reader"]["status"] == "ok" and checks["reader"]["detail"].startswith("on (CITEBOT_READER=on, the default)")
    checks = {c["name"]: c for c in json.loads(run("doctor", "--json", "--index", ix, env={"CITEBOT_READER": "off"}).stdout)}
    assert checks["reader"]["status"] == "info" and checks["reader"]["detail"].startswith("off (CITEBOT_READER=off")
    for name in ("sentence", "passage"):  # either reader by name
        checks = {c["name"]: c for c in json.loads(run("doctor", "--json", "--index", ix, env={"CITEBOT_READER": name}).stdout)}
        assert checks["reader"]["status"] == "ok"
        assert checks["reader"]["detail"].startswith(f"on (CITEBOT_READER={name}): the {name} reader")
    checks = {c["name"]: c for c in json.loads(run("doctor", "--json", "--index", ix, env={"CITEBOT_READER": "both"}).stdout)}
    assert checks["reader"]["status"] == "ok"
    assert checks["reader"]["detail"].startswith("on (CITEBOT_READER=both): the sentence and passage readers")
    both = json.loads(run("ask", "--index", ix, "--json", "who founded 01.AI?", env={"CITEBOT_READER": "both"}).stdout)
    assert both["found"] and "Kai-Fu Lee" in both["answer"]


def test_first_run_is_quiet_with_one_summary_line_when_not_a_terminal(tmp_path: Path) -> None:
    """A fresh model cache: the one-time ONNX export says what it did in one line, and no library warning shows."""
    pytest.importorskip("onnxruntime")
    r = run("ingest", "--index", str(tmp_path / "ix"), str(EXAMPLES), env={"CITEBOT_CACHE_DIR": str(tmp_path / "onnx")})
    assert r.returncode == 0, r.stderr
    assert r.stderr.strip().splitlines() == [r.stderr.strip().splitlines()[0]]  # exactly one line
    assert "preparing the embedding model" in r.stderr and re.search(r"in \d+\.\d s", r.stderr)
    assert "Warning" not in r.stderr and "incorrect results" not in r.stderr and "pre-processing" not in r.stderr
    assert "4 added" in r.stdout
