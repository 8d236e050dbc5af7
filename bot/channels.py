"""Which channels citebot answers in unasked, and which collections each channel answers from.

Two sources, merged: the operator's settings (`CITEBOT_AUTO_CHANNELS`, `CITEBOT_CHANNEL_COLLECTIONS`)
and what admins set in chat (Discord `/channel`, Slack `/citebot-channel`), kept in a small SQLite
file beside the index so it survives restarts. Platform-neutral: channels are opaque ids.
"""
from __future__ import annotations

import re
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from index import UserError

if TYPE_CHECKING:
    from .config import Settings

# The word admins use for "this server's / workspace's own uploads" (collection `platform:scope`).
UPLOADS = "uploads"
EVERYTHING = "*"
_NAME = re.compile(r"^[\w.\-]{1,64}$")

SCHEMA = """
CREATE TABLE IF NOT EXISTS channels (
    platform TEXT NOT NULL,
    channel TEXT NOT NULL,
    scope TEXT,
    auto INTEGER,           -- 1 on, 0 off, NULL = as the settings say
    collections TEXT,       -- comma-separated names, NULL = as the settings say / everything
    PRIMARY KEY (platform, channel)
);
"""


@dataclass(frozen=True)
class ChannelRule:
    """What one channel does: answer unasked or not, and from which collections (empty = the default)."""

    auto: bool = False
    collections: tuple[str, ...] = ()


def parse_channel_list(text: str | None) -> frozenset[str]:
    """`CITEBOT_AUTO_CHANNELS`: comma- or space-separated channel ids."""
    return frozenset(x.strip() for x in re.split(r"[,\s]+", text or "") if x.strip())


def parse_collection_names(text: str | None) -> tuple[str, ...]:
    """`hr, policies` → ('hr', 'policies'); a UserError names anything that cannot be a collection."""
    names = tuple(dict.fromkeys(x.strip() for x in re.split(r"[,\s]+", text or "") if x.strip()))
    for n in names:
        # A ':' names another server's uploads (`discord:123`): never reachable from a channel.
        if not _NAME.match(n):
            raise UserError(f"'{n[:80]}' is not a collection name (letters, digits, '.', '-', '_'; "
                            f"'{UPLOADS}' for this server's own uploads).")
    return names


def parse_channel_collections(text: str | None) -> dict[str, tuple[str, ...]]:
    """`CITEBOT_CHANNEL_COLLECTIONS`: `C1=hr;C2=hr,policies` → {channel: collections}."""
    out: dict[str, tuple[str, ...]] = {}
    for entry in (text or "").split(";"):
        if not entry.strip():
            continue
        channel, eq, names = entry.partition("=")
        if not eq or not channel.strip():
            raise UserError(f"CITEBOT_CHANNEL_COLLECTIONS: '{entry.strip()}' should look like CHANNEL_ID=collection,…")
        out[channel.strip()] = parse_collection_names(names)
    return out


class ChannelStore:
    """Channel rules from the settings, overridden per channel by admins' commands (stored in SQLite)."""

    def __init__(self, path: Path | None = None, *, auto_channels: frozenset[str] = frozenset(),
                 collections: dict[str, tuple[str, ...]] | None = None) -> None:
        self.auto_channels = frozenset(auto_channels)
        self.configured = dict(collections or {})
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._rows: dict[tuple[str, str], tuple[int | None, str | None]] = {}
        self._loaded_at = float("-inf")
        if path is not None:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(str(path), check_same_thread=False, timeout=10)
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.executescript(SCHEMA)

    # Every channel message is checked against these rules on the event loop, so they are read from
    # a copy refreshed every few seconds (other replicas' admin changes arrive within that time).
    REFRESH_SECONDS = 5.0

    def _row(self, platform: str, channel: str) -> tuple[int | None, str | None]:
        if self._conn is None:
            return None, None
        with self._lock:
            if time.monotonic() - self._loaded_at > self.REFRESH_SECONDS:
                self._rows = {(p, c): (a, n) for p, c, a, n in
                              self._conn.execute("SELECT platform, channel, auto, collections FROM channels")}
                self._loaded_at = time.monotonic()
            return self._rows.get((platform, channel), (None, None))

    def rule(self, platform: str, channel: str | None) -> ChannelRule:
        """The rule for one channel (no channel, e.g. a DM: the default rule)."""
        if not channel:
            return ChannelRule()
        auto, names = self._row(platform, channel)
        return ChannelRule(
            auto=bool(auto) if auto is not None else channel in self.auto_channels,
            collections=(self.configured.get(channel, ()) if names is None
                         else () if names == EVERYTHING else tuple(names.split(","))),
        )

    def set(self, platform: str, channel: str, scope: str | None, *, auto: bool | None = None,
            collections: tuple[str, ...] | None = None) -> ChannelRule:
        """An admin's change (None leaves that part as it was; `()` collections = everything again)."""
        if self._conn is None:
            raise UserError("Channel settings can't be saved here (no index folder).")
        old_auto, old_names = self._row(platform, channel)
        new_auto = old_auto if auto is None else int(auto)
        # "Everything" chosen in chat is stored as such: it wins over the settings' list too.
        new_names = old_names if collections is None else (",".join(collections) or EVERYTHING)
        with self._lock:
            self._conn.execute(
                "INSERT INTO channels (platform, channel, scope, auto, collections) VALUES (?,?,?,?,?) "
                "ON CONFLICT(platform, channel) DO UPDATE SET scope = excluded.scope, auto = excluded.auto, "
                "collections = excluded.collections",
                (platform, channel, scope, new_auto, new_names),
            )
            self._conn.commit()
            self._loaded_at = float("-inf")  # this process sees its own change at once
        return self.rule(platform, channel)

    def any_auto(self, platform: str) -> bool:
        """Whether any channel answers unasked (Discord then needs the Message Content intent)."""
        if self.auto_channels:
            return True
        if self._conn is None:
            return False
        self._row(platform, "")  # refresh the copy
        return any(p == platform and a == 1 for (p, _), (a, _) in self._rows.items())

    def close(self) -> None:
        """Close the database."""
        if self._conn is not None:
            with self._lock:
                self._conn.close()


def channel_store(settings: Settings, index_dir: Path) -> ChannelStore:
    """The store for these settings: CITEBOT_AUTO_CHANNELS / CITEBOT_CHANNEL_COLLECTIONS plus admins' choices."""
    return ChannelStore(Path(index_dir) / "channels.sqlite",
                        auto_channels=parse_channel_list(settings.auto_channels),
                        collections=parse_channel_collections(settings.channel_collections))
