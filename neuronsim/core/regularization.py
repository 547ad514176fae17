"""Penalty terms added to the loss, and gradient clipping.

Penalty (``net.penalty``, the file's ``"penalty": {"l1": λ₁, "l2": λ₂}``): the
loss minimised is E + R with

    R = λ₁·Σ|w| + (λ₂/2)·Σ w²      over every weight w (and recurrent weight u),
                                    not the biases, not a learned initial state

added once per update (to the batch's mean loss, or to its sum for
``reduction="sum"``), so each weight's gradient gains

    dR/dw = λ₁·sign(w) + λ₂·w       (sign(0) = 0, as torch.sign)

as it would in a torch loop with ``loss = criterion(...) + l1 * w.abs().sum() +
l2 / 2 * (w ** 2).sum()``.  (Weight decay, an option of the optimizer, is
the other way to the λ₂ term: torch adds λθ to every parameter's gradient,
biases included.)

Clipping (``net.clip``), applied to the batch gradient g (after the mean over
the batch and the penalty) before the optimizer, as torch.nn.utils does:

    by norm:   N = √(Σ g²) over every parameter updated;  c = max_norm / (N + 10⁻⁶);
               g ← c·g when c < 1            (clip_grad_norm_, norm_type 2)
    by value:  g ← min(max(g, −v), v)        (clip_grad_value_)
"""

from numbers import Real

from .errors import NeuronsimError
from .summation import sum_in_order

CLIP_EPS = 1e-6   # torch's, in the denominator of clip_grad_norm_


class RegularizationError(NeuronsimError, ValueError):
    """A bad penalty or clipping option (the message names it)."""


def _amount(value, place):
    if isinstance(value, bool) or not isinstance(value, Real) or not 0 <= value < float("inf"):
        raise RegularizationError(f"{place}: expected a finite number >= 0, got {value!r}")
    return value


def sign(x):
    return (x > 0) - (x < 0)


class Penalty:
    """R = λ₁·Σ|w| + (λ₂/2)·Σw² over the weights (``l1`` = λ₁, ``l2`` = λ₂)."""

    def __init__(self, l1=0, l2=0):
        self.l1 = _amount(l1, "penalty.l1")
        self.l2 = _amount(l2, "penalty.l2")

        self._l1, self._l2 = l1, l2

    def bind(self, numbers):
        """Compute in ``numbers`` (every mode: only + − × and |w|)."""
        self._l1, self._l2 = numbers.convert(self.l1), numbers.convert(self.l2)
        return self

    def value(self, weights):
        """R of a list of weights."""
        return (self._l1 * sum_in_order(abs(w) for w in weights)
                + self._l2 / 2 * sum_in_order(w * w for w in weights))

    def gradient(self, weights):
        """[dR/dw = λ₁·sign(w) + λ₂·w for each w]."""
        l1, l2 = self._l1, self._l2
        return [l1 * sign(w) + l2 * w for w in weights]

    def to_spec(self):
        return {"l1": self.l1, "l2": self.l2}


class Clip:
    """Clip the batch gradient by its global 2-norm (``max_norm``) or by value
    (``value``): one of the two."""

    def __init__(self, max_norm=None, value=None):
        if (max_norm is None) == (value is None):
            raise RegularizationError("clip: give one of max_norm (clip by the global norm) "
                                      "or value (clip each gradient)")
        self.max_norm = None if max_norm is None else _amount(max_norm, "clip.max_norm")
        self.value = None if value is None else _amount(value, "clip.value")
        self.last_norm = None   # N of the last update (by norm)

    def apply(self, grads, numbers):
        """``grads``: a list of gradients (numbers or lists); returns them clipped."""
        if self.value is not None:
            v = numbers.convert(self.value)
            return [[min(max(g, -v), v) for g in entry] if isinstance(entry, list)
                    else min(max(entry, -v), v) for entry in grads]
        total = 0
        for entry in grads:
            total += sum_in_order(g * g for g in entry) if isinstance(entry, list) else entry * entry
        self.last_norm = norm = numbers.sqrt(total)
        coef = numbers.convert(self.max_norm) / (norm + numbers.convert(CLIP_EPS))
        if not coef < 1:
            return grads
        return [[coef * g for g in entry] if isinstance(entry, list) else coef * entry
                for entry in grads]

    def to_spec(self):
        return {"max_norm": self.max_norm} if self.max_norm is not None else {"value": self.value}
