"""`citebot` command line: the only place that reads Settings, sets up logging and wires objects."""
from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
from pathlib import Path
from typing import Sequence

from index.errors import UserError

log = logging.getLogger("citebot")

USAGE_HINT = 'Ask a question, e.g.: citebot ask "who founded 01.AI?"'


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--index", metavar="DIR", type=Path, help="index folder (default: $CITEBOT_INDEX_DIR or ./citebot-index)")
    common.add_argument("-v", "--verbose", action="store_true", help="log at DEBUG level")

    p = argparse.ArgumentParser(prog="citebot", description="Answers questions from your articles, with cited snippets.")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    ing = sub.add_parser("ingest", parents=[common], help="add files or folders (recursive) to the index")
    ing.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    ing.add_argument("--collection", default="global", help="collection to add to (default: global)")
    ing.add_argument("--json", action="store_true", help="print the summary as JSON")
    ing.add_argument("--wait", type=float, default=0.0, metavar="SECONDS",
                     help="wait this long for another running ingest to finish (default: refuse at once)")

    ask = sub.add_parser("ask", parents=[common], help="answer a question (use - to read one per line from stdin)")
    ask.add_argument("question", nargs="*", help="the question, or - for one question per line on stdin")
    ask.add_argument("--json", action="store_true", help="print one JSON object per question")
    ask.add_argument("--collection", action="append", metavar="NAME",
                     help="search only these collections (repeatable; default: all)")

    src = sub.add_parser("sources", parents=[common], help="list the indexed articles")
    src.add_argument("--json", action="store_true")
    src.add_argument("--collection", action="append", metavar="NAME")

    fg = sub.add_parser("forget", parents=[common], help="remove an article (by source path, URL, file name or title)")
    fg.add_argument("source")
    fg.add_argument("--collection", default=None)
    fg.add_argument("--all", action="store_true", help="remove every article the name matches")

    fb = sub.add_parser("feedback", parents=[common], help="questions answered 'not found' and answers voted down")
    fb.add_argument("--json", action="store_true")
    fb.add_argument("--all", action="store_true", help="include answers voted up")
    fb.add_argument("--limit", type=int, default=50)

    sub.add_parser("shell", parents=[common], help="chat with the index in the terminal")
    sub.add_parser("run", parents=[common], help="start the chat adapters whose tokens are set (else the shell)")
    sub.add_parser("discord", parents=[common], help="run the Discord bot (needs DISCORD_TOKEN)")
    sl = sub.add_parser("slack", parents=[common], help="run the Slack app (Socket Mode, or --http)")
    sl.add_argument("--http", action="store_true", help="serve HTTP at /slack/events instead of Socket Mode")
    sl.add_argument("--port", type=int, default=None, help="HTTP port (default: $CITEBOT_SLACK_PORT or 3000)")
    return p


def _setup_logging(level: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    # Libraries that log chatty INFO/DEBUG lines (some set their own logger levels on import, so
    # a level set here would not stick): only their warnings reach the handler.
    noisy = ("sentence_transformers", "transformers", "httpx", "urllib3", "filelock", "bm25s", "faiss",
             "slack_bolt", "slack_sdk", "discord", "aiohttp.access", "onnxruntime")
    quiet = logging.Filter()
    quiet.filter = lambda r: r.levelno >= logging.WARNING or not r.name.startswith(noisy)  # type: ignore[method-assign]
    for handler in logging.getLogger().handlers:
        handler.addFilter(quiet)


class App:
    """Objects built from Settings, created lazily so `citebot --help` stays instant."""

    def __init__(self, settings, index_dir: Path) -> None:
        self.settings = settings
        self.index_dir = index_dir
        self._engine = None
        self._service = None

    @property
    def engine(self):
        """The engine over the configured index and model."""
        if self._engine is None:
            from index.embed import make_embedder
            from index.engine import Engine
            from index.rerank import CrossEncoderReranker

            s = self.settings
            self._engine = Engine(
                self.index_dir,
                make_embedder(s.embedding_model, s.embedding_backend, cache_dir=s.cache_dir),
                citations=s.citations,
                min_confidence=s.min_confidence,
                max_file_bytes=int(s.max_file_mb * 1024 * 1024),
                reranker=CrossEncoderReranker(s.rerank_model, depth=s.rerank_depth) if s.rerank_model else None,
            )
        return self._engine

    @property
    def service(self):
        """The chat service shared by every adapter."""
        if self._service is None:
            from .feedback import FeedbackStore
            from .service import CitebotService

            s = self.settings
            self._service = CitebotService(
                self.engine,
                FeedbackStore(self.index_dir / "feedback.sqlite"),
                max_question_chars=s.max_question_chars,
                rate_limit_per_minute=s.rate_limit_per_minute,
                max_upload_bytes=int(s.max_upload_mb * 1024 * 1024),
            )
        return self._service


def needs_hub(settings) -> bool:  # type: ignore[no-untyped-def]
    """Whether a configured model is neither the bundled one nor a folder on disk (so must be fetched)."""
    from index.embed import BUNDLED_NAMES

    names = [settings.embedding_model] if settings.embedding_model not in BUNDLED_NAMES else []
    names += [settings.rerank_model] if settings.rerank_model else []
    return any(not Path(n).expanduser().exists() for n in names)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `citebot` command."""
    parser = _parser()
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help()
        return 2
    from pydantic import ValidationError

    from .config import Settings

    try:
        settings = Settings()
    except ValidationError as exc:
        print(f"citebot: invalid setting: {exc}", file=sys.stderr)
        return 2
    # One-shot commands keep stderr quiet; long-running bots log at the configured level.
    level = settings.log_level if args.command in ("run", "discord", "slack") else "WARNING"
    _setup_logging("DEBUG" if args.verbose else level)
    # The bundled model is on disk: never let a library try the network for it. Only a model the
    # user named from the hub (embedding or reranker) may be downloaded, once, then cached.
    if not needs_hub(settings):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    app = App(settings, args.index or settings.index_dir)
    try:
        return COMMANDS[args.command](app, args)
    except UserError as exc:
        print(f"citebot: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def cmd_ingest(app: App, args) -> int:
    from tqdm import tqdm

    bar = None

    def progress(i: int, n: int, name: str) -> None:
        nonlocal bar
        if bar is None and n > 1:
            bar = tqdm(total=n, unit="file", file=sys.stderr, disable=None, leave=False)
        if bar is not None:
            bar.update(i - bar.n)
            bar.set_postfix_str(name[-40:], refresh=False)

    report = app.engine.ingest_paths(args.paths, collection=args.collection, progress=progress, lock_timeout=args.wait)
    if bar is not None:
        bar.close()
    if args.json:
        print(json.dumps(report.to_json(), ensure_ascii=False))
    else:
        print(
            f"{len(report.added)} added, {len(report.updated)} updated, {len(report.unchanged)} unchanged, "
            f"{len(report.skipped)} skipped — {report.passages} passages in {report.seconds:.1f} s"
        )
        for f, reason in report.skipped:
            print(f"  skipped {f}: {reason}")
    return 0 if report.ok else 1


def cmd_ask(app: App, args) -> int:
    from .render import render_text

    collections = args.collection
    if args.question == ["-"]:
        app.engine.warm_up()
        for line in sys.stdin:
            q = line.strip()
            if not q:
                continue
            try:
                ans = app.engine.ask(q, collections)
            except UserError as exc:
                print(json.dumps({"question": q, "found": False, "answer": None, "citations": [], "error": str(exc)}), flush=True)
                continue
            print(json.dumps(ans.to_json(), ensure_ascii=False) if args.json else render_text(ans) + "\n", flush=True)
        return 0
    question = " ".join(args.question).strip()
    if not question:
        print(USAGE_HINT, file=sys.stderr)
        return 2
    ans = app.engine.ask(question, collections)
    print(json.dumps(ans.to_json(), ensure_ascii=False) if args.json else render_text(ans, color=sys.stdout.isatty()))
    return 0


def cmd_sources(app: App, args) -> int:
    rows = app.engine.sources(args.collection)
    if args.json:
        print(json.dumps([r.__dict__ for r in rows], ensure_ascii=False))
    elif not rows:
        print("No articles are indexed yet: run `citebot ingest PATH`.")
    else:
        for r in rows:
            print(f"{r.title}" + (f" ({r.date})" if r.date else "") + f"  [{r.collection}, {r.passages} passages]\n    {r.url or r.source}")
            for other in r.also:
                print(f"    also at {other}")
    return 0


def cmd_forget(app: App, args) -> int:
    from index.errors import AmbiguousSourceError

    try:
        removed = app.engine.forget(args.source, args.collection, all_matches=args.all)
    except AmbiguousSourceError as exc:
        print(f"citebot: {exc}:", file=sys.stderr)
        for r in exc.matches:
            print(f"  {r.url or r.source}  ({r.title}, {r.collection})", file=sys.stderr)
        return 1
    if not removed:
        print(f"citebot: no indexed article matches '{args.source}' (see `citebot sources`)", file=sys.stderr)
        return 1
    for s in removed:
        print(f"forgot {s}")
    return 0


def cmd_feedback(app: App, args) -> int:
    from datetime import datetime, timezone

    from .feedback import FeedbackStore

    store = FeedbackStore(app.index_dir / "feedback.sqlite")
    rows = store.report(include_up=args.all, limit=args.limit)
    if args.json:
        print(json.dumps([dict(r.__dict__, kind=r.kind) for r in rows], ensure_ascii=False))
        return 0
    if not rows:
        print("No feedback yet.")
    for r in rows:
        when = datetime.fromtimestamp(r.at, timezone.utc).strftime("%Y-%m-%d %H:%M")
        print(f"{when}  {r.kind:9}  {r.platform}{':' + r.scope if r.scope else ''}  {r.question}")
        if r.answer:
            print(f"                     answered: {r.answer[:200]}")
    return 0


def cmd_shell(app: App, args) -> int:
    from .shell import run_shell

    app.engine.warm_up()
    return run_shell(app.service, stdin=sys.stdin, stdout=sys.stdout, color=sys.stdout.isatty())


def _adapters(app: App, args) -> list:
    s = app.settings
    coros = []
    if args.command in ("run", "discord"):
        if s.discord_token is None:
            if args.command == "discord":
                raise UserError("set DISCORD_TOKEN (in the environment or .env) to run the Discord bot")
        else:
            from .discord_app import serve as serve_discord

            coros.append(serve_discord(s, app.service))
    if args.command in ("run", "slack"):
        http = getattr(args, "http", False)
        if s.slack_bot_token is None or (not http and s.slack_app_token is None and s.slack_signing_secret is None):
            if args.command == "slack":
                raise UserError("set SLACK_BOT_TOKEN plus SLACK_APP_TOKEN (Socket Mode) or SLACK_SIGNING_SECRET (--http)")
        else:
            from .slack_app import serve as serve_slack

            if not http and s.slack_app_token is None:
                http = True  # only a signing secret: HTTP mode is the one that can work
            coros.append(serve_slack(s, app.service, http=http, port=getattr(args, "port", None) or s.slack_port,
                                     host=s.slack_host))
    return coros


def cmd_run(app: App, args) -> int:
    coros = _adapters(app, args)
    if not coros:
        print("No chat token is set (DISCORD_TOKEN, SLACK_BOT_TOKEN): starting the local shell.", file=sys.stderr)
        if not args.verbose:
            logging.getLogger().setLevel(logging.WARNING)  # log lines would interleave with the chat
        return cmd_shell(app, args)
    app.engine.warm_up()

    async def both() -> None:
        await asyncio.gather(*coros)

    asyncio.run(both())
    return 0


COMMANDS = {
    "ingest": cmd_ingest,
    "ask": cmd_ask,
    "sources": cmd_sources,
    "forget": cmd_forget,
    "feedback": cmd_feedback,
    "shell": cmd_shell,
    "run": cmd_run,
    "discord": cmd_run,
    "slack": cmd_run,
}


if __name__ == "__main__":
    sys.exit(main())
