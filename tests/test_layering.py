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
    for name in ("service.py", "feedback.py", "render/common.py", "render/text.py", "discord/render.py", "slack/render.py", "shell.py"):
        mods = imports(ROOT / "bot" / name)
        assert not {m for m in mods if m.split(".")[0] in {"discord", "slack_bolt", "slack_sdk", "aiohttp"}}, name
