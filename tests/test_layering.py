"""The dependency direction the house style promises: index ← bot.service ← adapters ← cli.

Import lines are read with `ast` (nothing is imported), so the rules hold for code no test runs.
They fit both layouts of the chat side: flat (bot/discord_app.py, bot/render/slack.py) and one
package per platform (bot/discord/, bot/slack/): a module whose path names 'discord' belongs to
the Discord adapter, one that names 'slack' to the Slack adapter.
"""
from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import ROOT

SDKS = {"discord", "slack_sdk", "slack_bolt"}
# The scripts that refit index/fitted.json read the fitted model's internals (its feature names,
# scorer classes and writer), which are not part of the engine's public API.
FITTING_SCRIPTS = {"refusal.py", "refusal_fit.py", "train_selector.py", "fit_reader.py"}
# Bench scripts that measure an engine part from inside, by name: the one internal module each may read.
INTERNALS_MEASURED = {**{name: "index.answer.select" for name in FITTING_SCRIPTS}, "speed_levers.py": "index.model.onnx_embed",
                      "reader_kernels.py": "index.answer.reader"}


def _module_of(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> set[str]:
    """Every module `path` imports, relative imports resolved to absolute names."""
    tree = ast.parse(path.read_text(), str(path))
    package = _module_of(path) if path.name == "__init__.py" else _module_of(path).rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0:
                base = node.module or ""
            else:
                parts = package.split(".") if package else []
                parts = parts[: len(parts) - (node.level - 1)] if node.level > 1 else parts
                base = ".".join(parts + ([node.module] if node.module else []))
            out.add(base)
            if node.level:  # `from . import render` names a module too
                out |= {f"{base}.{a.name}" for a in node.names}
    return out


def names_from_index(path: Path) -> set[str]:
    """The names `path` takes with `from index import ...`."""
    tree = ast.parse(path.read_text(), str(path))
    return {a.name for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.level == 0
            and node.module == "index" for a in node.names}


def public_api() -> set[str]:
    """index.__all__, read from index/__init__.py without importing it."""
    tree = ast.parse((ROOT / "index" / "__init__.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets):
            return set(ast.literal_eval(node.value))
    raise AssertionError("index/__init__.py declares no __all__")


def chat_files() -> list[Path]:
    return sorted((ROOT / "bot").rglob("*.py"))


# The engine's rooms, lowest first. A module may import its own room and the rooms below it, never
# one above; `ingest` and `store` never see each other or `answer` (answer may read store).
GROUND = {"index.types", "index.errors", "index.words"}
ROOMS = {
    "model": {"model"},
    "ingest": {"ingest"},
    "store": {"store"},
    "answer": {"answer", "store", "model"},
}
TOP = {"index", "index.engine", "index.sources"}  # the front door and what drives the rooms


def _room(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) >= 2 and parts[0] == "index" and parts[1] in ROOMS else None


def index_modules() -> dict[str, Path]:
    return {_module_of(f): f for f in sorted((ROOT / "index").rglob("*.py"))}


def test_index_rooms_arrows_run_only_downward() -> None:
    """ingest/store/answer/model sit below the front door; answer may read store; store never
    imports answer or ingest; the ground floor (types, errors, words) imports no room."""
    mods = index_modules()
    rooms_seen = set()
    for name, f in mods.items():
        inner = {m for m in imports(f) if m == "index" or m.startswith("index.")}
        room = _room(name)
        if name in GROUND:
            allowed = GROUND
        elif room is not None:
            rooms_seen.add(room)
            allowed = GROUND | {f"index.{r}" for r in ROOMS[room]}
        else:
            assert name in TOP, f"{name}: a module of index/ outside the rooms and the front door"
            continue
        bad = {m for m in inner if not any(m == a or m.startswith(a + ".") for a in allowed)}
        assert not bad, f"{f.relative_to(ROOT)} (room {room or 'ground'}) imports {sorted(bad)}"
    assert rooms_seen == set(ROOMS)


def test_no_import_circles() -> None:
    """No module of index/, bot/ or bench/ reaches itself again through its imports."""
    files = {**index_modules(), **{_module_of(f): f for f in [*chat_files(), *sorted((ROOT / "bench").glob("*.py"))]}}
    graph = {name: {m for m in imports(f) if m in files and m != name} for name, f in files.items()}
    # `from . import x` inside a package names the package too: an __init__ is not a circle with its own modules.
    for name in graph:
        graph[name] = {m for m in graph[name] if not name.startswith(m + ".")}
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(n: str) -> None:
        state[n] = 1
        path.append(n)
        for m in sorted(graph[n]):
            if state.get(m) == 1:
                raise AssertionError("import circle: " + " -> ".join(path[path.index(m):] + [m]))
            if m not in state:
                visit(m)
        path.pop()
        state[n] = 2

    for n in sorted(graph):
        if n not in state:
            visit(n)


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


def test_bot_and_bench_use_only_the_engines_front_door() -> None:
    api = public_api()
    checked = 0
    for f in [*chat_files(), *sorted((ROOT / "bench").glob("*.py"))]:
        inner = {m for m in imports(f) if m.startswith("index.")}
        if f.parent.name == "bench" and f.name in INTERNALS_MEASURED:
            inner -= {INTERNALS_MEASURED[f.name]}
        assert not inner, f"{f.relative_to(ROOT)} reaches into {sorted(inner)}: import it from `index`"
        unknown = names_from_index(f) - api
        assert not unknown, f"{f.relative_to(ROOT)} imports {sorted(unknown)}, which index.__all__ does not export"
        checked += bool(names_from_index(f))
    assert checked >= 10  # the rule really read the files that use the engine


def test_every_public_name_resolves() -> None:
    import index

    assert set(index.__all__) == public_api()
    for name in index.__all__:
        assert getattr(index, name) is not None, name


def test_no_public_name_is_shadowed_by_a_submodule() -> None:
    """`from index import chunk` once gave the module index.chunk (loaded by the engine), not the function."""
    import types

    import index
    import index.engine  # noqa: F401  (loads the submodules a running bot has loaded)

    submodules = {p.stem for p in (ROOT / "index").glob("*.py")} | {p.name for p in (ROOT / "index").iterdir() if p.is_dir()}
    assert not set(index.__all__) & submodules
    for name in index.__all__:
        assert not isinstance(getattr(index, name), types.ModuleType), name


def test_renderers_import_no_chat_sdk() -> None:
    renderers = [f for f in chat_files() if "render" in f.relative_to(ROOT).as_posix()]
    assert len(renderers) >= 3
    for f in renderers:
        bad = {m for m in imports(f) if m.split(".")[0] in SDKS}
        assert not bad, f"{f.relative_to(ROOT)} imports {bad}: a renderer builds payloads, the adapter sends them"


def test_adapters_never_import_each_other() -> None:
    sides = {"discord": ("slack", {"slack_sdk", "slack_bolt"}), "slack": ("discord", {"discord"})}
    seen = set()
    for f in chat_files():
        rel = f.relative_to(ROOT).as_posix()
        for side, (other, other_sdks) in sides.items():
            if side not in rel:
                continue
            seen.add(side)
            bad = {m for m in imports(f)
                   if (m.startswith("bot.") and other in m) or m.split(".")[0] in other_sdks}
            assert not bad, f"{rel} (the {side} adapter) imports {bad}"
    assert seen == {"discord", "slack"}


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
