"""Progress bars through tqdm: when they draw, what they say, training through them,
and the commands that show them (train, digits, big traces) on a real terminal."""

import fcntl
import io
import os
import pty
import struct
import subprocess
import sys
import termios
import types

import pytest
from catalogue import SOFTMAX_SAMPLES, random_network, random_samples, softmax_233

from neuronsim.classroom import progress as progress_module
from neuronsim.classroom.progress import ProgressBar, step_bar, train_with_progress

pytest.importorskip("tqdm", reason="tqdm draws the bars (an install requirement of neuronsim)")


class Terminal(io.StringIO):
    def isatty(self):
        return True


class Clock:
    """A clock the test moves by hand."""

    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_bar_draws_through_tqdm_on_a_terminal_with_loss_and_rate():
    stream = Terminal()
    bar = ProgressBar(200, stream=stream, prefix="epoch 1/2")
    assert bar.enabled and bar.bar is None          # nothing drawn (nor tqdm made) yet
    bar.update(100, loss=0.5)
    from tqdm import tqdm

    assert isinstance(bar.bar, tqdm) and bar.bar.n == 100 and bar.bar.total == 200
    bar.update(100, loss=0.25)
    bar.close()
    text = stream.getvalue()
    assert text.startswith("\r") and text.endswith("\n")
    last = text.rstrip("\n").split("\r")[-1]
    assert last.startswith("epoch 1/2: 100%|") and "200/200 [" in last
    assert "samples/s" in last and last.rstrip().endswith("loss=0.25]")


def test_restart_starts_a_new_epoch_on_the_same_line():
    stream = Terminal()
    bar = ProgressBar(10, stream=stream, prefix="epoch 1/2")
    bar.update(10, loss=1.0)
    bar.restart(4, prefix="epoch 2/2")
    assert bar.done == 0 and bar.bar.n == 0 and bar.bar.total == 4
    bar.update(4, loss=0.5)
    bar.close()
    text = stream.getvalue()
    assert text.count("\n") == 1                      # one line, rewritten
    assert text.rstrip("\n").split("\r")[-1].startswith("epoch 2/2: 100%|")


def test_silent_when_not_a_terminal_or_when_asked():
    piped = io.StringIO()
    bar = ProgressBar(10, stream=piped)
    assert not bar.enabled
    bar.update(10, loss=1.0)
    bar.close()
    assert piped.getvalue() == "" and bar.bar is None and bar.done == 10
    terminal = Terminal()
    with ProgressBar(10, stream=terminal, enabled=False) as quiet:
        quiet.update(10)
    assert terminal.getvalue() == ""
    assert quiet.done == 10


def test_stderr_is_the_default_stream(monkeypatch):
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    bar = ProgressBar(3)
    assert bar.stream is terminal and bar.enabled
    bar.update(3)
    bar.close()
    assert "3/3" in terminal.getvalue()


def test_a_delayed_bar_draws_and_imports_nothing_before_its_delay(monkeypatch):
    made = []
    monkeypatch.setattr(progress_module, "tqdm_class",
                        lambda notebook: made.append(notebook) or __import__("tqdm").tqdm)
    clock, stream = Clock(), Terminal()
    bar = ProgressBar(100, stream=stream, unit="step", delay=0.5, clock=clock)
    for _ in range(50):
        bar.update()
        clock.now += 0.009
    assert made == [] and stream.getvalue() == "" and bar.done == 50
    clock.now += 0.1
    bar.update()
    assert made == [False] and bar.bar.n == 51
    bar.close()
    assert "51/100" in stream.getvalue() and "steps/s" in stream.getvalue()


def test_in_a_jupyter_kernel_the_bar_is_tqdm_autos(monkeypatch):
    """A kernel's stderr is no terminal, yet a notebook shows the bar (tqdm.auto's widget)."""
    kernel = types.SimpleNamespace(kernel=object())
    fake = types.ModuleType("IPython")
    fake.get_ipython = lambda: kernel
    monkeypatch.setitem(sys.modules, "IPython", fake)
    assert progress_module.in_notebook()
    bar = ProgressBar(5, stream=io.StringIO())
    assert bar.enabled and bar.notebook
    assert not ProgressBar(5, stream=io.StringIO(), enabled=False).enabled
    from tqdm.auto import tqdm

    assert progress_module.tqdm_class(True) is tqdm
    fake.get_ipython = lambda: types.SimpleNamespace()       # IPython, but a terminal shell
    assert not progress_module.in_notebook()
    assert not ProgressBar(5, stream=io.StringIO()).enabled


def test_step_bar_is_none_when_quiet_or_not_a_terminal(monkeypatch):
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    assert step_bar(1000) is None
    monkeypatch.setattr(sys, "stderr", Terminal())
    assert step_bar(1000, quiet=True) is None
    bar = step_bar(1000)
    assert bar.enabled and bar.delay == 0.5 and bar.unit == "step"


@pytest.mark.parametrize("batch_size, chunk, reduction", [
    (1, 4, "mean"), (3, 4, "mean"), (2, 64, "sum"), (None, 4, "mean")])
def test_training_through_the_bar_gives_the_same_weights(batch_size, chunk, reduction):
    samples = random_samples(3, 2, "sigmoid", "half_sse", 13, seed=5)
    plain = random_network([3, 4, 2], "tanh", "sigmoid", "half_sse", seed=9,
                           reduction=reduction)
    barred = random_network([3, 4, 2], "tanh", "sigmoid", "half_sse", seed=9,
                            reduction=reduction)
    expected = plain.train(samples, epochs=3, learning_rate=0.3, batch_size=batch_size, seed=4)
    stream = Terminal()
    bar = ProgressBar(0, stream=stream)
    epochs_seen = []
    history = train_with_progress(barred, samples, epochs=3, learning_rate=0.3,
                                  batch_size=batch_size, seed=4, progress=bar, chunk=chunk,
                                  on_epoch=lambda e, loss: epochs_seen.append((e, loss)))
    for (w1, b1), (w2, b2) in zip(plain.to_arrays(), barred.to_arrays()):
        assert (w1 == w2).all() and (b1 == b2).all()      # bit for bit
    assert history == pytest.approx(expected, rel=1e-12)
    assert epochs_seen == list(zip([1, 2, 3], history))
    shown = stream.getvalue()
    assert "epoch 3/3" in shown and "13/13" in shown and shown.endswith("\n")


def test_training_without_a_bar_and_bad_input():
    net = softmax_233()
    history = train_with_progress(net, SOFTMAX_SAMPLES, epochs=2, learning_rate=0.1, seed=0)
    expected = softmax_233().train(SOFTMAX_SAMPLES, epochs=2, learning_rate=0.1, seed=0)
    assert history == pytest.approx(expected, rel=1e-12)
    with pytest.raises(ValueError, match="at least one sample"):
        train_with_progress(net, [], learning_rate=0.1)
    with pytest.raises(ValueError, match="batch_size"):
        train_with_progress(net, SOFTMAX_SAMPLES, learning_rate=0.1, batch_size=0)


# ------------------------------------------------------------------ the commands
def on_a_terminal(argv, terminal=True, timeout=120):
    """Run ``neuronsim ARGV`` with stderr on a pseudo-terminal (120 columns), or on a
    pipe; returns (status, stdout, stderr)."""
    command = [sys.executable, "-m", "neuronsim", *argv]
    if not terminal:
        done = subprocess.run(command, capture_output=True, timeout=timeout,
                              stdin=subprocess.DEVNULL)
        return done.returncode, done.stdout.decode(), done.stderr.decode()
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 120, 0, 0))
    process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=slave)
    os.close(slave)
    err = b""
    while True:          # read the terminal while the command runs (its buffer is small)
        try:
            chunk = os.read(master, 65536)
        except OSError:  # the command closed the terminal
            break
        if not chunk:
            break
        err += chunk
    out = process.stdout.read()
    process.stdout.close()
    os.close(master)
    status = process.wait(timeout=timeout)
    return status, out.decode(), err.decode()


@pytest.mark.slow
def test_train_draws_its_bar_on_stderr_only_on_a_terminal():
    argv = ["train", "xor", "--epochs", "300"]
    status, out, err = on_a_terminal(argv)
    assert status == 0 and "epoch 300/300: 100%|" in err and "4/4 [" in err and "loss=" in err
    assert "\r" not in out and "epoch" in out          # the loss table, on stdout
    piped = on_a_terminal(argv, terminal=False)
    assert piped == (0, out, "")                       # same stdout, no bar
    quiet = on_a_terminal(argv + ["--quiet"])
    assert quiet[0] == 0 and quiet[2] == ""


@pytest.mark.parametrize("argv, steps", [
    (["trace", "mazur", "--steps", "40"], 40),
    (["trace", "xor", "--steps", "6", "--batch-size", "2"], 6),
    (["trace", "rnn-parity", "--steps", "5", "--times", "1"], 5),
    (["trace", "rnn-parity", "--steps", "3", "--batch-size", "2", "--times", "1"], 3),
])
def test_trace_counts_its_steps_on_a_bar(argv, steps, monkeypatch, capsys):
    """Every way trace steps (online, batches, sequences, batches of sequences) moves a
    step bar on a terminal stderr, here without the half-second delay; --quiet: no bar."""
    from neuronsim.cli import core
    from neuronsim.cli.main import main

    made = []

    def no_delay(total, quiet=False):
        bar = step_bar(total, quiet, delay=0.0)
        made.append(bar)
        return bar

    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    monkeypatch.setattr(core, "step_bar", no_delay)
    assert main(argv) == 0
    assert f"{steps}/{steps} [" in terminal.getvalue() and "steps/s" in terminal.getvalue()
    assert made[0].done == steps and made[0].bar is None          # closed
    assert "steps/s" not in capsys.readouterr().out
    made.clear()
    assert main(argv + ["--quiet"]) == 0
    assert made == [None] and "steps/s" not in terminal.getvalue().split("\n", 1)[1]


def test_digits_draws_its_bar_through_tqdm_on_a_terminal(monkeypatch, capsys):
    """The digits command's own path (run -> train_digits -> train_with_progress) on a
    terminal stderr, with 24 made-up images instead of scikit-learn's."""
    import random

    from neuronsim.cli import digits

    rng = random.Random(0)
    images = [([rng.random() for _ in range(64)], [int(i % 10 == c) for c in range(10)])
              for i in range(32)]
    monkeypatch.setattr(digits.datasets, "digits",
                        lambda test_fraction, seed: (images[:24], images[24:]))
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    assert digits.run(1, 3, 0.1, 0) == 0
    bar = terminal.getvalue()
    assert "epoch 1/1: 100%|" in bar and "24/24 [" in bar and "loss=" in bar
    assert bar.endswith("\n")
    out = capsys.readouterr().out
    assert "trained on 24 images" in out and "\r" not in out


def test_the_trace_path_does_not_import_tqdm():
    """tqdm is imported only when a bar is drawn: a short trace never imports it."""
    code = ("import sys; from neuronsim.cli.main import main; "
            "import io, contextlib\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n"
            "    main(['trace', 'mazur', '--steps', '3'])\n"
            "print('tqdm' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60)
    assert done.stdout.strip() == "False", done.stderr


def test_digits_bar_goes_to_stderr_and_quiet_silences_it(monkeypatch):
    """digits.run makes its bar on stderr (a terminal here), disabled by --quiet."""
    from neuronsim.cli import digits

    seen = []

    class Stop(Exception):
        pass

    def train_digits(epochs, hidden, learning_rate, seed, progress):
        seen.append(progress)
        raise Stop

    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    monkeypatch.setattr(digits, "train_digits", train_digits)
    for quiet in (False, True):
        with pytest.raises(Stop):
            digits.run(1, 2, 0.1, 0, quiet=quiet)
    assert [bar.stream for bar in seen] == [terminal, terminal]
    assert [bar.enabled for bar in seen] == [True, False]
