"""Progress bars for long work (train, digits, big traces), drawn by tqdm.

    epoch 3/10:  33%|███▎      | 450/1347 [00:00<00:00, 1520.31 samples/s, loss=0.1807]

A :class:`ProgressBar` counts samples (or steps) done and hands the drawing to
tqdm, which is notebook-aware: in Jupyter the bar is a widget
(``tqdm.auto``), on a terminal one line rewritten in place on stderr.  It is
silent when its stream is not a terminal (output piped to a file or another
program, or captured by a test) unless it runs in a Jupyter kernel, or when
built with ``enabled=False`` (the commands' ``--quiet``), so scripts and logs
never fill with half-drawn bars.

tqdm is imported only when a bar is first drawn, and a bar with ``delay``
draws nothing (and imports nothing) until that many seconds have passed: a
short trace costs a clock reading per step.

:func:`train_with_progress` is ``Network.train`` with a bar moved by its
``on_batch`` hook: the same weights and losses, bit for bit.
"""

import sys
import time


def in_notebook():
    """Whether this Python runs in a Jupyter kernel (where stderr is no terminal
    but a bar can still be shown, as a widget)."""
    shell = sys.modules.get("IPython")
    get_ipython = getattr(shell, "get_ipython", None)
    kernel = get_ipython() if get_ipython is not None else None
    return getattr(kernel, "kernel", None) is not None


def _is_terminal(stream):
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty and isatty())
    except ValueError:      # a closed stream
        return False


def tqdm_class(notebook):
    """tqdm's bar: the notebook one (``tqdm.auto``) in Jupyter, the text one
    elsewhere.  Imported here, when a bar is first drawn."""
    if notebook:
        from tqdm.auto import tqdm
    else:
        from tqdm import tqdm
    return tqdm


class ProgressBar:
    """A progress bar over ``total`` samples, drawn by tqdm on ``stream``
    (stderr by default).

    ``enabled``: None (the default) means "only if ``stream`` is a terminal,
    or in a Jupyter kernel"; False silences it; True draws even into a file
    (for tests).  ``prefix`` is the bar's description (``epoch 3/10``),
    ``unit`` what it counts.  Nothing is drawn before ``delay`` seconds have
    passed since the bar (re)started.  ``clock`` gives seconds
    (``time.perf_counter``), replaceable in tests.
    """

    def __init__(self, total, stream=None, enabled=None, prefix="", unit="sample", delay=0.0,
                 clock=time.perf_counter):
        self.stream = sys.stderr if stream is None else stream
        self.notebook = enabled is None and not _is_terminal(self.stream) and in_notebook()
        if enabled is None:
            enabled = _is_terminal(self.stream) or self.notebook
        self.enabled = enabled
        self.total = total
        self.prefix = prefix
        self.unit = unit
        self.delay = delay
        self.clock = clock
        self.done = 0
        self.loss = None
        self.start = clock()
        self.bar = None          # the tqdm bar, once drawn

    def _draw(self):
        if self.bar is None:
            if self.clock() - self.start < self.delay:
                return
            self.bar = tqdm_class(self.notebook)(
                total=self.total, desc=self.prefix or None, unit=f" {self.unit}s",
                file=None if self.notebook else self.stream, leave=True, dynamic_ncols=True,
                mininterval=0.1)
            self.bar.update(self.done)
        else:
            self.bar.update(self.done - self.bar.n)
        if self.loss is not None:
            self.bar.set_postfix_str(f"loss={self.loss:.4g}", refresh=False)

    def update(self, samples=1, loss=None, prefix=None):
        """Add ``samples`` done; ``loss`` (if given) is the loss to show."""
        self.done += samples
        if loss is not None:
            self.loss = loss
        if prefix is not None:
            self.set_prefix(prefix)
        if self.enabled:
            self._draw()

    def set_prefix(self, prefix):
        self.prefix = prefix
        if self.bar is not None:
            self.bar.set_description_str(prefix, refresh=False)

    def restart(self, total=None, prefix=None):
        """Start again from 0 (a new epoch) on the same line."""
        if total is not None:
            self.total = total
        if prefix is not None:
            self.set_prefix(prefix)
        self.done = 0
        self.start = self.clock()
        if self.bar is not None:
            self.bar.reset(total=self.total)

    def close(self):
        """End the line (only if something was drawn)."""
        if self.bar is not None:
            self.bar.close()
            self.bar = None

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
    moved at most every ``chunk`` samples (and at each epoch's end).
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


def step_bar(total, quiet=False, unit="step", delay=0.5):
    """A bar over ``total`` steps on stderr for a command (None with ``quiet``
    or when stderr is not a terminal): drawn only if the work lasts more than
    ``delay`` seconds."""
    if quiet:
        return None
    bar = ProgressBar(total, unit=unit, delay=delay)
    return bar if bar.enabled else None
