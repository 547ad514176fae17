"""Where the sessions of ``neuronsim serve`` live and compute: worker processes.

Every neuron is a Python object, so an action is Python work, and one
Python process computes on one core at a time.  The server therefore keeps
its sessions in ``processes`` worker processes (by default one per core):
each session lives in one worker for its whole life, and every action,
upload and download of that session runs there.  The web server's own
process only routes: it keeps a :class:`Directory` (session id -> worker,
last seen), which enforces ``Limits.max_sessions`` and forgets idle ids.
A worker runs one action at a time, so one session's actions never
overlap; an action is bounded by ``Limits.work``, so a long one holds up
the other sessions of its worker for well under a second.

``processes=0`` keeps the sessions in the server's process instead (one
worker thread): for tests, and for machines where starting processes is
not wanted.

The functions named ``in_worker_*`` run inside a worker; each worker holds
its sessions in the module-level :data:`_WORKER` (one per process, set by
:func:`_start_worker`; in the ``processes=0`` mode, per server).
"""

import multiprocessing
import os
import secrets
import threading
import time
from collections import deque
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import replace

from ..core.errors import NeuronsimError
from . import actions, downloads
from .page import notice_html, page_html, panel_html
from .sessions import SessionStore, StoreFull

# The sessions of this worker (a process; or, with processes=0, the server's thread).
_WORKER = {}

GONE = ("This session has ended", "it was idle for too long, or the server restarted, or the "
        "address is not one this server gave out. Reload the page to start a new session.")


def unused_notice(seconds):
    """The notice of a page that gave its place after ``seconds`` unused
    (``Limits.unused_seconds``, set by ``neuronsim serve --unused-minutes``)."""
    minutes = seconds / 60
    span = f"{minutes:g} minute{'' if minutes == 1 else 's'}"
    return ("This page gave its place to a new one",
            f"the classroom was full, and this page had not been used in the {span} since it "
            "was opened (a page counts as used once it sends an action). Reload the page to "
            "start a new session.")


class Gone(Exception):
    """No such session (expired, or never given out); ``notice`` is the
    (title, text) of the page that says so."""

    def __init__(self, sid=None, notice=GONE):
        super().__init__(sid)
        self.notice = notice


# ------------------------------------------------------------------ in a worker
def _start_worker(limits, default_spec, default_name, parent=None):
    """A worker's initializer: its own store (the directory counts sessions).
    A worker process (``parent``: the server's pid) ends when the server is
    gone, however it ended."""
    if parent is not None:
        threading.Thread(target=_end_with, args=(parent,), daemon=True).start()
    _WORKER["store"] = SessionStore(replace(limits, max_sessions=10 ** 9))
    _WORKER["limits"] = limits
    _WORKER["default"] = (default_spec, default_name)


def _end_with(parent, every=1.0):
    while os.getppid() == parent:
        time.sleep(every)
    os._exit(0)


def _session(sid):
    session = _WORKER["store"].get(sid)
    if session is None:
        raise Gone(sid)
    return session


def in_worker_new(sid, name):
    """A new session's page (``name``: a bundled example to load, or None)."""
    limits = _WORKER["limits"]
    session = _WORKER["store"].new(sid)
    spec, default_name = _WORKER["default"]
    try:
        if name:
            actions.load_bundled(session, name, limits)
        elif spec is not None:
            actions.adopt_spec(session, spec, default_name or "network", limits)
    except (NeuronsimError, ValueError, ArithmeticError) as exc:
        session.message = ("error", str(exc))
    return page_html(session, limits, actions.bundled_names())


def in_worker_forget(sid):
    """Drop session ``sid`` (the directory gave its place to a new one)."""
    _WORKER["store"].forget(sid)


def in_worker_act(sid, action, fields):
    session = _session(sid)
    with session.lock:
        actions.act(session, action, fields, _WORKER["limits"])
        return panel_html(session, _WORKER["limits"])


def in_worker_message(sid, text):
    """The panel with an error message (a request refused before it was read)."""
    session = _session(sid)
    with session.lock:
        session.message = ("error", text)
        return panel_html(session, _WORKER["limits"])


def in_worker_upload(sid, body):
    session = _session(sid)
    limits = _WORKER["limits"]
    with session.lock:
        try:
            actions.load_upload(session, body, limits)
        except (NeuronsimError, ValueError, ArithmeticError) as exc:
            session.message = ("error", f"upload: {exc}")
        return panel_html(session, limits)


def in_worker_download(sid, what, format):
    """(text, file name, media type); a NeuronsimError says why there is none."""
    session = _session(sid)
    with session.lock:
        if what == "network":
            return downloads.network_file(session)
        if what == "trace":
            return downloads.trace_file(session, format)
        if what == "walkthrough":
            return downloads.walkthrough_file(session)
        raise NeuronsimError("unknown download (network, trace or walkthrough)")


# ------------------------------------------------------------------ in the server
class Directory:
    """Which worker holds each session, when it was last used, and whether it
    was used at all after its page was opened (thread-safe)."""

    def __init__(self, limits, workers, clock=time.monotonic):
        self.limits = limits
        self.workers = workers
        self.clock = clock
        self._where = {}    # id -> [worker index, last seen, used since the page was opened]
        self._forgotten = []
        self._gave_way = deque(maxlen=limits.max_sessions)   # ids of pages that gave way
        self._lock = threading.Lock()

    def __len__(self):
        with self._lock:
            return len(self._where)

    def new(self):
        """(id, worker index) of a new session, on the worker with the fewest.

        When ``max_sessions`` are open, idle ones are forgotten first, then the
        oldest page that was only opened: a session with no action, upload or
        download for ``Limits.unused_seconds`` (a reloaded tab leaves one behind;
        so does a link checker).  StoreFull if that makes no room either.  The
        sessions forgotten this way are in :meth:`take_forgotten` (their worker
        still holds them)."""
        now = self.clock()
        with self._lock:
            self._expire(now)
            if len(self._where) >= self.limits.max_sessions:
                unused = [(seen, sid) for sid, (_, seen, used) in self._where.items()
                          if not used and now - seen >= self.limits.unused_seconds]
                if not unused:
                    raise StoreFull(self.limits.max_sessions)
                self._forget(min(unused)[1])
            counts = [0] * self.workers
            for index, _, _ in self._where.values():
                counts[index] += 1
            index = counts.index(min(counts))
            sid = secrets.token_urlsafe(16)
            self._where[sid] = [index, now, False]
            return sid, index

    def find(self, sid):
        """The worker index of session ``sid``; Gone if unknown or expired."""
        now = self.clock()
        with self._lock:
            self._expire(now)
            entry = self._where.get(sid) if isinstance(sid, str) else None
            if entry is None:
                raise Gone(sid, unused_notice(self.limits.unused_seconds) if sid in self._gave_way
                           else GONE)
            entry[1], entry[2] = now, True
            return entry[0]

    def forget_worker(self, index):
        """Worker ``index`` died: its sessions are gone, and their places free."""
        with self._lock:
            for sid in [s for s, (where, _, _) in self._where.items() if where == index]:
                del self._where[sid]

    def take_forgotten(self):
        """[(id, worker index)] of the unused sessions :meth:`new` forgot since the
        last call, for their workers to drop."""
        with self._lock:
            forgotten, self._forgotten = self._forgotten, []
            return forgotten

    def _forget(self, sid):
        self._forgotten.append((sid, self._where.pop(sid)[0]))
        self._gave_way.append(sid)

    def _expire(self, now):
        idle = self.limits.idle_seconds
        for sid in [s for s, (_, seen, _) in self._where.items() if now - seen > idle]:
            del self._where[sid]


class Workers:
    """The worker processes (or one thread for ``processes=0``) and the directory."""

    def __init__(self, limits, processes, default_spec=None, default_name=None):
        setup = (limits, default_spec, default_name)
        if processes == 0:
            _start_worker(*setup)
            self.executors = [ThreadPoolExecutor(max_workers=1)]
        else:
            context = multiprocessing.get_context("spawn")
            setup += (os.getpid(),)
            self.setup = setup
            self.executors = [ProcessPoolExecutor(max_workers=1, mp_context=context,
                                                  initializer=_start_worker, initargs=setup)
                              for _ in range(processes)]
        self.directory = Directory(limits, len(self.executors))
        self._restarting = threading.Lock()

    def warm_up(self):
        """Start every worker now (a spawned process imports neuronsim first)."""
        for future in [e.submit(time.monotonic) for e in self.executors]:
            future.result()

    def executor(self, index):
        return self.executors[index]

    def restart(self, index, broken):
        """A new process in place of worker ``index`` if it is still ``broken``,
        the executor that died (requests that saw the death at once restart it
        once).  Its sessions are gone: the directory frees their places, and their
        tabs get the page that says so.  True if this call restarted it."""
        with self._restarting:
            if self.executors[index] is not broken:
                return False
            self.directory.forget_worker(index)
            self.executors[index] = ProcessPoolExecutor(
                max_workers=1, mp_context=multiprocessing.get_context("spawn"),
                initializer=_start_worker, initargs=self.setup)
            broken.shutdown(wait=False, cancel_futures=True)
            return True

    def shutdown(self):
        for executor in self.executors:
            executor.shutdown(wait=True, cancel_futures=True)


__all__ = ["Directory", "Gone", "GONE", "StoreFull", "Workers", "notice_html"]
