"""neuronsim serve under a classroom's load: 30 students stepping the bundled examples.

A real uvicorn server runs in its own process (so that the clients' threads
do not share its interpreter lock) on a loopback port; 30 clients, each its
own session on a bundled example (mazur, xor, four-layer, rnn in turn),
press Step as a student does: a look at the page (``THINK`` seconds, jittered
from 1 to 3 s: the page is full of numbers), a Step, and so on; a few press
Epoch or Backward instead.  The server does one action in about 5 to 20 ms
(the trace tables are most of it), in one process: about 60 actions a second
on one core, so this load is about a quarter of what it can take.
The answers' 95th percentile must be under 200 ms.  If it is not, and the
machine was already busy with other work before the run (a load average
above its number of cores: waits for a core then dominate), the test skips,
printing what it measured, rather than blame the server; on a machine the
class has to itself (CI) it must hold.  The run is bounded:
``STEPS`` requests per client, and the whole test stops after ``DEADLINE``
seconds whatever happens.  Only 127.0.0.1 is contacted.
"""

import http.client
import os
import random
import re
import subprocess
import sys
import threading
import time
import urllib.parse

import pytest

for _name in ("starlette", "uvicorn"):
    pytest.importorskip(_name, reason='the serve extra: pip install "neuronsim[serve]"')

CLIENTS = 30
STEPS = 3             # requests per client after its page
THINK = 2.0           # seconds a student looks at the page between presses (1 to 3 s)
P95_LIMIT = 0.200     # seconds
DEADLINE = 60         # seconds for the whole run, whatever happens
EXAMPLES = ["mazur", "xor", "four-layer", "rnn"]
PROCESSES = 2         # worker processes, as `neuronsim serve` starts on this 2-core machine

# The socket is made with proto IPPROTO_TCP: asyncio sets TCP_NODELAY only on such
# sockets, and without it every answer waits 40 ms for a delayed ACK (Nagle).
SERVER = """
import socket, sys
import uvicorn
from neuronsim.serve.app import create_app
from neuronsim.serve.sessions import Limits
sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
sock.bind(("127.0.0.1", 0))
print(sock.getsockname()[1], flush=True)
app = create_app(Limits(), processes=int(sys.argv[1]))
server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
server.run(sockets=[sock])
"""


@pytest.fixture()
def server_port():
    process = subprocess.Popen([sys.executable, "-c", SERVER, str(PROCESSES)],
                               stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    try:
        port = int(process.stdout.readline())
        deadline = time.monotonic() + 90   # spawning the workers imports neuronsim twice
        while True:   # until it answers
            try:
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                connection.request("GET", "/app.css")
                connection.getresponse().read()
                connection.close()
                break
            except OSError:
                assert time.monotonic() < deadline, "the server did not start"
                time.sleep(0.05)
        yield port
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def student(port, number, stop_at, times, failures):
    rng = random.Random(number)
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    try:
        connection.request("GET", f"/?network={EXAMPLES[number % len(EXAMPLES)]}")
        page = connection.getresponse().read().decode()
        sid = re.search(r'data-session="([^"]+)"', page).group(1)
        for press in range(STEPS):
            time.sleep(THINK * rng.uniform(0.5, 1.5))
            if time.monotonic() > stop_at:
                return
            action = "epoch" if press == 2 and number % 5 == 0 else (
                "backward" if press == 1 else "step")
            body = urllib.parse.urlencode({"action": action})
            start = time.monotonic()
            connection.request("POST", f"/s/{sid}/act", body=body,
                               headers={"Content-Type": "application/x-www-form-urlencoded"})
            response = connection.getresponse()
            text = response.read().decode()
            times.append(time.monotonic() - start)
            if response.status != 200 or 'class="message error"' in text:
                failures.append((number, action, response.status, text[:200]))
    except Exception as exc:   # reported below, with the others
        failures.append((number, "exception", repr(exc)))
    finally:
        connection.close()


@pytest.mark.slow
def test_thirty_students_stepping_get_answers_in_under_200_ms(server_port):
    times, failures = [], []
    busy_before = os.getloadavg()[0]
    stop_at = time.monotonic() + DEADLINE
    threads = [threading.Thread(target=student, args=(server_port, n, stop_at, times, failures))
               for n in range(CLIENTS)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(max(0.0, stop_at - time.monotonic()) + 5)
    took = time.monotonic() - started
    assert not failures, failures[:3]
    assert len(times) == CLIENTS * STEPS, f"{len(times)} answers in {took:.1f} s"
    times.sort()
    p95 = times[int(0.95 * len(times)) - 1]
    report = (f"{len(times)} answers from {CLIENTS} students in {took:.1f} s: median "
              f"{times[len(times) // 2] * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms, max "
              f"{times[-1] * 1000:.0f} ms")
    print(report)
    if os.environ.get("NEURONSIM_SERVE_LOAD_REPORT"):
        with open(os.environ["NEURONSIM_SERVE_LOAD_REPORT"], "a", encoding="utf-8") as out:
            out.write(report + "\n")
    cores = os.cpu_count() or 1
    if p95 >= P95_LIMIT and busy_before > cores:
        # Each answer crosses two processes; on a machine already running more than one
        # process per core for others, the waits for a core are the operating system's,
        # not the server's: the bound is for a machine the class has to itself.
        pytest.skip(f"not measurable now: the machine was busy before the run (load average "
                    f"{busy_before:.1f} on {cores} cores); {report}")
    assert p95 < P95_LIMIT, report
