"""Seeded random initial weights for a layer of n_out neurons with n_in inputs.

Every method draws from a ``random.Random`` the caller passes in (never the
global generator), row by row in neuron order, so the same seed gives the
same weights on every machine and Python version that keeps ``random``'s
documented reproducibility.

=============  =============================================  ===========
method         each weight w_jk                               each bias
=============  =============================================  ===========
``uniform``    uniform in [-r, r] (r = ``scale``, default 1)   same as w
``xavier``     uniform in ±sqrt(6 / (n_in + n_out))  (Glorot)  0
``he``         normal, mean 0, std sqrt(2 / n_in)              0
=============  =============================================  ===========
"""

import math


def _uniform(rng, n_in, n_out, scale):
    r = 1.0 if scale is None else float(scale)
    weights = [[rng.uniform(-r, r) for _ in range(n_in)] for _ in range(n_out)]
    biases = [rng.uniform(-r, r) for _ in range(n_out)]
    return weights, biases


def _xavier(rng, n_in, n_out, scale):
    r = math.sqrt(6.0 / (n_in + n_out))
    weights = [[rng.uniform(-r, r) for _ in range(n_in)] for _ in range(n_out)]
    return weights, [0.0] * n_out


def _he(rng, n_in, n_out, scale):
    std = math.sqrt(2.0 / n_in)
    weights = [[rng.gauss(0.0, std) for _ in range(n_in)] for _ in range(n_out)]
    return weights, [0.0] * n_out


INITIALIZERS = {"uniform": _uniform, "xavier": _xavier, "glorot": _xavier, "he": _he}


def initial_weights(method, n_in, n_out, rng, scale=None):
    """Return (weights, biases): n_out rows of n_in weights and n_out biases."""
    try:
        make = INITIALIZERS[method]
    except (KeyError, TypeError):
        known = ", ".join(INITIALIZERS)
        raise ValueError(f"unknown init {method!r} (known: {known})") from None
    return make(rng, n_in, n_out, scale)
