"""The terminal stepper: key handling, screens, the non-terminal path, the terminal itself."""

import os
import shlex
import shutil
import subprocess
import sys
import time
import uuid

import pytest
from catalogue import MAZUR_SAMPLE, mazur

from neuronsim.classroom.stepper import (
    LEFT,
    RIGHT,
    Stepper,
    run,
    table_so_far,
    whole_walk,
)
from neuronsim.cli.main import main
from neuronsim.files.bundled import example_path
from neuronsim.trace import Tracer
from neuronsim.trace.walk import walk

MAZUR = example_path("mazur")


def mazur_stepper():
    net = mazur()
    tracer = Tracer().attach(net)
    net.step(*MAZUR_SAMPLE, 0.5)
    step = tracer.steps[0]
    return Stepper(step, walk(step), title="test")


def test_keys_move_the_position():
    s = mazur_stepper()
    total = len(s.computations)
    assert total == 21 and s.position == 0
    for key in ("n", " ", "\r", "\n", RIGHT):
        assert s.press(key) is True
    assert s.position == 5
    s.press("b")
    s.press(LEFT)
    assert s.position == 3
    s.press("j")
    assert s.position == 9 and s.current.phase == "backward"
    s.press("x")                        # unknown keys do nothing
    assert s.position == 9
    for _ in range(40):
        s.press("n")
    assert s.position == total - 1 and s.at_end
    for _ in range(40):
        s.press("b")
    assert s.position == 0
    assert s.press("q") is False and s.press("\x1b") is False


def test_screen_shows_the_formula_and_only_values_computed_so_far():
    s = mazur_stepper()
    first = s.screen()
    assert "Forward pass · computation 1 of 21" in first
    assert ("z₁⁽²⁾ = w₁₁⁽²⁾·a₁⁽¹⁾ + w₁₂⁽²⁾·a₂⁽¹⁾ + b₁⁽²⁾ = 0.15·0.05 + 0.2·0.1 + 0.35 = 0.3775"
            in first)
    assert "input x = (0.05, 0.1), target t = (0.01, 0.99)" in first
    assert "0.593269992" not in first          # a₁⁽²⁾ comes next
    s.press("n")
    second = s.screen()
    assert second.count("0.593269992") >= 2    # in the formula and in the table
    row = [line for line in second.splitlines() if line.startswith("▶")]
    assert len(row) == 1 and "0.3775" in row[0] and "0.593269992" in row[0]
    s.press("j")
    backward = s.screen()
    assert "Backward pass · computation 10 of 21" in backward
    assert "E = 0.298371109" in backward
    assert "0.138498562" in backward
    assert "0.00877135469" not in backward     # δ₁⁽²⁾ not yet computed


def test_gradient_and_update_phases_show_the_parameter_table():
    s = mazur_stepper()
    s.position = len(s.computations) - 1
    screen = s.screen()
    assert "End of the step." in screen
    assert "parameter" in screen and "0.35891648" in screen and "0.0821670406" in screen
    table = table_so_far(s.computations, 0)
    assert "parameter" not in table


def test_run_loop_with_scripted_keys():
    s = mazur_stepper()
    screens = []
    keys = iter(["n", "n", "j", "b", "q", "n"])
    assert run(s, lambda: next(keys), screens.append) == 0
    assert len(screens) == 5                   # drawn before each of the 5 keys read
    assert s.position == 8                     # n, n, j (→ 9), b (→ 8), then q
    assert all(text.startswith("\x1b[H\x1b[2J") for text in screens)
    assert "Loss · computation 9 of 21" in screens[-1]
    ended = mazur_stepper()
    assert run(ended, lambda: "", screens.append) == 0   # end of input quits


def test_whole_walk_lists_everything():
    s = mazur_stepper()
    text = whole_walk(s, note="NOTE")
    assert "NOTE" in text
    for i in range(1, 22):
        assert f"[{i}/21]" in text
    assert text.index("Forward pass\n") < text.index("Loss\n") < text.index("Backward pass\n")
    assert "▶" not in text
    assert "δ₂⁽²⁾ = (w₁₂⁽³⁾·δ₁⁽³⁾ + w₂₂⁽³⁾·δ₂⁽³⁾)·g'(z₂⁽²⁾) = (0.45·0.138498562 + " \
           "0.55·(−0.0380982365))·0.240613417 = 0.00995425471" in text


def test_cli_prints_the_whole_walk_when_stdin_is_not_a_terminal(capsys):
    assert main(["step", MAZUR]) == 0
    out = capsys.readouterr().out
    assert out.startswith("neuronsim step mazur: input x = (0.05, 0.1)")
    assert "[21/21] layer 3, neuron 2: new weights" in out
    assert "w₂₂⁽³⁾ ← w₂₂⁽³⁾ − η·dE/dw₂₂⁽³⁾ = 0.55 − 0.5·(−0.0227402422) = 0.561370121" in out
    assert "Textbook numbering" in out


def test_cli_options(capsys):
    assert main(["step", MAZUR, "--layer", "3", "--neuron", "1", "--digits", "4",
                 "--convention", "ng"]) == 0
    out = capsys.readouterr().out
    assert "[6/6]" in out and "[7/" not in out
    assert "z₁⁽³⁾ = w₁₁⁽²⁾·a₁⁽²⁾" in out and "= 1.106" in out
    assert main(["step", MAZUR, "--input", "1", "0", "--target", "0", "1",
                 "--learning-rate", "0.1"]) == 0
    out = capsys.readouterr().out
    assert "input x = (1, 0), target t = (0, 1)" in out and "0.1·" in out


@pytest.mark.parametrize("argv, message", [
    (["--sample", "2"], "--sample 2: the file has samples 1 to 1"),
    (["--layer", "5"], "--layer 5"),
    (["--input", "1", "2"], "give both --input and --target"),
    (["--learning-rate", "-1"], "--learning-rate"),
])
def test_cli_errors_are_one_line(capsys, argv, message):
    assert main(["step", MAZUR] + argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_read_key_from_a_pseudo_terminal():
    import tty

    from neuronsim.cli.step import read_key

    master, slave = os.openpty()
    try:
        tty.setcbreak(slave)        # as the stepper sets the terminal: keys without Enter
        os.write(master, b"\x1b[C")
        assert read_key(slave) == RIGHT
        os.write(master, b"n")
        assert read_key(slave) == "n"
        os.write(master, b"\x1b")
        assert read_key(slave, timeout=0.01) == "\x1b"   # Esc alone: quit
    finally:
        os.close(master)
        os.close(slave)


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
def test_interactive_session_in_tmux(tmp_path):
    """Drive the real terminal UI: keys in, screen out, q ends the program."""
    socket = f"neuronsim-test-{uuid.uuid4().hex[:8]}"
    done = tmp_path / "done"
    command = (f"{shlex.quote(sys.executable)} -m neuronsim step {shlex.quote(MAZUR)}; "
               f"echo $? > {shlex.quote(str(done))}")
    tmux = ["tmux", "-L", socket, "-f", os.devnull]
    env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
               TERM="xterm")

    def screen():
        return subprocess.run(tmux + ["capture-pane", "-p", "-t", "walk"], capture_output=True,
                              text=True, env=env).stdout

    def wait_for(text):
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            shown = screen()
            if text in shown:
                return shown
            time.sleep(0.05)
        raise AssertionError(f"{text!r} never appeared; screen:\n{screen()}")

    subprocess.run(tmux + ["new-session", "-d", "-s", "walk", "-x", "200", "-y", "50",
                           "sh", "-c", command], check=True, env=env)
    try:
        wait_for("computation 1 of 21")
        subprocess.run(tmux + ["send-keys", "-t", "walk", "n", "Space"], check=True, env=env)
        wait_for("computation 3 of 21")
        subprocess.run(tmux + ["send-keys", "-t", "walk", "j"], check=True, env=env)
        shown = wait_for("computation 10 of 21")
        assert "δ₁⁽³⁾ = dE/da₁⁽³⁾·g'(z₁⁽³⁾) = 0.74136507·0.186815602 = 0.138498562" in shown
        subprocess.run(tmux + ["send-keys", "-t", "walk", "Left"], check=True, env=env)
        wait_for("computation 9 of 21")
        subprocess.run(tmux + ["send-keys", "-t", "walk", "q"], check=True, env=env)
        deadline = time.monotonic() + 10
        while not done.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert done.read_text().strip() == "0"
    finally:
        subprocess.run(tmux + ["kill-server"], capture_output=True, env=env)
