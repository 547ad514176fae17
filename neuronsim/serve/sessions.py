"""Sessions of ``neuronsim serve``: one per browser tab, bounded, expiring.

A :class:`Session` holds one student's network and what the page shows of
it; a :class:`SessionStore` hands out sessions under random ids
(``secrets.token_urlsafe``: 128 bits, so an id cannot be guessed, and one
tab never reaches another's network), forgets those idle for longer than
``Limits.idle_seconds``, and refuses a new one past ``Limits.max_sessions``.

Every bound of the server is in :class:`Limits`, with the reason for each.
Memory per session is bounded by the network's size (``work``, checked
before a network is built, and ``parameters``) and by ``history`` (loss
points kept for the curve); a session keeps one network, one copy of it as
shown, and the trace records of one step.
"""

import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass, field


@dataclass
class Limits:
    """The bounds of one server.

    ``max_sessions``: tabs open at once (about 100 KB each for the bundled
    examples; a full classroom is a few dozen);
    ``idle_seconds``: a tab untouched this long is forgotten;
    ``unused_seconds``: when every place is taken, a page opened this long ago
    and never used since (no action, upload or download: a reloaded tab, a
    link checker) gives its place to a new one;
    ``history``: loss points kept per session (older ones are dropped);
    ``body_bytes``: the largest request body (an uploaded network file);
    ``parameters``: weights and biases of a network a session may hold;
    ``work``: work units (neuronsim.cli.budgets.step_work) of one action, an
    epoch over every sample included (about 5 million a second: an action
    answers in well under a second, and one student cannot hold up the
    others for long);
    ``edit_rows``: parameters the page lists with an edit box (a bigger
    network's parameters are edited by clicking them in the diagram);
    ``play_steps``: Steps one Play may run before it stops by itself.
    """

    max_sessions: int = 100
    idle_seconds: float = 30 * 60
    unused_seconds: float = 2 * 60
    history: int = 2000
    body_bytes: int = 1024 * 1024
    parameters: int = 20_000
    work: int = 2_000_000
    edit_rows: int = 120
    play_steps: int = 2000


@dataclass
class Session:
    """One tab's state.

    ``net``: the network as it stands (its weights are the current ones);
    ``shown``: a copy after the passes the page shows (``phase``: "fresh",
    "forward", "backward" or "updated"), whose z, a and δ the diagram draws;
    ``before``: the network those passes started from (``net`` itself unless
    they ended in an update);
    ``record``: the trace record of those passes (a StepRecord, or a
    SequenceRecord for a network that reads sequences), None if nothing was
    traced or the tracer refused the network (``refusal`` says why);
    ``sample``: the 0-based index of the sample the passes use;
    ``losses``: (updates so far, loss over every sample) after each update;
    ``time_step``: the time step whose tables the page shows (a sequence);
    ``selected``: what the student clicked, ("neuron", l, j) or
    ("weight", l, j, k), 0-based, or None; ``message``: the last action's
    result, (kind, text) with kind "info" or "error".
    """

    id: str
    net: object = None
    name: str = ""
    shown: object = None
    before: object = None
    record: object = None
    refusal: str = None
    phase: str = "fresh"
    sample: int = 0
    updates: int = 0
    epochs: int = 0
    losses: deque = None
    selected: tuple = None
    message: tuple = None
    optimizer: str = "gd"
    epoch_count: int = 1    # epochs one press of Epoch runs (the menu's choice)
    time_step: int = None   # a sequence's tables show this step t (from 1); None: the last
    last_seen: float = 0.0
    cache: dict = field(default_factory=dict, repr=False)   # pictures kept while unchanged
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def touch(self, now):
        self.last_seen = now


class StoreFull(Exception):
    """No room for another session (Limits.max_sessions)."""


class SessionStore:
    """Sessions by id; thread-safe.  ``clock`` is injectable for tests."""

    def __init__(self, limits=None, clock=time.monotonic):
        self.limits = limits or Limits()
        self.clock = clock
        self._sessions = {}
        self._lock = threading.Lock()

    def __len__(self):
        with self._lock:
            return len(self._sessions)

    def new(self, sid=None):
        """A new empty session (under ``sid``, or a new random id); StoreFull when
        ``max_sessions`` are open (idle ones are forgotten first)."""
        now = self.clock()
        with self._lock:
            self._expire(now)
            if len(self._sessions) >= self.limits.max_sessions:
                raise StoreFull(self.limits.max_sessions)
            sid = sid or secrets.token_urlsafe(16)
            session = Session(id=sid, losses=deque(maxlen=self.limits.history), last_seen=now)
            self._sessions[sid] = session
            return session

    def get(self, sid):
        """The session ``sid``, or None (unknown, or expired)."""
        now = self.clock()
        with self._lock:
            self._expire(now)
            session = self._sessions.get(sid) if isinstance(sid, str) else None
            if session is not None:
                session.touch(now)
            return session

    def forget(self, sid):
        """Drop session ``sid`` now (nothing if there is none)."""
        with self._lock:
            self._sessions.pop(sid, None)

    def _expire(self, now):
        idle = self.limits.idle_seconds
        for sid in [sid for sid, s in self._sessions.items() if now - s.last_seen > idle]:
            del self._sessions[sid]
