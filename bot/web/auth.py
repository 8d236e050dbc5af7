"""Who may see the web page: two tokens, sessions after one sign-in, CSRF tokens for changing forms.

Tokens are compared with `hmac.compare_digest` (no timing hint about how much of a guess was
right). Sessions live in memory only: a restart signs everyone out, which is also what makes a
changed token take effect at once. Nothing here logs a token, a session id or a CSRF value.
"""
from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from enum import Enum

from index import UserError

# A token shorter than this is guessable over a network: refused at start-up.
MIN_TOKEN_CHARS = 16
SESSION_IDLE_SECONDS = 12 * 3600  # a tab left open over a working day stays signed in
SESSION_MAX_SECONDS = 7 * 86400
MAX_SESSIONS = 10_000  # bounds memory if a script signs in in a loop
SIGN_IN_ATTEMPTS_PER_MINUTE = 10  # per client address: slows guessing, never locks a person out for long


class Role(str, Enum):
    """What a token allows: `read` sees every page; `admin` also forgets sources and starts syncs."""

    READ = "read"
    ADMIN = "admin"


@dataclass(frozen=True)
class Tokens:
    """The configured tokens (either may be unset, not both)."""

    read: str | None
    admin: str | None

    def __post_init__(self) -> None:
        if not self.read and not self.admin:
            raise UserError(
                "the web page needs a token: set CITEBOT_WEB_TOKEN (read-only) and/or CITEBOT_WEB_ADMIN_TOKEN "
                f"(may forget sources and start syncs), e.g. CITEBOT_WEB_TOKEN={secrets.token_urlsafe(24)} "
                "— in the environment or .env (see .env.example)")
        for name, value in (("CITEBOT_WEB_TOKEN", self.read), ("CITEBOT_WEB_ADMIN_TOKEN", self.admin)):
            if value is not None and len(value) < MIN_TOKEN_CHARS:
                raise UserError(f"{name} is shorter than {MIN_TOKEN_CHARS} characters; use a long random one, "
                                f"e.g. {secrets.token_urlsafe(24)}")

    def role_of(self, token: str | None) -> Role | None:
        """The role a presented token grants, or None. Both comparisons always run (constant time)."""
        if not token:
            return None
        given = token.strip().encode("utf-8", "surrogateescape")
        is_admin = hmac.compare_digest(given, (self.admin or "").encode()) if self.admin else False
        is_read = hmac.compare_digest(given, (self.read or "").encode()) if self.read else False
        if is_admin:
            return Role.ADMIN
        return Role.READ if is_read else None


@dataclass
class Session:
    """A signed-in browser: its role and the CSRF token its changing forms must carry."""

    role: Role
    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    created: float = field(default_factory=time.time)
    seen: float = field(default_factory=time.time)
    # Short and not secret: the rate-limit key for this browser's questions (not the session id).
    asker: str = field(default_factory=lambda: secrets.token_hex(4))
    flash: str | None = None  # a one-time message for the next page (after a form's redirect)

    def check_csrf(self, value: str | None) -> bool:
        """Whether a form's CSRF field is this session's token."""
        return bool(value) and hmac.compare_digest(str(value).encode("utf-8", "surrogateescape"), self.csrf.encode())


class Sessions:
    """Session id -> Session, in memory; expired sessions are dropped when met."""

    def __init__(self, *, idle: float = SESSION_IDLE_SECONDS, max_age: float = SESSION_MAX_SECONDS) -> None:
        self.idle, self.max_age = idle, max_age
        self._by_id: dict[str, Session] = {}
        self._lock = threading.Lock()

    def create(self, role: Role) -> tuple[str, Session]:
        """A new session (a fresh id on every sign-in: a planted id is never promoted)."""
        sid = secrets.token_urlsafe(32)
        with self._lock:
            if len(self._by_id) >= MAX_SESSIONS:
                oldest = min(self._by_id, key=lambda k: self._by_id[k].seen)
                del self._by_id[oldest]
            session = self._by_id[sid] = Session(role)
        return sid, session

    def get(self, sid: str | None) -> Session | None:
        """The live session for a cookie value, or None (unknown, idle too long, or too old)."""
        if not sid:
            return None
        now = time.time()
        with self._lock:
            session = self._by_id.get(sid)
            if session is None:
                return None
            if now - session.seen > self.idle or now - session.created > self.max_age:
                del self._by_id[sid]
                return None
            session.seen = now
            return session

    def end(self, sid: str | None) -> None:
        """Sign out."""
        with self._lock:
            self._by_id.pop(sid or "", None)


class SignInLimiter:
    """At most N failed sign-ins per client address per minute."""

    def __init__(self, per_minute: int = SIGN_IN_ATTEMPTS_PER_MINUTE) -> None:
        self.per_minute = per_minute
        self._fails: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def blocked(self, client: str) -> bool:
        """Whether this address has used up its attempts for now."""
        now = time.monotonic()
        with self._lock:
            q = self._fails[client]
            while q and now - q[0] > 60:
                q.popleft()
            if not q:
                del self._fails[client]
                return False
            return len(q) >= self.per_minute

    def failed(self, client: str) -> None:
        """Count a failed attempt."""
        with self._lock:
            self._fails[client].append(time.monotonic())


def bearer(header: str | None) -> str | None:
    """The token of an `Authorization: Bearer …` header, else None."""
    if not header:
        return None
    scheme, _, value = header.strip().partition(" ")
    return value.strip() or None if scheme.lower() == "bearer" else None
