"""The engine's exception hierarchy."""
from __future__ import annotations


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
