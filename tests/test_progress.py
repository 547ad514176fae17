"""The progress bar: its text, when it is silent, and training through it."""

import io

import pytest
from catalogue import SOFTMAX_SAMPLES, random_network, random_samples, softmax_233

from neuronsim.classroom.progress import ProgressBar, format_bar, train_with_progress


class Terminal(io.StringIO):
    def isatty(self):
        return True


class Clock:
    """A clock the test moves by hand."""

    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_format_bar():
    assert format_bar(0, 10, width=10) == "[..........] 0/10"
    assert format_bar(5, 10, loss=0.123456, rate=1520.4, width=10, prefix="epoch 3/10") == \
        "epoch 3/10 [#####.....] 5/10  loss 0.1235  1520 samples/s"
    assert format_bar(10, 10, width=4) == "[####] 10/10"
    assert format_bar(3, 0, width=4) == "[####] 3/0"


def test_bar_draws_on_a_terminal_with_loss_and_rate():
    stream, clock = Terminal(), Clock()
    bar = ProgressBar(200, stream=stream, width=10, prefix="epoch 1/2", clock=clock)
    assert bar.enabled
    clock.now += 2.0
    bar.update(100, loss=0.5)
    assert stream.getvalue() == "\repoch 1/2 [#####.....] 100/200  loss 0.5  50 samples/s"
    assert bar.rate() == 50.0
    clock.now += 2.0
    bar.update(100, loss=0.25)
    bar.close()
    assert stream.getvalue().endswith(
        "\repoch 1/2 [##########] 200/200  loss 0.25  50 samples/s\n")


def test_a_shorter_line_blanks_the_rest_of_the_longer_one():
    stream, clock = Terminal(), Clock()
    bar = ProgressBar(10, stream=stream, width=2, clock=clock)
    clock.now += 1
    bar.update(5, loss=0.123456)
    long_line = stream.getvalue()
    bar.restart(prefix="")
    bar.loss = None
    bar.update(1)
    last = stream.getvalue()[len(long_line):]
    assert len(last) == len(long_line) and last.rstrip(" ").startswith("\r[")


def test_silent_when_not_a_terminal_or_when_asked():
    piped = io.StringIO()
    bar = ProgressBar(10, stream=piped)
    assert not bar.enabled
    bar.update(10, loss=1.0)
    bar.close()
    assert piped.getvalue() == ""
    terminal = Terminal()
    with ProgressBar(10, stream=terminal, enabled=False) as quiet:
        quiet.update(10)
    assert terminal.getvalue() == ""
    assert quiet.done == 10


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
