"""`citebot doctor`: what is installed, configured and indexed, each with a check — never a token's value.

The first thing to ask a user who reports a problem. Everything is checked locally: tokens are
checked for their documented shape only (no request leaves the machine).
"""
from __future__ import annotations

import platform
import re
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

from index import UserError


class Status(str, Enum):
    """How a check came out."""

    OK = "ok"
    WARN = "warn"
    FAIL = "fail"
    INFO = "info"


@dataclass(frozen=True)
class Check:
    """One line of the report."""

    name: str
    status: Status
    detail: str

    def to_json(self) -> dict[str, str]:
        """The `--json` entry."""
        return {"name": self.name, "status": self.status.value, "detail": self.detail}


# Documented token shapes: Discord bot tokens are three base64url parts joined by dots; Slack bot
# tokens start xoxb-, app-level tokens xapp-, and signing secrets are 32 hex characters.
TOKEN_SHAPES: dict[str, tuple[str, re.Pattern[str], str]] = {
    "discord_token": ("DISCORD_TOKEN", re.compile(r"^[\w-]{20,}\.[\w-]{4,}\.[\w-]{20,}$"), "three dot-separated parts"),
    "slack_bot_token": ("SLACK_BOT_TOKEN", re.compile(r"^xoxb-[\w-]+$"), "starts with xoxb-"),
    "slack_app_token": ("SLACK_APP_TOKEN", re.compile(r"^xapp-[\w-]+$"), "starts with xapp-"),
    "slack_signing_secret": ("SLACK_SIGNING_SECRET", re.compile(r"^[0-9a-f]{32}$"), "32 hex characters"),
}


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("citebot")
    except PackageNotFoundError:
        return "unknown (running from a source folder, not installed)"


def _folder_bytes(folder: Path) -> int:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())


def _size(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GB"


def diagnose(settings: Any, index_dir: Path, engine_factory: Callable[[], Any]) -> list[Check]:
    """Every check, in the order printed. `engine_factory` builds the engine (loads nothing yet)."""
    checks = [
        Check("citebot", Status.INFO, _version()),
        Check("python", Status.INFO, f"{platform.python_version()} ({sys.executable}) on {platform.system()} {platform.machine()}"),
    ]
    engine = engine_factory()
    emb = engine.embedder
    t0 = time.perf_counter()
    try:
        vec = emb.encode(["citebot doctor"])
        backend = getattr(emb, "backend", "?")
        # Asked for ONNX but running torch: the export failed (the log said why); answers still work.
        status = Status.WARN if settings.embedding_backend == "onnx" and backend == "torch" else Status.OK
        checks.append(Check("model", status, f"{settings.embedding_model} on {backend} (configured: "
                                             f"{settings.embedding_backend}), {vec.shape[1]} dimensions, "
                                             f"loaded in {time.perf_counter() - t0:.1f} s"))
    except Exception as exc:  # noqa: BLE001 - the report must go on to the other checks
        checks.append(Check("model", Status.FAIL, f"{settings.embedding_model} does not load: {exc}"))
    sentence_reader = engine.sentence_reader
    if sentence_reader is None:
        checks.append(Check("reader", Status.INFO, "off (CITEBOT_READER=off; the default is on): the embedding model's "
                                                   "signals choose the quote"))
    else:
        t0 = time.perf_counter()
        chosen = getattr(settings, "reader", "on")
        setting = "CITEBOT_READER=on, the default" if chosen == "on" else f"CITEBOT_READER={chosen}"
        kind = getattr(sentence_reader, "kind", "sentence")
        which = "the sentence and passage readers" if kind == "both" else f"the {kind} reader"
        try:
            sentence_reader.warm_up()
            paths = getattr(sentence_reader, "onnx_paths", None) or (sentence_reader.onnx_path,)
            size = sum(p.stat().st_size for p in paths)
            checks.append(Check("reader", Status.OK, f"on ({setting}): {which}, {size / 1e6:.1f} MB int8, "
                                                     "checked (sha256, word table), "
                                                     f"loaded in {time.perf_counter() - t0:.1f} s"))
        except UserError as exc:
            checks.append(Check("reader", Status.FAIL, str(exc)))
    if settings.rerank_model:
        checks.append(Check("reranker", Status.INFO, f"{settings.rerank_model} (depth {settings.rerank_depth})"))

    folder = index_dir.expanduser().resolve()
    try:
        reader = engine.reader
        if not reader.exists:
            checks.append(Check("index", Status.FAIL, f"no index in {folder}: run `citebot ingest PATH`"))
        else:
            sources = engine.sources()
            status = Status.OK if reader.size else Status.FAIL
            checks.append(Check("index", status, f"{folder}: generation {reader.generation}, {len(sources)} articles, "
                                                 f"{reader.size} passages ({reader.kind}), {_size(_folder_bytes(folder))} on disk"
                                                 + ("" if reader.size else " — empty: run `citebot ingest PATH`")))
    except UserError as exc:
        checks.append(Check("index", Status.FAIL, f"{folder}: {exc}"))

    for field, (env, shape, rule) in TOKEN_SHAPES.items():
        secret = getattr(settings, field, None)
        if secret is None:
            checks.append(Check(env, Status.INFO, "not set"))
            continue
        ok = bool(shape.match(secret.get_secret_value().strip()))
        checks.append(Check(env, Status.OK if ok else Status.FAIL,
                            "set, looks right" if ok else f"set, but does not look like one ({rule}); check for a copy-paste slip"))
    discord = settings.discord_token is not None
    slack = settings.slack_bot_token is not None and (settings.slack_app_token or settings.slack_signing_secret) is not None
    if settings.slack_bot_token is not None and not slack:
        checks.append(Check("slack", Status.FAIL, "SLACK_BOT_TOKEN needs SLACK_APP_TOKEN (Socket Mode) or SLACK_SIGNING_SECRET (HTTP)"))
    starts = [n for n, on in (("Discord", discord), ("Slack", slack)) if on] or ["the local shell"]
    checks.append(Check("citebot run", Status.INFO, "would start " + " and ".join(starts)))
    return checks


def render(checks: list[Check]) -> str:
    """The report as aligned lines: a mark, the name, the detail."""
    marks = {Status.OK: "ok  ", Status.WARN: "warn", Status.FAIL: "FAIL", Status.INFO: "    "}
    width = max(len(c.name) for c in checks)
    return "\n".join(f"{marks[c.status]}  {c.name:<{width}}  {c.detail}" for c in checks)
