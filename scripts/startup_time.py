"""Whole-process start-up time of a neuronsim command against python's own, as a new user
sees it: in a fresh virtual environment holding only what ``pip install`` brings.

    python3 -m venv /tmp/fresh && /tmp/fresh/bin/pip install .   # pip compiles the bytecode
    python3 scripts/startup_time.py /tmp/fresh                     # bytecode cached ("warm")
    python3 scripts/startup_time.py /tmp/fresh --cold              # neuronsim compiled each run
    python3 scripts/startup_time.py /tmp/fresh --command "neuronsim trace xor --steps 3"
    python3 scripts/startup_time.py /tmp/fresh --against /tmp/fresh-main   # an older install

Each round runs, in turn, ``python -c pass``, ``python -c "import tabulate"`` (a yardstick:
the table library neuronsim depends on) and the command (``neuronsim trace mazur`` unless
``--command`` names another), all with the environment's python; one round is a warm-up,
then ``--runs`` rounds are counted.  For each it prints the wall time (``time.perf_counter``
around the process, run in an empty temporary folder) and the CPU time (the child's user + system time, from
``resource.getrusage``) as min, median and max, then the command's ratio to
``python -c pass``, the median of the ratios of each round (so that a slow second of a shared
machine hits both sides of a ratio alike).  Quote medians and ratios, not single runs.
``--against`` another environment (another version of neuronsim, installed the same way)
adds its run of the command to each round, and the ratio of the two.

``--cold``: each environment's neuronsim package is copied without its ``__pycache__``
folders into a temporary folder put first on its PYTHONPATH, with PYTHONDONTWRITEBYTECODE=1,
so that every
neuronsim module is compiled from source in every run (python's own modules and the other
packages keep their cached bytecode).

Where the time goes, module by module (cumulative microseconds; the figures of a single run
are noisy, and -X importtime adds its own cost):

    /tmp/fresh/bin/python -X importtime -c "from neuronsim.cli.main import main; \\
        main(['trace', 'mazur'])" 2>&1 >/dev/null | sort -t'|' -k2 -n | tail -30
"""

import argparse
import os
import resource
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time


def timed(argv, env, folder):
    """(wall seconds, CPU seconds) of one run of ``argv`` in ``folder``; its output is
    discarded."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    result = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env,
                            cwd=folder)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if result.returncode != 0:
        sys.exit(f"startup_time: {shlex.join(argv)} exited with status {result.returncode}: "
                 f"{result.stderr.decode(errors='replace').strip()[-500:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def cold_copy(python, folder):
    """A copy of the environment's neuronsim package in ``folder``, without bytecode.
    (Asked from ``folder``: ``python -c`` looks in the current folder first, where a
    checkout's own package would be found.)"""
    found = subprocess.run([python, "-c", "import importlib.util; "
                            "print(importlib.util.find_spec('neuronsim').submodule_search_locations[0])"],
                           capture_output=True, text=True, check=True, cwd=folder).stdout.strip()
    shutil.copytree(found, os.path.join(folder, "neuronsim"),
                    ignore=shutil.ignore_patterns("__pycache__"))


def milliseconds(values):
    return "  ".join(f"{1000 * v:7.1f}" for v in (min(values), statistics.median(values),
                                                    max(values)))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("venv", help="the virtual environment (its bin/python, bin/neuronsim)")
    parser.add_argument("--runs", type=int, default=21, help="counted rounds (default 21)")
    parser.add_argument("--command", default="neuronsim trace mazur",
                        help="the command, its first word a program of the environment's bin "
                             "folder (default: neuronsim trace mazur)")
    parser.add_argument("--against", metavar="VENV",
                        help="another environment whose command runs in the same rounds")
    parser.add_argument("--cold", action="store_true",
                        help="neuronsim without cached bytecode (compiled in every run)")
    args = parser.parse_args(argv)
    if not 1 <= args.runs <= 1000:
        parser.error("--runs must be 1 to 1000")
    python = os.path.join(args.venv, "bin", "python")
    try:
        words = shlex.split(args.command)
    except ValueError as exc:
        parser.error(f"--command: {exc}")
    if not words:
        parser.error("--command: give a command, e.g. --command 'neuronsim trace mazur'")
    for venv in [args.venv] + ([args.against] if args.against else []):
        for program in ("python", words[0]):
            if not os.access(os.path.join(venv, "bin", program), os.X_OK):
                parser.error(f"{venv}: no bin/{program} there (give a virtual environment "
                             "with neuronsim installed)")
    against = f"{args.command} ({args.against})"
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    with tempfile.TemporaryDirectory() as folder:
        commands = {                      # name: (argv, environment variables)
            "python -c pass": ([python, "-c", "pass"], env),
            "python -c 'import tabulate'": ([python, "-c", "import tabulate"], env),
            args.command: (command_in(args.venv, words), environment(args, args.venv, folder,
                                                                     "this", env)),
        }
        if args.against:
            commands[against] = (command_in(args.against, words),
                                 environment(args, args.against, folder, "against", env))
        times = {name: [] for name in commands}
        for round_number in range(args.runs + 1):
            for name, (command, variables) in commands.items():
                measured = timed(command, variables, folder)
                if round_number:          # round 0 is the warm-up
                    times[name].append(measured)
    print(f"{args.runs} rounds{' (cold: neuronsim compiled in every run)' if args.cold else ''}"
          f"; milliseconds, min median max")
    for name, values in times.items():
        print(f"  {name}")
        print(f"    wall {milliseconds([w for w, _ in values])}")
        print(f"    cpu  {milliseconds([c for _, c in values])}")
    ratios = [(args.command, "python -c pass")]
    if args.against:
        ratios += [(against, "python -c pass"), (args.command, against)]
    for top, bottom in ratios:
        for index, what in ((0, "wall"), (1, "cpu")):
            ratio = statistics.median(t[index] / b[index]
                                      for t, b in zip(times[top], times[bottom]))
            print(f"{top} / {bottom}, {what}: {ratio:.2f}x (median of the rounds)")
    return 0


def command_in(venv, words):
    """The command's words, its program taken from the environment's bin folder."""
    return [os.path.join(venv, "bin", words[0])] + words[1:]


def environment(args, venv, folder, name, env):
    """The environment variables of the command in ``venv``: with ``--cold``, its
    neuronsim without bytecode, first on PYTHONPATH."""
    if not args.cold:
        return env
    copy = os.path.join(folder, name)
    os.mkdir(copy)
    cold_copy(os.path.join(venv, "bin", "python"), copy)
    return dict(env, PYTHONPATH=copy, PYTHONDONTWRITEBYTECODE="1")


if __name__ == "__main__":
    sys.exit(main())
