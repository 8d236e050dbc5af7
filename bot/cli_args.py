"""The `citebot` command line's grammar: every command and option, with its help text.

Only argparse here; bot/cli.py parses with it, reads Settings and runs the command.
"""
from __future__ import annotations

import argparse
from pathlib import Path


def build_parser() -> argparse.ArgumentParser:
    """`citebot`'s commands and their options (what each one does is in bot/cli.py)."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--index", metavar="DIR", type=Path, help="index folder (default: $CITEBOT_INDEX_DIR or ./citebot-index)")
    common.add_argument("-v", "--verbose", action="store_true", help="log at DEBUG level")

    p = argparse.ArgumentParser(prog="citebot", description="Answers questions from your articles, with cited snippets.")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    ing = sub.add_parser("ingest", parents=[common], help="add files, folders (recursive) or web pages to the index")
    ing.add_argument("paths", nargs="*", metavar="PATH_OR_URL")
    ing.add_argument("--collection", default="global", help="collection to add to (default: global)")
    ing.add_argument("--json", action="store_true", help="print the summary as JSON")
    ing.add_argument("--wait", type=float, default=0.0, metavar="SECONDS",
                     help="wait this long for another running ingest to finish (default: refuse at once)")
    _web_ingest_options(ing)

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

    syn = sub.add_parser("sync", parents=[common], help="fetch the folders, pages, feeds and sitemaps of citebot.toml again")
    syn.add_argument("--file", metavar="TOML", help="sources file (default: $CITEBOT_SOURCES_FILE or ./citebot.toml)")
    syn.add_argument("--every", metavar="INTERVAL", help="repeat every INTERVAL (e.g. 30m, 2h) until stopped")
    syn.add_argument("--json", action="store_true", help="print each pass's summary as JSON")
    syn.add_argument("--wait", type=float, default=0.0, metavar="SECONDS",
                     help="wait this long for another running ingest to finish (default: refuse at once)")

    sub.add_parser("shell", parents=[common], help="chat with the index in the terminal")
    sub.add_parser("run", parents=[common], help="start the chat adapters whose tokens are set (else the shell)")
    sub.add_parser("discord", parents=[common], help="run the Discord bot (needs DISCORD_TOKEN)")
    sl = sub.add_parser("slack", parents=[common], help="run the Slack app (Socket Mode, or --http)")
    sl.add_argument("--http", action="store_true", help="serve HTTP at /slack/events instead of Socket Mode")
    sl.add_argument("--port", type=int, default=None, help="HTTP port (default: $CITEBOT_SLACK_PORT or 3000)")
    web = sub.add_parser("web", parents=[common], help="serve the team's web page (default 127.0.0.1:8080; see README)")
    web.add_argument("--host", help="address to listen on (default: $CITEBOT_WEB_HOST or 127.0.0.1)")
    web.add_argument("--port", type=int, help="port (default: $CITEBOT_WEB_PORT or 8080)")
    doc = sub.add_parser("doctor", parents=[common], help="check the install, model, index and tokens (never shows their values)")
    doc.add_argument("--json", action="store_true", help="print the checks as JSON")
    return p


def _web_ingest_options(ing: argparse.ArgumentParser) -> None:
    ing.add_argument("--feed", action="append", metavar="URL", help="index every entry of this RSS or Atom feed (repeatable)")
    ing.add_argument("--sitemap", action="append", metavar="URL", help="index the pages of this sitemap or sitemap index (repeatable)")
    ing.add_argument("--include", action="append", metavar="PATTERN", help="sitemap pages: only URLs matching (repeatable)")
    ing.add_argument("--exclude", action="append", metavar="PATTERN", help="sitemap pages: skip URLs matching (repeatable)")
    ing.add_argument("--max-pages", type=int, default=None, metavar="N", help="sitemap pages: at most N")
