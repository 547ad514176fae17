"""The routes of ``neuronsim serve`` (a Starlette application).

==========================================  ==========================================
``GET /``                                   a new session's page (``?network=NAME``: a
                                            bundled example loaded; ``?actions=``: the
                                            page runs those actions, see page.SCRIPT)
``POST /s/{id}/act``                        one action (form fields ``action``, ...):
                                            the panel's HTML
``POST /s/{id}/upload``                     a network file as the body: the panel
``GET /s/{id}/download/{what}``             ``network``, ``trace?format=F``,
                                            ``walkthrough``
``GET /app.js``, ``GET /app.css``           the page's script and style (in memory)
==========================================  ==========================================

No route takes a file name: nothing on the server's disk is read or written
on a request (the network a teacher names on the command line is read once,
at start).  Every request body is read up to ``Limits.body_bytes`` and no
further; every action runs under its session's lock in a worker thread, so
one student's long epoch does not stop the server from answering the others.
A request that goes wrong in an unexpected way gets a page saying so (and a
line in the server's log), never a crash of the server.
"""

import logging
from urllib.parse import parse_qs

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from ..core.errors import NeuronsimError
from . import actions, downloads
from .page import CSS, SCRIPT, notice_html, page_html, panel_html
from .sessions import Limits, SessionStore, StoreFull

log = logging.getLogger("neuronsim.serve")

# The page's own rules for the browser: scripts and styles from this server only.
HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self' "
                               "'unsafe-inline'; img-src 'self' data:; connect-src 'self'; "
                               "form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
MAX_FIELDS = 20          # form fields of one action
GONE = ("This session has ended", "it was idle for too long, or the server restarted, or the "
        "address is not one this server gave out. Reload the page to start a new session.")


class BodyTooLarge(Exception):
    pass


async def read_body(request, limit):
    """The request body, at most ``limit`` bytes (refused as soon as it is
    longer: a huge body is never held in memory)."""
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > limit):
        raise BodyTooLarge()
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge()
        chunks.append(chunk)
    return b"".join(chunks)


def form_fields(body):
    """An urlencoded body as {name: first value}; an ActionError if it is not one."""
    try:
        text = body.decode("utf-8")
        fields = parse_qs(text, keep_blank_values=True, max_num_fields=MAX_FIELDS)
    except (UnicodeDecodeError, ValueError):
        raise actions.ActionError("a request the page would not send (not a form of at most "
                                  f"{MAX_FIELDS} fields)") from None
    return {key: values[0] for key, values in fields.items()}


def html(text, status=200):
    return HTMLResponse(text, status_code=status, headers=HEADERS)


def create_app(limits=None, default_spec=None, default_name=None, store=None):
    """The application.  ``default_spec``: a network file's dict that every new
    session starts with (``neuronsim serve SPEC``), named ``default_name``."""
    limits = limits or Limits()
    store = store or SessionStore(limits)
    bundled = actions.bundled_names()

    def start(session, name):
        if default_spec is not None and name is None:
            actions.adopt_spec(session, default_spec, default_name or "network", limits)
        elif name:
            actions.load_bundled(session, name, limits)

    async def index(request):
        try:
            session = store.new()
        except StoreFull:
            return html(notice_html(
                "The classroom is full",
                f"this server holds at most {limits.max_sessions} sessions at once, and all "
                "are in use. A session ends when its tab has been idle for "
                f"{limits.idle_seconds / 60:g} minutes: try again in a few minutes, or ask "
                "the teacher to start the server with a larger --max-sessions."), 503)
        name = request.query_params.get("network")
        with session.lock:
            try:
                await run_in_threadpool(start, session, name)
            except (NeuronsimError, ValueError, ArithmeticError) as exc:
                session.message = ("error", str(exc))
            return html(page_html(session, limits, bundled))

    async def act(request):
        session = store.get(request.path_params["sid"])
        if session is None:
            return html(notice_html(*GONE), 410)
        try:
            fields = form_fields(await read_body(request, limits.body_bytes))
        except BodyTooLarge:
            return await _panel_message(session, f"a request of more than "
                                                 f"{limits.body_bytes:,} bytes", 413)
        except actions.ActionError as exc:
            return await _panel_message(session, str(exc), 400)
        action = fields.pop("action", "")

        def work():
            with session.lock:
                actions.act(session, action, fields, limits)
                return panel_html(session, limits)

        return html(await run_in_threadpool(work))

    async def _panel_message(session, text, status):
        def work():
            with session.lock:
                session.message = ("error", text)
                return panel_html(session, limits)
        return html(await run_in_threadpool(work), status)

    async def upload(request):
        session = store.get(request.path_params["sid"])
        if session is None:
            return html(notice_html(*GONE), 410)
        try:
            body = await read_body(request, limits.body_bytes)
        except BodyTooLarge:
            return await _panel_message(
                session, f"the file is larger than {limits.body_bytes:,} bytes; a network "
                         "for the classroom is much smaller (upload a smaller network)", 413)

        def work():
            with session.lock:
                try:
                    actions.load_upload(session, body, limits)
                except (NeuronsimError, ValueError, ArithmeticError) as exc:
                    session.message = ("error", f"upload: {exc}")
                return panel_html(session, limits)

        return html(await run_in_threadpool(work))

    async def download(request):
        session = store.get(request.path_params["sid"])
        if session is None:
            return html(notice_html(*GONE), 410)
        what = request.path_params["what"]

        def work():
            with session.lock:
                if what == "network":
                    return downloads.network_file(session)
                if what == "trace":
                    return downloads.trace_file(session,
                                                request.query_params.get("format", "plain"))
                if what == "walkthrough":
                    return downloads.walkthrough_file(session)
                raise NeuronsimError("unknown download (network, trace or walkthrough)")

        try:
            text, filename, media = await run_in_threadpool(work)
        except (NeuronsimError, ValueError, ArithmeticError) as exc:
            return html(notice_html("Nothing to download", str(exc)), 400)
        headers = {"Content-Disposition": f'attachment; filename="{filename}"',
                   "X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"}
        return Response(text.encode("utf-8"), media_type=f"{media}; charset=utf-8",
                        headers=headers)

    async def script(request):
        return Response(SCRIPT, media_type="text/javascript; charset=utf-8",
                        headers={"X-Content-Type-Options": "nosniff"})

    async def style(request):
        return Response(CSS, media_type="text/css; charset=utf-8",
                        headers={"X-Content-Type-Options": "nosniff"})

    async def not_found(request, exc):
        status = getattr(exc, "status_code", 404)
        text = {404: "there is no such page here", 405: "this address takes another method"}
        return html(notice_html("Not here", text.get(status, "a request this server does "
                                                             "not answer")), status)

    async def failure(request, exc):
        log.exception("neuronsim serve: unexpected error on %s", request.url.path)
        return html(notice_html("Something went wrong", "the server could not answer this "
                                "request (it is logged); the other sessions go on. Reload the "
                                "page."), 500)

    routes = [
        Route("/", index),
        Route("/s/{sid}/act", act, methods=["POST"]),
        Route("/s/{sid}/upload", upload, methods=["POST"]),
        Route("/s/{sid}/download/{what}", download),
        Route("/app.js", script),
        Route("/app.css", style),
    ]
    app = Starlette(routes=routes, exception_handlers={404: not_found, 405: not_found,
                                                       Exception: failure})
    app.state.store = store
    app.state.limits = limits
    return app
