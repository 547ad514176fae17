"""Running command lines under hard limits: a time limit per command and a
memory limit for the process (resource.setrlimit in a subprocess).

``run_bounded(argvs, cwd)`` starts one Python process, limits its address
space to ``MEMORY`` bytes, and runs each argv through ``neuronsim.cli.main``
with an alarm of ``SECONDS``; it returns one result per argv: the exit
status (or "timeout" / "memory"), stderr, and the seconds it took.
Starting one process for a batch keeps the tests fast.
"""

import json
import os
import subprocess
import sys

SECONDS = 20                     # per command; every refusal takes well under a second
MEMORY = 2 * 1024 ** 3           # address space of the whole process

RUNNER = r"""
import contextlib, io, json, resource, signal, sys, time
limit = int(sys.argv[1]); seconds = int(sys.argv[2])
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
from neuronsim.cli.main import main

class Timeout(BaseException):
    pass

def alarm(signum, frame):
    raise Timeout()

signal.signal(signal.SIGALRM, alarm)
results = []
for argv in json.load(sys.stdin):
    out, err = io.StringIO(), io.StringIO()
    start = time.perf_counter()
    signal.alarm(seconds)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                status = main(argv)
            except SystemExit as exc:
                status = exc.code
    except Timeout:
        status = "timeout"
    except MemoryError:
        status = "memory"
    finally:
        signal.alarm(0)
    results.append({"argv": argv, "status": status, "err": err.getvalue(),
                    "seconds": time.perf_counter() - start})
sys.__stdout__.write(json.dumps(results))
"""


def run_bounded(argvs, cwd, seconds=SECONDS, memory=MEMORY):
    """Results of running each of ``argvs`` in one limited subprocess."""
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1",
               MKL_NUM_THREADS="1", PYTHONIOENCODING="utf-8")
    done = subprocess.run([sys.executable, "-c", RUNNER, str(memory), str(seconds)],
                          input=json.dumps(argvs), capture_output=True, text=True, cwd=cwd,
                          env=env, timeout=seconds * len(argvs) + 60)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout)


def assert_well_behaved(result, seconds=SECONDS):
    """Exit 0, 1 or 2; on 2 exactly one line on stderr, never a traceback; in time."""
    argv, status, err = result["argv"], result["status"], result["err"]
    assert status in (0, 1, 2), (argv, status, err[-500:])
    assert "Traceback" not in err, (argv, err[-2000:])
    if status == 2:
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("neuronsim"), (argv, err[:2000])
    assert result["seconds"] < seconds, (argv, result["seconds"])
