"""The dependency direction the house style promises: index ← bot.service ← adapters ← cli."""
from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import ROOT


def imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), str(path))
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module)
    return out


def test_index_never_imports_bot() -> None:
    for f in (ROOT / "index").rglob("*.py"):
        assert not any(m == "bot" or m.startswith("bot.") for m in imports(f)), f


def test_bot_never_touches_faiss_or_the_model() -> None:
    for f in (ROOT / "bot").rglob("*.py"):
        bad = {m for m in imports(f) if m.split(".")[0] in {"faiss", "sentence_transformers", "torch", "bm25s"}}
        assert not bad, f"{f} imports {bad}"


def test_service_knows_no_platform_sdk() -> None:
    for name in ("service.py", "feedback.py", "render/common.py", "render/text.py", "discord/render.py", "slack/render.py",
                 "discord/parse.py", "slack/parse.py", "shell.py"):
        mods = imports(ROOT / "bot" / name)
        assert not {m for m in mods if m.split(".")[0] in {"discord", "slack_bolt", "slack_sdk", "aiohttp"}}, name


def test_platform_folders_never_import_each_other() -> None:
    """bot/discord/ and bot/slack/ are siblings: each reaches the other only through bot.service."""
    for me, other in (("discord", "slack"), ("slack", "discord")):
        for f in (ROOT / "bot" / me).rglob("*.py"):
            tree = ast.parse(f.read_text(), str(f))
            for node in ast.walk(tree):
                if isinstance(node, ast.ImportFrom):
                    absolute = node.module or ""
                    relative = ("." * node.level) + (node.module or "")
                    assert not absolute.startswith(f"bot.{other}") and not relative.startswith(f"..{other}"), f
                    assert not (node.level == 2 and node.module is None and other in {a.name for a in node.names}), f
