"""The engine's exception hierarchy."""
from __future__ import annotations

from .types import SourceInfo  # the ground floor: types imports nothing of the engine


class CitebotError(Exception):
    """Base class for every error citebot raises on purpose."""


class UserError(CitebotError):
    """An error the user caused; its message is shown to them as-is."""


class LoadError(UserError):
    """A file could not be turned into an article (unreadable, empty, unknown format, too big)."""


class IndexMismatchError(UserError):
    """The index on disk was built with another embedding model or dimension."""


class IndexBusyError(UserError):
    """Another process holds the index's write lock."""


class AmbiguousSourceError(UserError):
    """A name given to `forget` matches several indexed articles; `matches` lists them."""

    def __init__(self, name: str, matches: list[SourceInfo]) -> None:
        self.name, self.matches = name, matches
        super().__init__(f"'{name}' matches {len(matches)} indexed articles; name one (its path or URL), or use --all")
