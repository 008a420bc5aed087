"""``acu-audit ui``: the review queue in a browser, every action audited.

A Starlette application (Starlette and uvicorn come with Prefect; Jinja2 renders the pages;
one small script and one stylesheet are served from the package, nothing from a CDN).

- ``GET /`` the queue (filters as query parameters), ``GET /leads/<lead_id>`` one lead,
  ``GET /night.json`` the night published now (the page's script polls it to say when a newer
  night is out).
- ``POST /leads/<lead_id>/<action>`` for ``status``, ``assign``, ``suppress``, ``export`` and
  ``reveal``: each calls the same function as the CLI (``StateStore.set_status``,
  ``StateStore.assign``, ``analyst.suppress``, ``analyst.export_referral_pack``,
  ``StateStore.record_view``), so the rules and the audit log are the CLI's. The state file is
  opened per action and closed at once: the nightly run is never blocked for long, and an
  action that finds the night holding it says "busy, try again".

Safe by default: it listens on 127.0.0.1; a request whose Host header is not the address it
serves is refused (no DNS rebinding); every form carries a token made when the server starts
and a POST without it (or from another origin) is refused; every response forbids framing,
inline script and caching (pages show staff references, and a reveal shows an identity once).
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from acu_audit.errors import AcuAuditError, DatabaseBusyError
from acu_audit.state import STATUSES, current_actor, open_state
from acu_audit.ui import pages

ACTIONS = ("status", "assign", "suppress", "export", "reveal")
MAX_FORM_BYTES = 64 * 1024
ACTION_BUSY_S = 5.0  # how long an action waits for the state file the nightly run may hold
SECURITY_HEADERS = {
    "content-security-policy": ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                                "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"),
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",  # no-referrer would make the browser send "Origin: null" with our own forms
    # Pages show staff references and the form token; a reveal shows an identity: nothing is kept.
    "cache-control": "no-store",
}


LOOPBACK = ("127.0.0.1", "localhost", "::1")  # what `ui` listens on without --allow-remote


def host_name(host: str) -> str:
    """A host as a Host header and an address carry it (an IPv6 literal in brackets)."""
    return f"[{host}]" if ":" in host else host


@dataclass(frozen=True)
class UiConfig:
    db: Path  # the warehouse (read only for a referral pack)
    state: Path  # the analyst-state file
    out: Path  # the published outputs: out/analyst.duckdb is what the page reads
    actor: str
    allowed_hosts: frozenset[str]  # "host:port" values the Host header may carry
    referrals: Path  # where referral packs are written
    token: str = ""

    @classmethod
    def for_server(cls, *, db: Path, state: Path, out: Path, host: str, port: int, actor: str | None = None) -> UiConfig:
        names = {host_name(host), "127.0.0.1", "localhost"} if host in ("127.0.0.1", "localhost") else {host_name(host)}
        return cls(db=db, state=state, out=out, actor=current_actor(actor),
                   allowed_hosts=frozenset(f"{n}:{port}" for n in names), referrals=db.parent / "referrals",
                   token=secrets.token_urlsafe(32))


class Guard:
    """Refuses a request for another host (DNS rebinding) and adds the security headers to every response."""

    def __init__(self, app: ASGIApp, config: UiConfig) -> None:
        self.app, self.config = app, config

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        async def send_secured(message: dict) -> None:
            if message["type"] == "http.response.start":
                existing = {k.lower() for k, _ in message.get("headers", [])}
                message["headers"] = list(message.get("headers", [])) + [
                    (k.encode(), v.encode()) for k, v in SECURITY_HEADERS.items() if k.encode() not in existing]
            await send(message)

        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        if headers.get("host", "") not in self.config.allowed_hosts:
            refused = PlainTextResponse("refused: this page answers only to the address it was started on "
                                        f"({', '.join(sorted(self.config.allowed_hosts))})", status_code=400)
            await refused(scope, receive, send_secured)
            return
        await self.app(scope, receive, send_secured)


def create_app(config: UiConfig) -> Starlette:
    env = Environment(loader=PackageLoader("acu_audit.ui", "templates"), autoescape=select_autoescape(["html", "j2"]),
                      trim_blocks=True, lstrip_blocks=True)
    env.globals.update(token=config.token, actor=config.actor, statuses=STATUSES)
    env.filters["query"] = lambda params: urlencode(params)

    def render(name: str, status_code: int = 200, **values: Any) -> HTMLResponse:
        return HTMLResponse(env.get_template(name).render(**values), status_code=status_code)

    def problem(message: str, status_code: int, back: str = "/") -> HTMLResponse:
        return render("message.html.j2", status_code=status_code, title="Not done", message=message, back=back, night=None)

    async def queue_page(request: Request) -> Response:
        filters = pages.Filters.from_query(dict(request.query_params))
        try:
            view = await run_in_threadpool(pages.queue, config.out, config.state, filters)
        except AcuAuditError as exc:
            return problem(str(exc), 503)
        return render("queue.html.j2", view=view, filters=filters, night=view.night)

    async def lead_page(request: Request) -> Response:
        lead_id = request.path_params["lead_id"]
        try:
            view = await run_in_threadpool(pages.lead, config.out, config.state, lead_id)
        except LookupError:
            return problem(f"no lead {lead_id} on tonight's list or in its history", 404)
        except AcuAuditError as exc:
            return problem(str(exc), 503)
        seen = request.query_params.get("seen")
        done = request.query_params.get("done")
        return render("lead.html.j2", view=view, night=view.night, done=done if done in ACTIONS else None,
                      newer=bool(seen) and seen != view.night.run_id, today=date.today().isoformat())

    async def night_json(request: Request) -> Response:
        night = await run_in_threadpool(pages.current_night, config.out)
        return JSONResponse({"as_of": night.as_of.isoformat(), "run_id": night.run_id} if night else {})

    async def action(request: Request) -> Response:
        lead_id, name = request.path_params["lead_id"], request.path_params["action"]
        if name not in ACTIONS:
            return problem(f"no action {name!r}: one of {', '.join(ACTIONS)}", 404)
        origin = request.headers.get("origin")
        if origin is not None and origin.split("://", 1)[-1] not in config.allowed_hosts:
            return problem("refused: the form came from another site", 403)
        # Plain url-encoded forms (no multipart parser needed: no action takes a file), and small.
        if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
            return problem("refused: actions take a form", 415)
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_FORM_BYTES:
                return problem("refused: the form is too large", 413)
        form = dict(parse_qsl(body.decode("utf-8", errors="replace"), keep_blank_values=True))
        # Compared as bytes: compare_digest refuses non-ASCII text with a TypeError.
        if not hmac.compare_digest(str(form.get("token", "")).encode(), config.token.encode()):
            return problem("refused: the form's token is missing or out of date (reload the page and try again)", 403,
                           back=f"/leads/{lead_id}")
        fields = {k: str(v).strip() for k, v in form.items() if k != "token"}
        try:
            return await run_in_threadpool(perform, lead_id, name, fields)
        except AcuAuditError as exc:  # busy: the nightly run holds a file; else a rule refused it
            return problem(str(exc), 409 if isinstance(exc, DatabaseBusyError) else 400, back=f"/leads/{lead_id}")

    def perform(lead_id: str, name: str, fields: dict[str, str]) -> Response:
        from acu_audit import analyst

        seen = fields.get("seen", "")
        done = f"/leads/{lead_id}?{urlencode({'done': name, 'seen': seen})}"
        with pages.STATE_LOCK, open_state(config.state, busy_timeout_s=ACTION_BUSY_S) as store:
            if name == "status":
                store.set_status(lead_id, fields.get("status", ""), config.actor, fields.get("note") or None)
            elif name == "assign":
                store.assign(lead_id, fields.get("to", ""), config.actor)
            elif name == "suppress":
                lead = store.lead(lead_id)
                scope = fields.get("scope", "")
                if scope not in ("staff", "pair", "check"):
                    raise AcuAuditError("choose what to suppress: this member of staff, with one subject, or one check")
                if scope == "pair" and not fields.get("subject"):
                    raise AcuAuditError("a suppression of one subject needs the subject (pick it from the hits)")
                if scope == "check" and not fields.get("check"):
                    raise AcuAuditError("a suppression of one check needs the check (pick it from the hits)")
                analyst.suppress(
                    store, reason=fields.get("reason", ""), owner=fields.get("owner", ""),
                    expires_on=_day(fields.get("expires", "")), actor=config.actor,
                    staff_id=None if scope == "check" else lead["staff_id"],
                    staff_ref=None if scope == "check" else lead["staff_ref"],
                    check=fields.get("check") if scope == "check" else None,
                    subject=fields.get("subject") if scope == "pair" else None)
            elif name == "export":
                reveal = fields.get("reveal") == "yes"
                with analyst.open_warehouse_read_only(config.db, busy_timeout_s=ACTION_BUSY_S) as wh:
                    pack = analyst.export_referral_pack(store, wh, lead_id, config.referrals, actor=config.actor,
                                                        reveal=reveal, reason=fields.get("reason"))
                return render("message.html.j2", title="Referral pack written",
                              message=f"The referral pack of {lead_id} is in {pack}", back=f"/leads/{lead_id}", night=None)
            elif name == "reveal":
                lead = store.lead(lead_id)
                store.record_view(config.actor, lead_id, reveal=True, reason=fields.get("reason"))
                # Shown once, on this response only (no-store), never kept by the page.
                return render("reveal.html.j2", lead=lead, reason=fields.get("reason"), night=None)
        return RedirectResponse(done, status_code=303)

    routes = [
        Route("/", queue_page),
        Route("/leads/{lead_id}", lead_page),
        Route("/leads/{lead_id}/{action}", action, methods=["POST"]),
        Route("/night.json", night_json),
        Route("/favicon.ico", lambda request: Response(status_code=204)),  # no icon; no 404 in the console
        Mount("/static", StaticFiles(packages=[("acu_audit.ui", "static")]), name="static"),
    ]
    return Starlette(routes=routes, middleware=[Middleware(Guard, config=config)])


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise AcuAuditError(f"expiry {text!r} is not a date (YYYY-MM-DD)") from None


def serve(config: UiConfig, host: str, port: int) -> None:
    """Serve until Ctrl-C."""
    import uvicorn

    uvicorn.run(create_app(config), host=host, port=port, log_level="warning", server_header=False)
