"""The web page's aiohttp application: routes, sign-in, CSRF, security headers, friendly errors.

Server-rendered HTML (Jinja2, autoescape on) and one stylesheet; no JavaScript at all, so the
Content-Security-Policy forbids scripts outright. Blocking work (the engine, SQLite) runs in
threads, as in the chat adapters.
"""
from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import jinja2
from aiohttp import web

from index import (
    IndexBusyError,
    OnnxEmbedder,
    SentenceTransformerEmbedder,
    SyncReport,
    UserError,
    WebIngester,
    display_source,
)

from ..render.common import date_label
from ..service import Asker, CitebotService
from ..synclog import SyncLog
from . import views
from .auth import Role, Session, Sessions, SignInLimiter, Tokens, bearer
from .metrics import Metrics

log = logging.getLogger(__name__)

COOKIE = "citebot_session"
# A question's URL may be long (a pasted paragraph, percent-encoded): room for the friendly "too long"
# page instead of aiohttp's bare 400 at its default 8 kB request line.
MAX_LINE = 64 * 1024
FEEDBACK_ROWS = 200
UNANSWERED_ROWS = 5000
GROUPS_SHOWN = 300
SOURCES_SHOWN = 2000

HEADERS = {
    # No script runs on these pages, so none is allowed; styles only from our own stylesheet.
    "Content-Security-Policy": ("default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
                                "frame-ancestors 'none'; base-uri 'none'"),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    # An /ask URL holds the question: a click on a cited link must not send it to that site.
    "Referrer-Policy": "no-referrer",
}

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class SyncState:
    """The sync pass started from the page, if one runs."""

    running: bool = False
    started: float = 0.0
    tasks: set[asyncio.Task[None]] = field(default_factory=set)


class WebSite:
    """The pages over one CitebotService; dependencies come in through the constructor."""

    def __init__(self, service: CitebotService, tokens: Tokens, *, sources_file: Path | None = None,
                 ingester: Callable[[], WebIngester] | None = None, metrics: Metrics | None = None,
                 sessions: Sessions | None = None) -> None:
        self.service = service
        self.engine = service.engine
        self.tokens = tokens
        self.sources_file = sources_file
        self.ingester = ingester
        self.metrics = metrics or Metrics()
        self.sessions = sessions or Sessions()
        self.sign_ins = SignInLimiter()
        self.sync_log = SyncLog(self.engine.index_dir)
        self.sync = SyncState()
        self._source_cache: OrderedDict[tuple[Any, ...], views.SourceRef | None] = OrderedDict()
        service.observers.append(self.metrics.observe_answer)
        self.env = jinja2.Environment(loader=jinja2.PackageLoader("bot.web", "templates"), autoescape=True,
                                      undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
        self.env.filters["when"] = views.when
        self.css = resources.files("bot.web").joinpath("static/style.css").read_bytes()

    # --- the application -----------------------------------------------------------------

    def app(self) -> web.Application:
        """The aiohttp application (run it with `serve`, or hand it to aiohttp's test client)."""
        app = web.Application(middlewares=[self._errors, self._headers, self._auth], client_max_size=64 * 1024)
        app.add_routes([
            web.get("/", self.home),
            web.get("/login", self.login_page),
            web.post("/login", self.login),
            web.post("/logout", self.logout),
            web.get("/ask", self.ask),
            web.get("/unanswered", self.unanswered),
            web.get("/unanswered.csv", self.unanswered_csv),
            web.get("/feedback", self.feedback),
            web.get("/sources", self.sources),
            web.post("/sources/forget", self.forget),
            web.post("/sources/sync", self.start_sync),
            web.get("/healthz", self.healthz),
            web.get("/metrics", self.metrics_page),
            web.get("/static/style.css", self.stylesheet),
        ])
        return app

    # --- middlewares ---------------------------------------------------------------------

    @web.middleware
    async def _errors(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Every failure is a page in the site's own look: the reason for expected ones, never a traceback."""
        try:
            return await handler(request)
        except web.HTTPRedirection:
            raise
        except web.HTTPException as exc:
            messages = {404: "There is no such page here.", 405: "That page cannot be used that way.",
                        413: "That was more than this page accepts."}
            text = messages.get(exc.status, exc.reason)
            return self.render(request, "message.html", status=exc.status, title=exc.reason, message=text)
        except asyncio.CancelledError:
            raise
        except Exception:
            # The traceback goes to the log (path only: the query may hold a question), the person gets a short reply.
            log.exception("web page %s %s failed", request.method, request.path)
            return self.render(request, "message.html", status=500, title="Something went wrong",
                               message="Something went wrong on citebot's side. Please try again in a moment.")

    @web.middleware
    async def _headers(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        t0 = time.perf_counter()
        try:
            response: web.StreamResponse = await handler(request)
        except web.HTTPException as exc:  # redirects are raised: they get the same headers
            self._decorate(request, exc, t0)
            raise
        self._decorate(request, response, t0)
        return response

    @staticmethod
    def _decorate(request: web.Request, response: web.StreamResponse, t0: float) -> None:
        response.headers.update(HEADERS)
        # The server's own time for the page (browsers' dev tools and the tests read it), in ms to the
        # microsecond: with one decimal a page served in under 50 µs read as 0.0 and looked unmeasured.
        response.headers["Server-Timing"] = f"app;dur={(time.perf_counter() - t0) * 1000:.3f}"
        if request.path != "/static/style.css":
            response.headers["Cache-Control"] = "no-store"

    @web.middleware
    async def _auth(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Who is asking: a Bearer token (scripts), else the session cookie; no data without either."""
        request["role"], request["session"], request["sid"] = None, None, None
        header = request.headers.get("Authorization")
        if header is not None:
            role = self.tokens.role_of(bearer(header))
            if role is None:
                log.info("web: refused a request with a wrong token from %s", request.remote)
                return self._unauthorized(request, browser=False)
            request["role"] = role
        else:
            sid = request.cookies.get(COOKIE)
            session = self.sessions.get(sid)
            if session is not None:
                request["role"], request["session"], request["sid"] = session.role, session, sid
            elif sid and request.path not in ("/login", "/static/style.css", "/healthz"):
                return self._to_sign_in(request, expired=True)
        if request.path in ("/login", "/static/style.css", "/healthz"):
            return await handler(request)
        if request["role"] is None:
            return self._unauthorized(request, browser=self._is_browser(request))
        if request.method == "POST" and request["session"] is not None:
            form = await request.post()
            if not request["session"].check_csrf(str(form.get("csrf", ""))):
                log.info("web: refused a %s to %s without a valid CSRF token", request.method, request.path)
                return self.render(request, "message.html", status=403, title="Form refused",
                                   message="This form did not come from this page, or it is too old. "
                                           "Go back, reload the page and try again.")
        return await handler(request)

    @staticmethod
    def _is_browser(request: web.Request) -> bool:
        return request.method == "GET" and "text/html" in request.headers.get("Accept", "") \
            and request.path not in ("/metrics", "/unanswered.csv")

    def _unauthorized(self, request: web.Request, *, browser: bool) -> web.StreamResponse:
        if browser:
            return self._to_sign_in(request)
        response = web.Response(status=401, text="401: sign in, or send Authorization: Bearer <token>\n",
                                headers={"WWW-Authenticate": 'Bearer realm="citebot"'})
        return response

    def _to_sign_in(self, request: web.Request, *, expired: bool = False) -> web.StreamResponse:
        where = request.path_qs if request.method == "GET" else "/"
        args = {"next": where} | ({"expired": "1"} if expired else {})
        response = web.Response(status=303, headers={"Location": "/login?" + urlencode(args)})
        if expired:
            response.del_cookie(COOKIE, path="/")
        return response

    # --- rendering -----------------------------------------------------------------------

    def render(self, request: web.Request, template: str, *, status: int = 200, **context: Any) -> web.Response:
        """A page from its template, with what every page shows (who is signed in, the CSRF token)."""
        session: Session | None = request.get("session")
        role: Role | None = request.get("role")
        flash = None
        if session is not None:
            flash, session.flash = session.flash, None
        html = self.env.get_template(template).render(
            role=role.value if role else None, admin=role is Role.ADMIN, signed_in=session is not None,
            csrf=session.csrf if session else "", path=request.path, flash=flash, **context)
        return web.Response(status=status, text=html, content_type="text/html", charset="utf-8")

    def _flash(self, request: web.Request, message: str) -> None:
        session: Session | None = request.get("session")
        if session is not None:
            session.flash = message

    def _paths(self) -> list[Path]:
        """Server paths that must never appear on a page (error messages name them)."""
        out = [self.engine.index_dir, self.engine.index_dir.expanduser().resolve(), Path.cwd(), Path.home()]
        if self.sources_file is not None:
            out += [self.sources_file, self.sources_file.expanduser().resolve()]
        return out

    async def _index_state(self) -> tuple[Any, str | None]:
        """(reader, None) when the index can answer, else (None or reader, what to tell the reader)."""
        try:
            reader = await asyncio.to_thread(lambda: self.engine.reader)
        except UserError as exc:
            return None, views.scrub(str(exc), self._paths())
        if not reader.exists:
            return reader, "Nothing is indexed yet: run `citebot ingest PATH` (or `citebot sync`) on the server."
        if reader.size == 0:
            return reader, "The index holds no articles: run `citebot ingest PATH` on the server to add some."
        return reader, None

    # --- pages ---------------------------------------------------------------------------

    async def home(self, request: web.Request) -> web.StreamResponse:
        """What users could not find is what the team looks at first."""
        raise web.HTTPSeeOther("/unanswered")

    async def stylesheet(self, request: web.Request) -> web.StreamResponse:
        return web.Response(body=self.css, content_type="text/css", headers={"Cache-Control": "max-age=3600"})

    async def login_page(self, request: web.Request) -> web.StreamResponse:
        nxt = views.local_target(request.query.get("next"))
        if request["role"] is not None:
            raise web.HTTPSeeOther(nxt)
        message = "Your session has ended. Sign in again." if request.query.get("expired") else None
        return self.render(request, "login.html", next=nxt, message=message)

    async def login(self, request: web.Request) -> web.StreamResponse:
        client = request.remote or "?"
        form = await request.post()
        nxt = views.local_target(str(form.get("next", "/")))
        if self.sign_ins.blocked(client):
            return self.render(request, "login.html", status=429, next=nxt,
                               message="Too many wrong tokens from here. Wait a minute and try again.")
        role = self.tokens.role_of(str(form.get("token", "")))
        if role is None:
            self.sign_ins.failed(client)
            log.info("web: a sign-in with a wrong token from %s", client)
            return self.render(request, "login.html", status=401, next=nxt, message="That token is not right.")
        old = request.cookies.get(COOKIE)
        self.sessions.end(old)
        sid, _ = self.sessions.create(role)
        log.info("web: signed in (%s) from %s", role.value, client)
        response = web.HTTPSeeOther(nxt)
        secure = request.secure or request.headers.get("X-Forwarded-Proto", "").lower() == "https"
        response.set_cookie(COOKIE, sid, path="/", httponly=True, samesite="Lax", secure=secure)
        raise response

    async def logout(self, request: web.Request) -> web.StreamResponse:
        self.sessions.end(request["sid"])
        response = web.HTTPSeeOther("/login")
        response.del_cookie(COOKIE, path="/")
        raise response

    async def ask(self, request: web.Request) -> web.StreamResponse:
        """GET /ask?q=…: the answer as chat shows it; recorded like any question (asking changes nothing else)."""
        q = request.query.get("q")
        context: dict[str, Any] = {"q": q or "", "view": None, "error": None,
                                   "max_chars": self.service.max_question_chars}
        if q is None:
            return self.render(request, "ask.html", **context)
        try:
            self.service.check_question(q)
        except UserError as exc:
            self.metrics.observe_rejected()
            return self.render(request, "ask.html", status=400, **(context | {"error": str(exc), "q": q[:2000]}))
        reader, problem = await self._index_state()
        if problem:
            return self.render(request, "ask.html", status=503, **(context | {"error": problem}))
        session: Session | None = request["session"]
        asker = Asker(platform="web", user=session.asker if session else f"bearer-{request['role'].value}")
        try:
            answer = await self.service.ask(q, asker)
        except UserError as exc:
            self.metrics.observe_rejected()
            return self.render(request, "ask.html", status=429 if "faster" in str(exc) else 400,
                               **(context | {"error": views.scrub(str(exc), self._paths())}))
        if "application/json" in request.headers.get("Accept", "") and "text/html" not in request.headers.get("Accept", ""):
            data = answer.to_json()
            for c in data["citations"] + data["closest"]:
                c["source"] = display_source(c["source"], c["url"], c["title"])  # no server path
            return web.json_response(data)
        return self.render(request, "ask.html", **(context | {"view": views.answer_view(answer)}))

    async def _unanswered_groups(self) -> list[views.Group]:
        rows = await asyncio.to_thread(self.service.feedback.report, limit=UNANSWERED_ROWS)
        return views.group_unanswered(rows)

    async def unanswered(self, request: web.Request) -> web.StreamResponse:
        groups = await self._unanswered_groups()
        total = sum(g.count for g in groups)
        return self.render(request, "unanswered.html", groups=groups[:GROUPS_SHOWN], total=total,
                           more=max(0, len(groups) - GROUPS_SHOWN))

    async def unanswered_csv(self, request: web.Request) -> web.StreamResponse:
        groups = await self._unanswered_groups()
        return web.Response(text=views.unanswered_csv(groups), content_type="text/csv", charset="utf-8",
                            headers={"Content-Disposition": 'attachment; filename="citebot-unanswered.csv"'})

    async def feedback(self, request: web.Request) -> web.StreamResponse:
        rows = await asyncio.to_thread(self.service.feedback.report, include_up=True, limit=FEEDBACK_ROWS)
        votes = await asyncio.to_thread(views.feedback_views, rows, self._find_source)
        return self.render(request, "feedback.html", votes=votes,
                           up=sum(1 for v in votes if v.vote > 0), down=sum(1 for v in votes if v.vote < 0))

    def _find_source(self, quote: str, collections: list[str]) -> views.SourceRef | None:
        """The article a voted quote comes from: a BM25 look-up of the quote (votes store the quote, not
        its source), the first passage that holds it word for word; cached per index generation."""
        try:
            reader = self.engine.reader
        except UserError:
            return None
        if not reader.exists:
            return None
        key = (reader.generation, quote, tuple(collections))
        if key in self._source_cache:
            self._source_cache.move_to_end(key)
            return self._source_cache[key]
        want = " ".join(quote.split())
        found = None
        scored = reader.lexical_search(quote[:1000], 5, collections)
        for hit in reader.hits([(pid, s, 0.0, s) for pid, s in scored]):
            if want in " ".join(hit.text.split()):
                found = views.source_ref(hit.source, hit.title, date_label(hit) or None, hit.url)
                break
        self._source_cache[key] = found
        if len(self._source_cache) > 5000:
            self._source_cache.popitem(last=False)
        return found

    async def sources(self, request: web.Request) -> web.StreamResponse:
        reader, problem = await self._index_state()
        rows = await asyncio.to_thread(self.engine.sources) if reader is not None and reader.exists else []
        outcomes = await asyncio.to_thread(self.sync_log.articles)
        entries = await asyncio.to_thread(self.sync_log.sources)
        last = await asyncio.to_thread(self.sync_log.last_pass)
        by_collection = views.sources_by_collection(rows[:SOURCES_SHOWN], outcomes, self._paths())
        return self.render(request, "sources.html", problem=problem, collections=by_collection,
                           total=len(rows), shown=min(len(rows), SOURCES_SHOWN),
                           entries=views.source_entries(entries, self._paths()), last=last,
                           problems=views.sync_problems(outcomes, rows, self._paths())[:200],
                           sync=self.sync, can_sync=self.ingester is not None and self.sources_file is not None,
                           sources_name=self.sources_file.name if self.sources_file else None)

    def _admin(self, request: web.Request) -> None:
        if request["role"] is not Role.ADMIN:
            log.info("web: refused %s %s to a read-only sign-in", request.method, request.path)
            raise web.HTTPForbidden(reason="Admins only")

    async def forget(self, request: web.Request) -> web.StreamResponse:
        """POST /sources/forget (admin): remove one article, named by its opaque key."""
        self._admin(request)
        form = await request.post()
        key = str(form.get("key", ""))
        rows = await asyncio.to_thread(self.engine.sources)
        match = next((r for r in rows if views.source_key(r.collection, r.source) == key), None)
        if match is None:
            self._flash(request, "That article is no longer indexed.")
            raise web.HTTPSeeOther("/sources")
        try:
            removed = await asyncio.to_thread(self.engine.forget, match.source, match.collection)
        except IndexBusyError:
            self._flash(request, "The index is being written by another citebot process; try again in a minute.")
            raise web.HTTPSeeOther("/sources") from None
        self.metrics.observe_forget(len(removed))
        log.info("web: forgot %d article(s) from collection %s", len(removed), match.collection)
        self._flash(request, f"Forgot “{match.title}” ({match.collection}).")
        raise web.HTTPSeeOther("/sources")

    async def start_sync(self, request: web.Request) -> web.StreamResponse:
        """POST /sources/sync (admin): one pass over the sources file, in the background."""
        self._admin(request)
        if self.ingester is None or self.sources_file is None:
            self._flash(request, "Syncing is not set up for this page.")
        elif self.sync.running:
            self._flash(request, "A sync is already running.")
        elif not self.sources_file.exists():
            self._flash(request, f"There is no sources file ({self.sources_file.name}) on the server: "
                                 "see examples/citebot.toml.")
        else:
            self.sync.running, self.sync.started = True, time.time()
            task = asyncio.create_task(self._sync_pass())
            self.sync.tasks.add(task)
            task.add_done_callback(self.sync.tasks.discard)
            self._flash(request, "Sync started: reload this page to see how it went.")
        raise web.HTTPSeeOther("/sources")

    async def _sync_pass(self) -> None:
        from ..sync import sync_once

        assert self.ingester is not None and self.sources_file is not None
        report: SyncReport | None = None
        ing = self.ingester()
        try:
            report = await asyncio.to_thread(sync_once, ing, self.sources_file, lock_timeout=300.0)
        except UserError as exc:
            log.warning("web: sync could not run: %s", exc)
        except Exception:
            log.exception("web: sync pass failed")
        finally:
            ing.close()
            self.metrics.observe_sync(report)
            self.sync.running = False

    async def healthz(self, request: web.Request) -> web.StreamResponse:
        """JSON for probes: without a token only the status; with one, the index and model too. No question text."""
        reader, problem = await self._index_state()
        body: dict[str, Any] = {"status": "ok" if problem is None else "no index"}
        if request["role"] is not None:
            body |= await asyncio.to_thread(self._health_detail, reader)
        return web.json_response(body, status=200 if problem is None else 503)

    def _health_detail(self, reader: Any) -> dict[str, Any]:
        emb = self.engine.embedder
        if isinstance(emb, OnnxEmbedder):
            backend = emb.backend
        elif isinstance(emb, SentenceTransformerEmbedder):
            backend = "torch"
        else:
            backend = type(emb).__name__
        last = self.sync_log.last_pass()
        ok = reader is not None and reader.exists
        return {
            "generation": reader.generation if ok else None,
            "articles": len(self.engine.sources()) if ok else 0,
            "passages": reader.size if ok else 0,
            "model": Path(emb.name).name if "/" in emb.name and Path(emb.name).exists() else emb.name,
            "model_backend": backend,
            "reader": reader.kind if ok else None,
            "last_sync": None if last is None else {"at": views.iso(last.at), "ok": last.ok, "added": last.added,
                                                    "updated": last.updated, "unchanged": last.unchanged,
                                                    "skipped": last.skipped, "errors": last.errors},
            "sync_running": self.sync.running,
        }

    async def metrics_page(self, request: web.Request) -> web.StreamResponse:
        reader, problem = await self._index_state()

        def gauges() -> list[tuple[str, str, float]]:
            ok = problem is None and reader is not None
            last = self.sync_log.last_pass()
            return [
                ("citebot_index_articles", "Articles in the index.", len(self.engine.sources()) if ok else 0),
                ("citebot_index_passages", "Passages in the index.", reader.size if ok else 0),
                ("citebot_index_generation", "The live index generation's number.",
                 views.generation_number(reader.generation) if ok else 0),
                ("citebot_last_sync_timestamp_seconds", "When the last sync pass (any process) ended.",
                 last.at if last else 0),
                ("citebot_last_sync_ok", "1 when the last sync pass read every source and skipped no page.",
                 1 if last is not None and last.ok else 0),
            ]

        text = self.metrics.render(await asyncio.to_thread(gauges))
        return web.Response(text=text, content_type="text/plain", charset="utf-8",
                            headers={"X-Content-Type-Options": "nosniff"})
