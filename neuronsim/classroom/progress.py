"""A one-line progress bar for training: samples done, loss, samples/s.

    epoch 3/10 [#########...........] 450/1347  loss 0.1807  1520 samples/s

The bar rewrites one terminal line with a carriage return.  It is silent
when its stream is not a terminal (output piped to a file or another
program, or captured by a test) or when built with ``enabled=False``, so
scripts and logs never fill with half-drawn bars.  No dependency: this is a
dozen lines, not worth an extra.

:func:`train_with_progress` is ``Network.train`` with a bar moved by its
``on_batch`` hook: the same weights and losses, bit for bit.
"""

import sys
import time


def format_bar(done, total, loss=None, rate=None, width=20, prefix=""):
    """The text of the bar: ``prefix [###...] done/total  loss L  R samples/s``."""
    filled = width if total <= 0 else min(width, width * done // total)
    text = f"[{'#' * filled}{'.' * (width - filled)}] {done}/{total}"
    if prefix:
        text = f"{prefix} {text}"
    if loss is not None:
        text += f"  loss {loss:.4g}"
    if rate is not None:
        text += f"  {rate:.0f} samples/s"
    return text


class ProgressBar:
    """A progress bar over ``total`` samples written to ``stream``.

    ``enabled``: None (the default) means "only if ``stream`` is a
    terminal"; False silences it; True draws even into a file (for tests).
    ``clock`` gives seconds (``time.perf_counter``), replaceable in tests.
    """

    def __init__(self, total, stream=None, enabled=None, width=20, prefix="",
                 clock=time.perf_counter):
        self.stream = sys.stdout if stream is None else stream
        if enabled is None:
            isatty = getattr(self.stream, "isatty", None)
            enabled = bool(isatty and isatty())
        self.enabled = enabled
        self.total = total
        self.width = width
        self.prefix = prefix
        self.clock = clock
        self.done = 0
        self.loss = None
        self.start = clock()
        self._shown = 0

    def rate(self):
        """Samples per second since the bar started (None before any time passed)."""
        elapsed = self.clock() - self.start
        return self.done / elapsed if elapsed > 0 else None

    def text(self):
        return format_bar(self.done, self.total, self.loss, self.rate(), self.width, self.prefix)

    def update(self, samples=1, loss=None, prefix=None):
        """Add ``samples`` done; ``loss`` (if given) is the loss to show."""
        self.done += samples
        if loss is not None:
            self.loss = loss
        if prefix is not None:
            self.prefix = prefix
        if self.enabled:
            line = self.text()
            pad = " " * max(0, self._shown - len(line))
            self.stream.write("\r" + line + pad)
            self.stream.flush()
            self._shown = len(line)

    def restart(self, total=None, prefix=None):
        """Start again from 0 (a new epoch) on the same line."""
        if total is not None:
            self.total = total
        if prefix is not None:
            self.prefix = prefix
        self.done = 0
        self.start = self.clock()

    def close(self):
        """End the line (only if something was drawn)."""
        if self.enabled and self._shown:
            self.stream.write("\n")
            self.stream.flush()
        self._shown = 0

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


def train_with_progress(net, samples, epochs=1, learning_rate=None, batch_size=1, seed=0,
                        progress=None, chunk=64, on_epoch=None):
    """``net.train(samples, epochs, learning_rate, batch_size, shuffle=True, seed)``
    with a progress bar; returns the loss of each epoch.

    It is ``net.train`` itself, watched through its ``on_batch`` hook, so the
    weights and the epoch losses are exactly ``net.train``'s.  The bar is
    redrawn at most every ``chunk`` samples (and at each epoch's end).
    ``progress`` is a :class:`ProgressBar` (or None for no bar);
    ``on_epoch(epoch, loss)`` as in ``Network.train``.
    """
    samples = list(samples)
    if progress is None:
        return net.train(samples, epochs=epochs, learning_rate=learning_rate,
                         batch_size=batch_size, seed=seed, on_epoch=on_epoch)
    shown = {"epoch": None, "done": 0}

    def batch_done(epoch, done, loss):
        if shown["epoch"] != epoch:
            progress.restart(len(samples), prefix=f"epoch {epoch}/{epochs}")
            shown.update(epoch=epoch, done=0)
        if done - shown["done"] >= chunk or done == len(samples):
            progress.update(done - shown["done"], loss=loss)
            shown["done"] = done

    try:
        return net.train(samples, epochs=epochs, learning_rate=learning_rate,
                         batch_size=batch_size, seed=seed, on_epoch=on_epoch,
                         on_batch=batch_done)
    finally:
        progress.close()
