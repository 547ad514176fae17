"""``neuronsim serve [SPEC]``: the classroom web app (the ``neuronsim[serve]`` extra).

Starts a local web server (Starlette on uvicorn, neuronsim.serve) in which
each browser tab has its own network: pick a bundled example or upload a
file, edit any number, then Forward, Backward, Update, Step, Epoch or Play,
and see every number the reference computes.  It listens on 127.0.0.1
unless ``--host`` opens it to a network (``--host 0.0.0.0``: every address of
this computer; the command prints the addresses to share).
"""

import os
import socket

from ..core.errors import NeuronsimError
from ..files.spec import spec_from_network
from . import budgets
from .loading import load_network_argument

INSTALL = 'pip install "neuronsim[serve]"'


def _require_extra():
    try:
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError:
        raise NeuronsimError(f"serve needs the serve extra (Starlette and uvicorn): "
                             f"{INSTALL}") from None


def addresses_to_share(host, port):
    """The addresses students type: the host given, or for 0.0.0.0 / :: this
    computer's own addresses (its name's, looked up locally)."""
    if host not in ("0.0.0.0", "::", ""):
        return [f"http://{_bracketed(host)}:{port}/"]
    found = []
    try:
        name = socket.gethostname()
        for info in socket.getaddrinfo(name, None, proto=socket.IPPROTO_TCP):
            address = info[4][0]
            if not address.startswith("127.") and address != "::1" and address not in found:
                found.append(address)
    except OSError:
        pass
    return [f"http://{_bracketed(a)}:{port}/" for a in found] or [
        f"http://<this computer's address>:{port}/"]


def _bracketed(host):
    return f"[{host}]" if ":" in host else host


def run_serve(args):
    _require_extra()
    from ..serve.app import create_app
    from ..serve.sessions import Limits

    if not 1 <= args.port <= 65535:
        raise NeuronsimError(f"--port: expected 1 to 65535, got {args.port}")
    if args.max_sessions < 1:
        raise NeuronsimError(f"--max-sessions: expected at least 1, got {args.max_sessions}")
    if args.workers is None:
        args.workers = os.cpu_count() or 1
    if not 0 <= args.workers <= 64:
        raise NeuronsimError(f"--workers: expected 0 to 64, got {args.workers}")
    if not args.idle_minutes > 0:
        raise NeuronsimError(f"--idle-minutes: expected a number > 0, got {args.idle_minutes}")
    if not args.unused_minutes > 0:
        raise NeuronsimError(f"--unused-minutes: expected a number > 0, got "
                             f"{args.unused_minutes}")
    limits = Limits(max_sessions=args.max_sessions, idle_seconds=args.idle_minutes * 60,
                    unused_seconds=args.unused_minutes * 60)
    spec = name = None
    if args.spec:
        net = load_network_argument(args.spec, budget=budgets.single_step("serve"))
        spec, name = spec_from_network(net), net.name or args.spec
        from ..serve.actions import check_size
        check_size(spec, limits)
    local = args.host in ("127.0.0.1", "localhost", "::1")

    def ready():
        print(f"neuronsim serve: open http://{_bracketed(args.host)}:{args.port}/ in a browser"
              + ("" if local else "; students open " + " or ".join(
                  addresses_to_share(args.host, args.port))), flush=True)
        print("each tab has its own network; press Ctrl+C to stop", flush=True)

    app = create_app(limits, default_spec=spec, default_name=name, processes=args.workers,
                     on_ready=ready)
    import uvicorn

    print(f"neuronsim serve: starting {args.workers} worker process"
          f"{'es' if args.workers != 1 else ''}…", flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level)
    return 0


def register(subparsers):
    parser = subparsers.add_parser(
        "serve", help="a classroom web app: edit a network, step it, see every number "
                      "(needs neuronsim[serve])",
        description="Starts a local web server.  Each browser tab gets its own network: pick "
                    "a bundled example or upload a file, edit any weight, bias, input, target, "
                    "the learning rate or the optimizer, then Forward, Backward, Update, Step, "
                    "Epoch or Play; the diagram, the tables with the chain rule, the loss curve "
                    "and the decision boundary follow.  Every number comes from the reference "
                    "on the server.  Listens on 127.0.0.1 unless --host says otherwise.")
    parser.add_argument("spec", metavar="SPEC", nargs="?",
                        help="a network file or a bundled example's name that every new tab "
                             "starts with (default: none; each tab picks one)")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (default 127.0.0.1: this computer only; "
                             "0.0.0.0 opens it to the classroom's network)")
    parser.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    parser.add_argument("--max-sessions", type=int, default=100, metavar="N",
                        help="tabs open at once (default 100); past it a new tab gets a page "
                             "saying the classroom is full")
    parser.add_argument("--idle-minutes", type=float, default=30, metavar="M",
                        help="a tab idle this long loses its network (default 30)")
    parser.add_argument("--unused-minutes", type=float, default=2, metavar="M",
                        help="when --max-sessions tabs are open, a page opened at least this "
                             "long ago and never used since (a reloaded tab leaves one "
                             "behind) gives its place to a new tab (default 2)")
    parser.add_argument("--workers", type=int, metavar="N",
                        help="processes that hold the sessions and compute (default: one per "
                             "core; 0: the server's own process)")
    parser.add_argument("--log-level", default="warning",
                        choices=["critical", "error", "warning", "info", "debug"],
                        help="uvicorn's log level (default warning)")
    parser.set_defaults(run=run_serve)
