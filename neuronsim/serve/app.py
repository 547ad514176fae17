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
further.  The sessions live and compute in worker processes, one per core by
default (:mod:`neuronsim.serve.workers`): this process only routes, so it
answers while the workers compute, and the workers use every core.
A request that goes wrong in an unexpected way gets a page saying so (and a
line in the server's log), never a crash of the server.
"""

import asyncio
import contextlib
import logging
from concurrent.futures import BrokenExecutor
from urllib.parse import parse_qs

from starlette.applications import Starlette
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from ..core.errors import NeuronsimError
from . import actions
from .page import CSS, SCRIPT, notice_html
from .sessions import Limits, StoreFull
from .workers import (
    GONE,
    Gone,
    Workers,
    in_worker_act,
    in_worker_download,
    in_worker_forget,
    in_worker_message,
    in_worker_new,
    in_worker_upload,
)

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


def create_app(limits=None, default_spec=None, default_name=None, processes=0, on_ready=None):
    """The application.  ``default_spec``: a network file's dict that every new
    session starts with (``neuronsim serve SPEC``), named ``default_name``;
    ``processes``: worker processes that hold the sessions (0: the server's own
    process, one worker thread; see :mod:`neuronsim.serve.workers`); ``on_ready()``
    is called once the workers have started and the server answers."""
    limits = limits or Limits()
    workers = Workers(limits, processes, default_spec, default_name)
    directory = workers.directory

    async def run(index, function, *args):
        loop = asyncio.get_running_loop()
        executor = workers.executor(index)
        try:
            return await loop.run_in_executor(executor, function, *args)
        except BrokenExecutor:   # the worker process died (killed, out of memory)
            if await loop.run_in_executor(None, workers.restart, index, executor):
                log.error("neuronsim serve: worker %d died; started a new one", index)
            raise Gone() from None

    async def index(request):
        name = request.query_params.get("network")
        for attempt in (1, 2):   # a second time if the worker died under the new page
            try:
                sid, where = directory.new()
            except StoreFull:
                return html(notice_html(
                    "The classroom is full",
                    f"this server holds at most {limits.max_sessions} sessions at once, and "
                    "all are in use. A session ends when its tab has been idle for "
                    f"{limits.idle_seconds / 60:g} minutes: try again in a few minutes, or "
                    "ask the teacher to start the server with a larger --max-sessions."), 503)
            for old_sid, old_where in directory.take_forgotten():
                with contextlib.suppress(Gone):
                    await run(old_where, in_worker_forget, old_sid)
            try:
                return html(await run(where, in_worker_new, sid, name))
            except Gone:
                if attempt == 2:
                    return html(notice_html(*GONE), 410)

    async def act(request):
        sid = request.path_params["sid"]
        try:
            where = directory.find(sid)
            try:
                fields = form_fields(await read_body(request, limits.body_bytes))
            except BodyTooLarge:
                text = f"a request of more than {limits.body_bytes:,} bytes"
                return html(await run(where, in_worker_message, sid, text), 413)
            except actions.ActionError as exc:
                return html(await run(where, in_worker_message, sid, str(exc)), 400)
            action = fields.pop("action", "")
            return html(await run(where, in_worker_act, sid, action, fields))
        except Gone as gone:
            return html(notice_html(*gone.notice), 410)

    async def upload(request):
        sid = request.path_params["sid"]
        try:
            where = directory.find(sid)
            try:
                body = await read_body(request, limits.body_bytes)
            except BodyTooLarge:
                text = (f"the file is larger than {limits.body_bytes:,} bytes; a network for "
                        "the classroom is much smaller (upload a smaller network)")
                return html(await run(where, in_worker_message, sid, text), 413)
            return html(await run(where, in_worker_upload, sid, body))
        except Gone as gone:
            return html(notice_html(*gone.notice), 410)

    async def download(request):
        sid = request.path_params["sid"]
        try:
            where = directory.find(sid)
            text, filename, media = await run(where, in_worker_download, sid,
                                              request.path_params["what"],
                                              request.query_params.get("format", "plain"))
        except Gone as gone:
            return html(notice_html(*gone.notice), 410)
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
    @contextlib.asynccontextmanager
    async def lifespan(app):
        await asyncio.get_running_loop().run_in_executor(None, workers.warm_up)
        if on_ready is not None:
            on_ready()
        try:
            yield
        finally:
            workers.shutdown()

    app = Starlette(routes=routes, exception_handlers={404: not_found, 405: not_found,
                                                       Exception: failure},
                    lifespan=lifespan)
    app.state.workers = workers
    app.state.limits = limits
    return app
