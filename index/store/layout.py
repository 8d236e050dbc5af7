"""Generation folders on disk and their atomic publication through the CURRENT file."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

CURRENT = "CURRENT"  # holds the name of the live generation; replaced atomically with os.replace
CURRENT_TMP = "CURRENT.tmp"
GENERATION_PREFIX = "gen-"
INCOMPLETE = "INCOMPLETE"  # marker inside a generation still being written; removed just before publishing
WRITE_LOCK = ".write.lock"  # held by the one writer (ingest / forget)
META = "meta.sqlite"
# Generations kept after a publish: the new one, and the previous one a reader may still be on.
KEEP_GENERATIONS = 2


def current_name(root: Path) -> str | None:
    """Name of the live generation, or None before the first publish."""
    try:
        return (root / CURRENT).read_text().strip() or None
    except FileNotFoundError:
        return None


def fsync_dir(path: Path) -> None:
    """Make a folder's entries (new, renamed, removed files) durable; best effort where unsupported."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def new_generation(root: Path) -> Path:
    """Create the next generation folder, marked INCOMPLETE until it is published."""
    n = 0
    for p in root.glob(GENERATION_PREFIX + "*"):
        try:
            n = max(n, int(p.name.split("-", 1)[1]))
        except ValueError:
            pass
    gen = root / f"{GENERATION_PREFIX}{n + 1:06d}"
    if gen.exists():
        shutil.rmtree(gen)
    gen.mkdir()
    (gen / INCOMPLETE).touch()
    return gen


def publish(root: Path, gen: Path) -> None:
    """Sync a completely written generation, then point CURRENT at it in one atomic rename."""
    for f in gen.rglob("*"):
        if f.is_file() and f.stat().st_nlink == 1:  # hard-linked files were synced when first published
            with open(f, "rb+") as fh:
                os.fsync(fh.fileno())
    (gen / INCOMPLETE).unlink()
    fsync_dir(gen)
    tmp = root / CURRENT_TMP
    with open(tmp, "w") as fh:
        fh.write(gen.name + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, root / CURRENT)
    fsync_dir(root)


def cleanup(root: Path, live: str | None, keep: int = KEEP_GENERATIONS) -> None:
    """Delete generations older than the newest `keep`, and unfinished ones, never the live one."""
    gens = sorted(p for p in root.glob(GENERATION_PREFIX + "*") if p.is_dir())
    for p in gens[:-keep]:
        if p.name != live:
            shutil.rmtree(p, ignore_errors=True)
    for p in gens[-keep:]:
        if (p / INCOMPLETE).exists() and p.name != live:
            shutil.rmtree(p, ignore_errors=True)
