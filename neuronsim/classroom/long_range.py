"""The long-range demo: an Elman network and an LSTM learn to remember the first input.

Both read the sequences of :func:`neuronsim.classroom.datasets.long_range`: a
signal s = ±1 with a marker at t = 1, then T − 1 steps of noise on the same
input, and a target at the last step only, [1] for s = +1.  To answer, a
network must carry s through the noise for T − 1 steps.  Each trains online
(one sequence per update, full BPTT, its file's optimizer and learning rate)
on the same stream of fresh sequences, and is scored on a fixed test set.

An Elman layer sends the error back through Uᵀ·diag(g'(z[t])) at every step, so
the part of dE/dW that reaches t = 1 shrinks geometrically and drowns in the
parts from the noise steps; an LSTM's cell carries dE/dc back through its
forget gate, and its input gate can learn to open on the marker only.
"""

import math

from .datasets import long_range


def accuracy(net, samples):
    """The fraction of ``samples`` whose last output is on the target's side of ½ (a
    NaN or infinite output is never right)."""
    right = 0
    for xs, target in samples:
        y = net.forward_pass(xs)[-1][0]
        right += math.isfinite(y) and (y > 0.5) == (target[0] == 1)
    return right / len(samples)


def race(networks, steps, sequences, noise=1.0, seed=0, every=None, test_size=200):
    """Train each of ``networks`` ({name: net}) online on the same ``sequences``
    fresh sequences of ``steps`` steps (seed ``seed``) and score them on
    ``test_size`` others (seed ``seed + 1``) every ``every`` sequences (default:
    five times).  Returns [(sequences seen, {name: accuracy}), ...], starting at 0."""
    every = every or max(1, sequences // 5)
    train = long_range(sequences, steps, noise, seed)
    test = long_range(test_size, steps, noise, seed + 1)
    rows = [(0, {name: accuracy(net, test) for name, net in networks.items()})]
    for done in range(every, sequences + every, every):
        done = min(done, sequences)
        for net in networks.values():
            for xs, target in train[rows[-1][0]:done]:
                net.step(xs, target)
        rows.append((done, {name: accuracy(net, test) for name, net in networks.items()}))
        if done == sequences:
            break
    return rows
