"""Loss functions E(a, t), each next to its output gradient dE/da.

For one sample with outputs a (of the output layer) and targets t:

=========================  ==================================  ============================
name                       E                                   dE/da_j
=========================  ==================================  ============================
``half_sse``               Σ_j ½ (t_j - a_j)²                  a_j - t_j
``sse``                    Σ_j (t_j - a_j)²                    2 (a_j - t_j)
``mse``                    (1/n) Σ_j (t_j - a_j)²              2 (a_j - t_j) / n
``binary_cross_entropy``   -Σ_j [t_j ln a_j + (1-t_j) ln(1-a_j)]  (a_j - t_j) / (a_j (1 - a_j))
``cross_entropy``          -Σ_j t_j ln a_j                     -t_j / a_j
=========================  ==================================  ============================

(n is the number of outputs; ``half_sse`` is the loss of the classic worked
examples such as Mazur's.)

Two pairings have a simpler and numerically safer output delta
δ_j = dE/dz_j, which the network uses instead of dE/da · g'(z):

* ``binary_cross_entropy`` after ``sigmoid``: δ_j = a_j - t_j
  (the a(1-a) of sigmoid' cancels the denominator of dE/da);
* ``cross_entropy`` after ``softmax``: δ_j = a_j Σ_i t_i - t_j, which is
  a_j - t_j for one-hot (or any summing-to-one) targets.

For those pairings the loss value is computed from z as well
(E = Σ t·softplus(-z) + (1-t)·softplus(z), and E = Σ t_j (logsumexp(z) - z_j)),
so that an output that rounds to exactly 0 or 1 never gives log(0), and a
tiny loss keeps its full relative precision.  Everywhere else a
log of 0 gives an infinite loss, reported as such, never a crash.
"""

from operator import sub

from .numbers import FLOAT
from .summation import sum_in_order


def _divide(numerator, denominator, numbers):
    """numerator / denominator, giving ±inf or nan instead of raising on 0."""
    if denominator == 0:
        if numerator == 0:
            return numbers.nan
        return numbers.inf if numerator > 0 else -numbers.inf
    return numerator / denominator


class Loss:
    """A loss E(a, t) with its gradient dE/da.

    ``value(outputs, targets)`` and ``output_grads(outputs, targets)`` work on
    lists.  ``paired_with`` names the output activation for which
    ``paired_delta(outputs, targets)`` gives δ = dE/dz directly and
    ``paired_value(zs, targets)`` gives E from z (see the module docstring).
    """

    __slots__ = ("name", "value", "output_grads", "paired_with", "paired_delta", "paired_value")

    def __init__(self, name, value, output_grads, paired_with=None,
                 paired_delta=None, paired_value=None):
        self.name = name
        self.value = value
        self.output_grads = output_grads
        self.paired_with = paired_with
        self.paired_delta = paired_delta
        self.paired_value = paired_value

    def __repr__(self):
        return f"Loss({self.name!r})"


def half_sse(numbers=FLOAT):
    """E = Σ ½ (t - a)²;  dE/da = a - t."""

    def value(outputs, targets):
        total = 0
        for a, t in zip(outputs, targets):   # (a loop: the sum of a few terms, without a call)
            total += (t - a) * (t - a)
        return total / 2

    def output_grads(outputs, targets):
        return list(map(sub, outputs, targets))   # [a - t for each output]

    return Loss("half_sse", value, output_grads)


def sse(numbers=FLOAT):
    """E = Σ (t - a)²;  dE/da = 2 (a - t)."""

    def value(outputs, targets):
        return sum_in_order((t - a) * (t - a) for a, t in zip(outputs, targets))

    def output_grads(outputs, targets):
        return [2 * (a - t) for a, t in zip(outputs, targets)]

    return Loss("sse", value, output_grads)


def mse(numbers=FLOAT):
    """E = (1/n) Σ (t - a)²;  dE/da = 2 (a - t) / n, n = number of outputs."""

    def value(outputs, targets):
        return sum_in_order((t - a) * (t - a) for a, t in zip(outputs, targets)) / len(outputs)

    def output_grads(outputs, targets):
        n = len(outputs)
        return [2 * (a - t) / n for a, t in zip(outputs, targets)]

    return Loss("mse", value, output_grads)


def binary_cross_entropy(numbers=FLOAT):
    """E = -Σ [t ln a + (1 - t) ln(1 - a)];  dE/da = (a - t) / (a (1 - a))."""
    log, exp, log1p = numbers.log, numbers.exp, numbers.log1p

    def value(outputs, targets):
        total = 0
        for a, t in zip(outputs, targets):
            # Write 0·ln 0 as 0 (its limit), so a target of exactly 0 or 1
            # does not turn a perfect output into nan.
            if t != 0:
                total -= t * log(a)
            if t != 1:
                total -= (1 - t) * log(1 - a)
        return total

    def output_grads(outputs, targets):
        return [_divide(a - t, a * (1 - a), numbers) for a, t in zip(outputs, targets)]

    def paired_delta(outputs, targets):
        return [a - t for a, t in zip(outputs, targets)]

    def softplus(x):
        """ln(1 + e^x) = max(x, 0) + ln(1 + e^-|x|), exact to the last digit."""
        return (x if x > 0 else 0) + log1p(exp(-abs(x)))

    def paired_value(zs, targets):
        # -ln σ(z) = softplus(-z) and -ln(1 - σ(z)) = softplus(z): no cancellation.
        total = 0
        for z, t in zip(zs, targets):
            if t != 0:
                total += t * softplus(-z)
            if t != 1:
                total += (1 - t) * softplus(z)
        return total

    return Loss("binary_cross_entropy", value, output_grads, "sigmoid",
                paired_delta, paired_value)


def cross_entropy(numbers=FLOAT):
    """E = -Σ t ln a;  dE/da = -t / a.  With softmax: δ = a Σt - t."""
    log, exp, log1p = numbers.log, numbers.exp, numbers.log1p

    def value(outputs, targets):
        return -sum_in_order(t * log(a) for a, t in zip(outputs, targets) if t != 0)

    def output_grads(outputs, targets):
        return [_divide(-t, a, numbers) for a, t in zip(outputs, targets)]

    def paired_delta(outputs, targets):
        target_sum = sum_in_order(targets)
        return [a * target_sum - t for a, t in zip(outputs, targets)]

    def paired_value(zs, targets):
        # -ln a_j = logsumexp(z) - z_j = (m - z_j) + ln(1 + Σ_(i≠k) e^(z_i - m)),
        # m = z_k the largest z: written so that nothing cancels.
        m = max(zs)
        k = zs.index(m)
        rest = sum_in_order(exp(z - m) for i, z in enumerate(zs) if i != k)
        log_sum = log1p(rest)
        return sum_in_order(t * ((m - z) + log_sum) for z, t in zip(zs, targets) if t != 0)

    return Loss("cross_entropy", value, output_grads, "softmax", paired_delta, paired_value)


LOSSES = {
    "half_sse": half_sse,
    "sse": sse,
    "mse": mse,
    "binary_cross_entropy": binary_cross_entropy,
    "cross_entropy": cross_entropy,
}


def get_loss(name, numbers=FLOAT):
    """Build the loss called ``name`` for ``numbers`` (a registry lookup)."""
    if isinstance(name, Loss):
        return name
    try:
        make = LOSSES[name]
    except (KeyError, TypeError):
        known = ", ".join(LOSSES)
        raise ValueError(f"unknown loss {name!r} (known: {known})") from None
    return make(numbers)
