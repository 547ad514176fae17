"""Gradient descent: the epoch loop that feed-forward and recurrent networks share.

For each epoch: shuffle the samples (``random.Random(seed)``), then for each
sample run ``forward_pass`` and ``back_prop`` (which only accumulate
gradients), and call ``update_weights`` once every ``batch_size`` samples and
after the epoch's last one.  batch_size 1 is online learning, the number of
samples is full-batch, anything between is mini-batch.

An epoch's loss is the mean of its per-sample losses (their sum when the
network's ``reduction`` is "sum"), each taken before its batch's update.
"""

import math
from numbers import Integral, Real

from .numbers import FLOAT


def is_whole(value):
    return isinstance(value, Integral) and not isinstance(value, bool)


def is_real(value):
    return isinstance(value, Real) and not isinstance(value, bool)


def checked_learning_rate(learning_rate, numbers):
    """η converted to the network's number system; finite and above 0."""
    if type(learning_rate) is float and numbers is FLOAT and 0.0 < learning_rate < math.inf:
        return learning_rate   # (the common case, checked in one line: every step asks)
    if learning_rate is None:
        raise ValueError("no learning rate: pass one or set learning_rate in the network file")
    problem = f"learning_rate must be a finite number above 0, not {learning_rate!r}"
    if isinstance(learning_rate, bool):
        raise ValueError(problem)
    try:
        # In the network's own numbers, so a float η never turns fractions into floats.
        rate = numbers.convert(learning_rate)
    except Exception:   # any number system's refusal to convert means: not a number
        raise ValueError(problem) from None
    if not (rate > 0 and numbers.is_finite(rate)):
        raise ValueError(problem)
    return rate


def gradient_descent(net, pairs, epochs, learning_rate, batch_size, shuffle, seed,
                     stop_loss, on_epoch, on_batch, check_sample):
    """Run the epochs; returns the list of epoch losses.

    ``pairs``: checked (input, target) pairs.  ``check_sample(loss, index,
    epoch)`` raises if the sample produced a NaN or infinity.
    ``on_epoch(epoch, loss)`` after each epoch (epochs count from 1);
    ``on_batch(epoch, samples_done, loss_so_far)`` after each update, with the
    epoch's loss so far (mean or sum as above).
    """
    if not pairs:
        raise ValueError("train needs at least one sample")
    learning_rate = checked_learning_rate(learning_rate, net.numbers)
    if not is_whole(epochs) or epochs < 1:
        raise ValueError(f"epochs must be a whole number of at least 1, not {epochs!r}")
    if batch_size is None:
        batch_size = len(pairs)
    if not is_whole(batch_size) or batch_size < 1:
        raise ValueError(f"batch_size must be a whole number of at least 1 or None "
                         f"(full batch), not {batch_size!r}")
    if stop_loss is not None and not is_real(stop_loss):
        raise ValueError(f"stop_loss must be a number or None, not {stop_loss!r}")
    mean = net.reduction == "mean"
    import random   # here, not at the top: only training needs it (start-up time)

    rng = random.Random(seed)
    order = list(range(len(pairs)))
    history = []
    net._discard_batch()
    for epoch in range(1, epochs + 1):
        if shuffle:
            rng.shuffle(order)
        total = 0
        for position, index in enumerate(order, start=1):
            x, t = pairs[index]
            net.forward_pass(x)
            value = net.back_prop(t)
            check_sample(value, index, epoch)
            total += value
            if position % batch_size == 0 or position == len(order):
                net.update_weights(learning_rate)
                if on_batch is not None:
                    on_batch(epoch, position, total / position if mean else total)
        epoch_loss = total / len(order) if mean else total
        history.append(epoch_loss)
        net.end_epoch()   # a schedule's next rate, as scheduler.step() after an epoch
        if on_epoch is not None:
            on_epoch(epoch, epoch_loss)
        if stop_loss is not None and epoch_loss <= stop_loss:
            break
    return history
