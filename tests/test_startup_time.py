"""scripts/startup_time.py runs end to end, warm and cold, in the environment that runs the
tests (its timings mean nothing here: one round on a busy machine)."""

import contextlib
import io
import os
import sys

import pytest

from test_bench_smoke import load_script

BIN = os.path.join(sys.prefix, "bin")


@pytest.mark.skipif(not os.path.exists(os.path.join(BIN, "neuronsim")),
                    reason="the neuronsim command is not installed in this environment")
@pytest.mark.parametrize("cold", [False, True])
def test_startup_time_runs_and_reports_the_ratio(cold):
    startup_time = load_script("startup_time")
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        status = startup_time.main([sys.prefix, "--runs", "1", "--command", "neuronsim trace xor"]
                                   + (["--cold"] if cold else []))
    assert status == 0
    text = out.getvalue()
    for name in ("python -c pass", "python -c 'import tabulate'", "neuronsim trace xor"):
        assert f"  {name}\n    wall " in text
    assert "neuronsim trace xor / python -c pass, wall: " in text
    assert ("cold: neuronsim compiled in every run" in text) == cold


def test_startup_time_refuses_a_failing_command():
    startup_time = load_script("startup_time")
    with pytest.raises(SystemExit, match="exited with status"):
        startup_time.main([sys.prefix, "--runs", "1", "--command", "python -c 'raise SystemExit(3)'"])


@pytest.mark.parametrize("arguments,message", [
    (["/nonexistent/venv"], "no bin/python there"),
    ([sys.prefix, "--command", ""], "give a command"),
    ([sys.prefix, "--command", "'unclosed"], "No closing quotation"),
    ([sys.prefix, "--command", "no-such-program-here"], "no bin/no-such-program-here there"),
])
def test_startup_time_refuses_bad_input_in_one_line(arguments, message, capsys):
    startup_time = load_script("startup_time")
    with pytest.raises(SystemExit) as exit_info:
        startup_time.main(arguments + ["--runs", "1"])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err
