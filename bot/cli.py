"""`citebot` command line: the only place that reads Settings, sets up logging and wires objects."""
from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from index import UserError

from .cli_args import build_parser

log = logging.getLogger("citebot")

USAGE_HINT = 'Ask a question, e.g.: citebot ask "who founded 01.AI?"'


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
    quiet.filter = lambda record: record.levelno >= logging.WARNING or not record.name.startswith(noisy)  # type: ignore[method-assign]
    for handler in logging.getLogger().handlers:
        handler.addFilter(quiet)


class App:
    """Objects built from Settings, created lazily so `citebot --help` stays instant."""

    def __init__(self, settings, index_dir: Path) -> None:
        self.settings = settings
        self.index_dir = index_dir
        self._engine = None
        self._service = None
        self._web = None

    @property
    def engine(self):
        """The engine over the configured index and model."""
        if self._engine is None:
            from index import CrossEncoderReranker, Engine, PassageReader, ReaderPair, SentenceReader, make_embedder

            from .progress import StepBar

            s = self.settings
            self._engine = Engine(
                self.index_dir,
                make_embedder(s.embedding_model, s.embedding_backend, cache_dir=s.cache_dir,
                              on_step=StepBar("preparing the embedding model")),
                citations=s.citations,
                min_confidence=s.min_confidence,
                max_file_bytes=int(s.max_file_mb * 1024 * 1024),
                reranker=CrossEncoderReranker(s.rerank_model, depth=s.rerank_depth) if s.rerank_model else None,
                sentence_reader={"sentence": SentenceReader, "passage": PassageReader, "both": ReaderPair}[s.reader_kind]()
                if s.reader_kind else None,
            )
        return self._engine

    @property
    def service(self):
        """The chat service shared by every adapter."""
        if self._service is None:
            from .channels import channel_store
            from .feedback import FeedbackStore
            from .service import CitebotService

            s = self.settings
            self._service = CitebotService(
                self.engine,
                FeedbackStore(self.index_dir / "feedback.sqlite"),
                max_question_chars=s.max_question_chars,
                rate_limit_per_minute=s.rate_limit_per_minute,
                max_upload_bytes=int(s.max_upload_mb * 1024 * 1024),
                channels=channel_store(s, self.index_dir),
                auto_min_confidence=s.auto_min_confidence,
                auto_per_channel_per_minute=s.auto_per_channel_per_minute,
                web=self.web,
            )
        return self._service

    @property
    def web(self):
        """Fetches web pages into the engine (chat `/ingest url:`), under the crawler's settings."""
        if self._web is None:
            from .sync import make_ingester

            self._web = make_ingester(self.engine, self.settings)
        return self._web


def needs_hub(settings) -> bool:  # type: ignore[no-untyped-def]
    """Whether a configured model is neither the bundled one nor a folder on disk (so must be fetched)."""
    from index import BUNDLED_NAMES

    names = [settings.embedding_model] if settings.embedding_model not in BUNDLED_NAMES else []
    names += [settings.rerank_model] if settings.rerank_model else []
    return any(not Path(n).expanduser().exists() for n in names)


class NoIndexError(Exception):
    """Questions asked before anything was ingested: setup is missing, not an answer (exit 2)."""


def require_index(app: App) -> None:
    """Refuse, with the folder and the command that fixes it, when the index is missing or empty.

    Without this a newcomer in the wrong folder (or with a mistyped --index) got "not found" and
    exit 0, which reads like a bad answer rather than missing setup.
    """
    folder = app.index_dir.expanduser().resolve()
    reader = app.engine.reader
    if not reader.exists:
        raise NoIndexError(f"no index in {folder}: run `citebot ingest PATH` first "
                           "(or point --index / CITEBOT_INDEX_DIR at an existing index)")
    if reader.size == 0:
        raise NoIndexError(f"the index in {folder} holds no articles: run `citebot ingest PATH` to add some")


def settings_error(exc) -> str:  # type: ignore[no-untyped-def]
    """A pydantic ValidationError as one line: each bad setting by its variable name, never its value."""
    parts = []
    for err in exc.errors():
        name = ".".join(str(x) for x in err.get("loc", ())) or "setting"
        parts.append(f"{name}: {err.get('msg', 'invalid value')}")
    return "invalid setting " + "; ".join(parts) + " (see .env.example)"


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `citebot` command: no traceback reaches the user (pipe closed, Ctrl-C, a bug)."""
    try:
        code = _main(argv)
        sys.stdout.flush()  # a reader that closed the pipe early shows up here when the output was small
        return code
    except KeyboardInterrupt:
        print(file=sys.stderr)
        return 130
    except BrokenPipeError:
        # `citebot sources --json | head`: the reader has what it wanted. Point stdout at devnull so
        # the interpreter's own flush at exit does not complain a second time.
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141  # 128 + SIGPIPE, what a shell reports for a command a closed pipe ended
    except Exception as exc:  # noqa: BLE001 - before a command runs (arguments, settings, logging)
        print(f"citebot: unexpected error ({type(exc).__name__}); run again with -v for details", file=sys.stderr)
        return 1


def _main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help()
        return 2
    from pydantic import ValidationError

    from .config import Settings

    try:
        settings = Settings()
    except ValidationError as exc:
        print(f"citebot: {settings_error(exc)}", file=sys.stderr)
        return 2
    # One-shot commands keep stderr quiet; long-running bots log at the configured level.
    level = settings.log_level if args.command in ("run", "discord", "slack", "web") else "WARNING"
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
        print(file=sys.stderr)
        return 130
    except NoIndexError as exc:
        print(f"citebot: {exc}", file=sys.stderr)
        return 2
    except (BrokenPipeError, SystemExit):
        raise
    except Exception as exc:  # noqa: BLE001 - a bug must not greet the user with a traceback
        log.debug("unexpected error", exc_info=True)
        print(f"citebot: unexpected error ({type(exc).__name__}: {exc}); run again with -v for details", file=sys.stderr)
        if args.verbose:
            import traceback

            traceback.print_exc()
        return 1


def cmd_ingest(app: App, args) -> int:
    from tqdm import tqdm

    from .sync import cmd_ingest_web, is_url

    if not args.paths and not args.feed and not args.sitemap:
        print("citebot: name files, folders or URLs to ingest (or --feed URL, --sitemap URL)", file=sys.stderr)
        return 2
    if args.feed or args.sitemap or any(is_url(p) for p in args.paths):
        return cmd_ingest_web(app, args)

    bar = None

    def progress(i: int, n: int, name: str) -> None:
        nonlocal bar
        if bar is None and n > 1:
            bar = tqdm(total=n, unit="file", file=sys.stderr, disable=None, leave=False, desc="ingesting")
        if bar is not None:
            step = i - bar.n
            bar.update(step)
            # A new stage (embedding, building the index) is shown at once; file names as the bar redraws.
            bar.set_postfix_str(name[-40:], refresh=step == 0)

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
        _hint_nothing_found(args.paths, report)
    return 0 if report.ok else 1


def _hint_nothing_found(paths, report) -> None:  # type: ignore[no-untyped-def]
    """Say which file types are looked for when the folders named held none of them."""
    from index import SUPPORTED_SUFFIXES

    if report.added or report.updated or report.unchanged or report.skipped:
        return
    folders = [str(p) for p in paths if Path(p).is_dir()]
    if folders:
        print(f"citebot: no supported file found in {', '.join(folders)} "
              f"(citebot looks for {', '.join(SUPPORTED_SUFFIXES)} files, in subfolders too)", file=sys.stderr)


def cmd_ask(app: App, args) -> int:
    from .render import render_text, terminal_style

    collections = args.collection
    if args.question == ["-"]:
        from .asklines import answer_lines

        require_index(app)
        app.engine.warm_up()
        # One line in, one line out (JSON objects with a "conversation" id form conversations):
        # no line's failure ends the run; each gets its error line.
        answer_lines(sys.stdin, lambda q, turns: app.engine.ask(q, collections, conversation=turns),
                     lambda text: print(text, flush=True), as_json=args.json, render=render_text)
        return 0
    question = " ".join(args.question).strip()
    if not question:
        print(USAGE_HINT, file=sys.stderr)
        return 2
    require_index(app)
    ans = app.engine.ask(question, collections)
    print(json.dumps(ans.to_json(), ensure_ascii=False) if args.json else render_text(ans, style=terminal_style(sys.stdout)))
    return 0


def cmd_sources(app: App, args) -> int:
    from .render.common import date_label

    rows = app.engine.sources(args.collection)
    if args.json:
        print(json.dumps([r.__dict__ for r in rows], ensure_ascii=False))
    elif not rows:
        print("No articles are indexed yet: run `citebot ingest PATH`.")
    else:
        for r in rows:
            label = date_label(r)
            print(f"{r.title}" + (f" ({label})" if label else "") + f"  [{r.collection}, {r.passages} passages]\n    {r.url or r.source}")
            for other in r.also:
                print(f"    also at {other}")
    return 0


def cmd_forget(app: App, args) -> int:
    from index import AmbiguousSourceError

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
            label = "not posted" if r.kind == "unanswered" else "answered"  # below the help-channel threshold
            print(f"                     {label}: {r.answer[:200]}")
    return 0


def cmd_shell(app: App, args) -> int:
    from .render import terminal_style
    from .shell import default_history_file, run_shell

    require_index(app)
    app.engine.warm_up()
    return run_shell(app.service, stdin=sys.stdin, stdout=sys.stdout, style=terminal_style(sys.stdout),
                     history_file=default_history_file())


def _adapters(app: App, args) -> list:
    s = app.settings
    coros = []
    if args.command in ("run", "discord"):
        if s.discord_token is None:
            if args.command == "discord":
                raise UserError("set DISCORD_TOKEN (in the environment or .env) to run the Discord bot")
        else:
            from .discord.app import serve as serve_discord

            coros.append(serve_discord(s, app.service))
    if args.command in ("run", "slack"):
        http = getattr(args, "http", False)
        if s.slack_bot_token is None or (not http and s.slack_app_token is None and s.slack_signing_secret is None):
            if args.command == "slack":
                raise UserError("set SLACK_BOT_TOKEN plus SLACK_APP_TOKEN (Socket Mode) or SLACK_SIGNING_SECRET (--http)")
        else:
            from .slack.app import serve as serve_slack

            if not http and s.slack_app_token is None:
                http = True  # only a signing secret: HTTP mode is the one that can work
            coros.append(serve_slack(s, app.service, http=http, port=getattr(args, "port", None) or s.slack_port,
                                     host=s.slack_host))
    return coros


def _adapters_configured(s) -> bool:  # type: ignore[no-untyped-def]
    """Whether `citebot run` would start a chat adapter rather than the shell."""
    return s.discord_token is not None or s.slack_bot_token is not None


def cmd_run(app: App, args) -> int:
    if args.command == "run" and not _adapters_configured(app.settings) and not app.settings.web_port and not args.verbose:
        # Only the shell will start: a person chatting sees no log lines ("opened index generation …").
        logging.getLogger().setLevel(logging.WARNING)
    try:
        require_index(app)
    except NoIndexError as exc:
        if args.command != "run" or _adapters_configured(app.settings):
            if app.settings.sync_every:
                # The in-process sync is about to fill the index: start, but say why answers are empty.
                log.warning("%s; CITEBOT_SYNC_EVERY is set, so the bots start and the first sync fills it", exc)
            else:
                log.error("%s", exc)  # the bots' startup log says it, in the log's own format
                return 2
        else:
            raise
    from .web import web_coroutines

    coros = _adapters(app, args) + (web_coroutines(app) if args.command == "run" else [])  # CITEBOT_WEB_PORT
    if not coros:
        print("No chat token is set (DISCORD_TOKEN, SLACK_BOT_TOKEN): starting the local shell.", file=sys.stderr)
        if not args.verbose:
            logging.getLogger().setLevel(logging.WARNING)  # log lines would interleave with the chat
        return cmd_shell(app, args)
    app.engine.warm_up()
    from .sync import sync_coroutines

    coros += sync_coroutines(app)  # CITEBOT_SYNC_EVERY: keep citebot.toml's sources fresh in-process

    async def both() -> None:
        await asyncio.gather(*coros)

    asyncio.run(both())
    return 0


def cmd_doctor(app: App, args) -> int:
    """Print what is installed, configured and indexed; exit 1 when a check failed."""
    from .doctor import Status, diagnose, render

    checks = diagnose(app.settings, app.index_dir, lambda: app.engine)
    if args.json:
        print(json.dumps([c.to_json() for c in checks], ensure_ascii=False))
    else:
        print(render(checks))
    return 1 if any(c.status is Status.FAIL for c in checks) else 0


def cmd_web(app: App, args) -> int:
    """The team's web page (bot/web)."""
    from .web import cmd_web as web

    return web(app, args)


def cmd_sync(app: App, args) -> int:
    """One pass (or a loop with --every) over the sources file."""
    from .sync import cmd_sync as sync

    return sync(app, args)


COMMANDS = {
    "ingest": cmd_ingest,
    "ask": cmd_ask,
    "sources": cmd_sources,
    "forget": cmd_forget,
    "feedback": cmd_feedback,
    "sync": cmd_sync,
    "shell": cmd_shell,
    "run": cmd_run,
    "discord": cmd_run,
    "slack": cmd_run,
    "doctor": cmd_doctor,
    "web": cmd_web,
}


if __name__ == "__main__":
    sys.exit(main())
