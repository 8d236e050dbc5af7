"""How long citebot's chat replies are, before and after the compact layout; and the unasked-answer threshold.

    python bench/reply_length.py                       # reply lengths, every part A question
    python bench/reply_length.py --fit                 # also fit CITEBOT_AUTO_MIN_CONFIDENCE → bot/auto_confidence.json

Reply length: every SQuAD v1.1 dev part A question is asked once (the index over all 24 articles,
citebot's default settings) and its reply rendered by today's renderers and by the renderers of
`--before` (a git commit, read with `git show`, nothing checked out). A reply's length is what a
reader is shown: Discord, the message content plus the embed characters Discord counts toward its
6,000 limit; Slack, the text of every block (section, context) — buttons excluded in both.
The script also checks nothing needed to check an answer was lost: the quote's article is named
in the compact reply and its passage (with the answer sentence) is in "Show passages".

Unasked-answer threshold (`--fit`): a help channel gets questions the articles answer and questions
they don't, so the threshold is chosen on both, as bench/quality.py does: the index of one half of
the articles (A1 / A2) gets its own questions (an answer counts when the quoted sentence holds a gold
answer) and the other half's questions (any answer is wrong). The chosen threshold is the lowest
confidence, not below the /ask threshold, at which at least `--precision` of the answers citebot
would post are right, on both halves together (fixed seed, equal numbers of both kinds).
"""
from __future__ import annotations

import argparse
import datetime
import hashlib
import importlib
import json
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from quality import DEFAULT_DATA, OUT, _contains, _key, build_engine, load_squad, questions  # noqa: E402

from index import DEFAULT_MIN_CONFIDENCE, Answer, Engine, make_embedder  # noqa: E402

AUTO_FILE = ROOT / "bot" / "auto_confidence.json"
RENDER_FILES = ("bot/__init__.py", "bot/render/__init__.py", "bot/render/common.py",
                "bot/render/discord.py", "bot/render/slack.py", "bot/render/text.py")
# Since issue 16 each platform's renderer lives in its own folder beside its app.
RENDER_FILES_16 = ("bot/__init__.py", "bot/render/__init__.py", "bot/render/common.py", "bot/render/text.py",
                   "bot/discord/__init__.py", "bot/discord/render.py", "bot/slack/__init__.py", "bot/slack/render.py")


def renderers_at(commit: str, into: Path) -> tuple[ModuleType, ModuleType]:
    """The Discord and Slack render modules as they were at `commit`, importable beside today's."""
    pkg = into / "before_bot"
    split = subprocess.run(["git", "-C", str(ROOT), "cat-file", "-e", f"{commit}:bot/discord/render.py"],
                           capture_output=True).returncode == 0
    for f in RENDER_FILES_16 if split else RENDER_FILES:
        text = subprocess.run(["git", "-C", str(ROOT), "show", f"{commit}:{f}"], check=True,
                              capture_output=True, text=True).stdout
        dest = pkg / Path(f).relative_to("bot")
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_text(text, encoding="utf-8")
    sys.path.insert(0, str(into))
    if split:
        return importlib.import_module("before_bot.discord.render"), importlib.import_module("before_bot.slack.render")
    return importlib.import_module("before_bot.render.discord"), importlib.import_module("before_bot.render.slack")


def discord_length(reply: Any, render: ModuleType) -> int:
    """Characters a Discord reader is shown: content plus what Discord counts in the embeds."""
    return len(reply.content or "") + sum(render.embed_length(e) for e in reply.embeds)


def slack_length(msg: Any) -> int:
    """Characters a Slack reader is shown: the text of every section and context block."""
    n = 0
    for b in msg.blocks:
        if b.get("type") == "section":
            n += len((b.get("text") or {}).get("text") or "")
        elif b.get("type") == "context":
            n += sum(len(e.get("text") or "") for e in b.get("elements") or ())
    return n


def lengths(answers: Sequence[Answer], discord: ModuleType, slack: ModuleType) -> dict[str, float]:
    """Mean / median / max reply length of found answers, per platform (not-found replies counted apart)."""
    found = [a for a in answers if a.found]
    d = [discord_length(discord.render_answer(a, question=a.question), discord) for a in found]
    s = [slack_length(slack.render_answer(a, question=a.question)) for a in found]
    nf = [discord_length(discord.render_answer(a), discord) for a in answers if not a.found]
    return {"answers": len(found), "discord_mean": statistics.fmean(d), "discord_median": statistics.median(d),
            "discord_max": max(d), "slack_mean": statistics.fmean(s), "slack_median": statistics.median(s),
            "slack_max": max(s), "not_found_discord_mean": statistics.fmean(nf) if nf else 0.0}


def nothing_lost(answers: Sequence[Answer]) -> dict[str, int]:
    """Answers whose compact reply names the quote's article and whose passages hold the answer sentence."""
    import re

    from bot.discord import render as discord
    from bot.render import common
    from bot.slack import render as slack

    def shown(text: str) -> str:  # what a reader sees: no escapes, bold marks or zero-width spaces
        return re.sub(r"\\(.)", r"\1", text.replace("**", "").replace("\u200b", ""))

    ok = named = 0
    found = [a for a in answers if a.found]
    for a in found:
        first = common.quoted_citation(a)
        compact = " ".join(e["description"] for e in discord.render_answer(a).embeds)
        slack_text = " ".join(json.dumps(b, ensure_ascii=False) for b in slack.render_answer(a).blocks)
        title = common.one_line(first.title)[:60] if first is not None else "\0"
        named += title in shown(compact) and slack.escape(title) in slack_text
        passages = shown(" ".join(e["description"] for e in discord.render_passages(a).embeds))
        ok += common.one_line(a.answer or "")[:80] in passages
    return {"answers": len(found), "quote_article_named": named, "answer_sentence_in_passages": ok}


def fit_threshold(data: Path, embedder: Any, *, per_kind: int, seed: int, precision: float) -> dict[str, Any]:
    """Lowest threshold ≥ the /ask one where ≥ `precision` of posted unasked answers are right."""
    arts = load_squad(data)
    half = (list(range(0, len(arts), 2)), list(range(1, len(arts), 2)))
    rng = random.Random(seed)
    scored: list[tuple[float, bool]] = []  # (confidence of a found answer, right?)
    asked = 0
    for k, keep in enumerate(half):
        sub = [arts[i] for i in keep]
        eng = build_engine(f"A{k + 1}", sub, embedder, folder=OUT / f"A{k + 1}-{_key(sub, embedder)}")
        own = questions(eng, sub, range(len(sub)))
        other_qs = [q for i in half[1 - k] for q in questions_of(arts, i)]
        ins = rng.sample(own, min(per_kind // 2, len(own)))
        outs = rng.sample(other_qs, min(per_kind // 2, len(other_qs)))
        for q in ins:
            a = eng.ask(q.text)
            asked += 1
            if a.found:
                scored.append((a.confidence, _contains(a.answer, q.golds)))
        for text in outs:
            a = eng.ask(text)
            asked += 1
            if a.found:
                scored.append((a.confidence, False))
    candidates = sorted({round(c, 4) for c, _ in scored if c >= DEFAULT_MIN_CONFIDENCE} | {1.0})
    curve = []
    chosen = None
    for t in candidates:
        posted = [ok for c, ok in scored if c >= t]
        p = sum(posted) / len(posted) if posted else 1.0
        curve.append((t, p, len(posted)))
        if chosen is None and p >= precision and posted:
            chosen = (t, p, len(posted))
    if chosen is None:
        chosen = max(curve, key=lambda x: (x[1], x[2]))
    ask_posted = [ok for c, ok in scored if c >= DEFAULT_MIN_CONFIDENCE]
    return {"threshold": chosen[0], "precision_at_threshold": round(chosen[1], 4), "posted": chosen[2],
            "asked": asked, "ask_threshold": DEFAULT_MIN_CONFIDENCE,
            "precision_at_ask_threshold": round(sum(ask_posted) / max(1, len(ask_posted)), 4),
            "posted_at_ask_threshold": len(ask_posted),
            "curve": [(t, round(p, 4), n) for t, p, n in curve[:: max(1, len(curve) // 40)]]}


def questions_of(arts: Sequence[Any], i: int) -> list[str]:
    """The question texts of article i (asked of an index that does not hold it)."""
    return [qa["question"] for _, qa in arts[i].qas]


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--limit", type=int, default=0, help="questions to sample for reply lengths (0 = all)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--before", default="add4901", help="git commit whose renderers are 'before'")
    ap.add_argument("--fit", action="store_true", help="fit CITEBOT_AUTO_MIN_CONFIDENCE and write bot/auto_confidence.json")
    ap.add_argument("--fit-questions", type=int, default=2000, help="questions for the fit, half in-corpus half not")
    ap.add_argument("--precision", type=float, default=0.85, help="share of posted unasked answers that must be right")
    ap.add_argument("--skip-lengths", action="store_true")
    args = ap.parse_args(argv)
    if not args.data.exists():
        print(f"{args.data} is not here (it is in ../shared/eval on developer machines)", file=sys.stderr)
        return 2
    embedder = make_embedder("sentence-transformers/all-MiniLM-L6-v2", "auto")
    report: dict[str, Any] = {"data": args.data.name, "seed": args.seed,
                              "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
                              "machine": f"{platform.machine()}, {__import__('os').cpu_count()} cores (shared)"}
    if not args.skip_lengths:
        arts = load_squad(args.data)
        built = build_engine("all", arts, embedder, folder=OUT / f"all-{_key(arts, embedder)}")
        engine = Engine(built.index_dir, embedder)  # citebot's default threshold, as the bots run
        qs = questions(engine, arts, range(len(arts)))
        if args.limit:
            qs = random.Random(args.seed).sample(qs, min(args.limit, len(qs)))
        t0 = time.perf_counter()
        answers = [engine.ask(q.text) for q in qs]
        report["questions"] = len(qs)
        report["ask_seconds"] = round(time.perf_counter() - t0, 1)
        from bot.discord import render as after_discord
        from bot.slack import render as after_slack

        with tempfile.TemporaryDirectory() as tmp:
            before_discord, before_slack = renderers_at(args.before, Path(tmp))
            report["before"] = {"commit": args.before, **lengths(answers, before_discord, before_slack)}
        report["after"] = lengths(answers, after_discord, after_slack)
        report["after"]["passages_discord_mean"] = statistics.fmean(
            discord_length(after_discord.render_passages(a), after_discord) for a in answers if a.found)
        report["nothing_lost"] = nothing_lost(answers)
    if args.fit:
        fit = fit_threshold(args.data, embedder, per_kind=args.fit_questions, seed=args.seed, precision=args.precision)
        report["fit"] = fit
        data_hash = hashlib.sha256(args.data.read_bytes()).hexdigest()[:16]
        AUTO_FILE.write_text(json.dumps({
            "threshold": fit["threshold"],
            "provenance": {
                "made_by": "python bench/reply_length.py --fit" + (f" --precision {args.precision}" if args.precision != 0.85 else ""),
                "date": report["date"], "data": args.data.name, "data_sha256_16": data_hash, "seed": args.seed,
                "questions": fit["asked"], "target_precision": args.precision,
                "precision_at_threshold": fit["precision_at_threshold"], "posted": fit["posted"],
                "ask_threshold": fit["ask_threshold"], "precision_at_ask_threshold": fit["precision_at_ask_threshold"],
                "method": "A1/A2 halves: own questions (right = quote holds a gold answer) and the other half's "
                          "(any answer is wrong), equal numbers; lowest threshold >= the /ask one reaching the target",
            },
        }, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(report, indent=1, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
