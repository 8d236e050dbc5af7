"""`pip install .` (not only `-e .`) ships every package and data file citebot reads at run time."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    tomllib = pytest.importorskip("tomli")


def _config() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]


def test_every_subpackage_is_installed() -> None:
    """A subpackage left out of the wheel (bot.render once was) makes the installed `citebot` crash."""
    from setuptools import find_packages

    found = set(find_packages(str(ROOT), **_config()["packages"]["find"]))
    on_disk = {
        ".".join(p.parent.relative_to(ROOT).parts)
        for top in ("index", "bot")
        for p in (ROOT / top).rglob("__init__.py")
    }
    assert on_disk <= found, f"not shipped by pip install .: {sorted(on_disk - found)}"
    assert not any(name.startswith("tests") for name in found)


def test_every_data_file_is_installed() -> None:
    """Fitted data files (thresholds, trees) are read at import: each must be declared as package data."""
    import fnmatch

    declared = _config().get("package-data", {})
    for top in ("index", "bot"):
        for path in (ROOT / top).rglob("*"):
            if path.is_file() and path.suffix in {".json", ".npz", ".toml", ".onnx"} and "__pycache__" not in path.parts:
                pkg = ".".join(path.parent.relative_to(ROOT).parts)
                patterns = declared.get(pkg, [])
                assert any(fnmatch.fnmatch(path.name, pat) for pat in patterns), f"{path.relative_to(ROOT)} is not package data"
