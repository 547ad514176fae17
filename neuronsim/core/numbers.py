"""Number systems: which arithmetic the neurons compute in.

The neuron, layer and network code is written once, with ``+ - * /`` and
integer constants only, so that it runs unchanged on any number type.  What
differs between number systems is collected here: how to convert a user's
value, and the transcendental functions (exp, log, tanh) that activations and
losses need.

Three number systems (docs/number-modes.md):

``float``     IEEE float64 (Python float), the default.  ``FLOAT`` is used
              directly: nothing is added on its path.
``fraction``  exact rational arithmetic (``fractions.Fraction``) for networks
              built from + - * / only (linear, relu, leaky_relu; half_sse,
              sse, mse).
``precise``   arbitrary precision with mpmath, ``precise:DIGITS`` significant
              digits (50 by default); every activation and loss.

Choose one by name: ``Network.from_arrays(..., numbers="fraction")``,
``Network.from_spec(path, numbers="precise:50")`` or ``--numbers`` on the
command line; :func:`get_numbers` turns the name into the object.
"""

import math
import sys
from numbers import Rational

from .errors import NeuronsimError


# ---------------------------------------------------------------- fractions, imported lazily
# The fractions module (with decimal) costs every command a few milliseconds of start-up,
# and only exact fractions need it: the fraction number system and "p/q" text.  So no
# module imports it at the top; they make and recognise fractions with these two.
def fraction(*args):
    """``fractions.Fraction(*args)`` (the same value, the same errors); the module is
    imported on first use."""
    from fractions import Fraction

    return Fraction(*args)


def is_fraction(value):
    """``isinstance(value, fractions.Fraction)``, without importing fractions: before the
    module is loaded nothing can be a Fraction."""
    module = sys.modules.get("fractions")
    return module is not None and isinstance(value, module.Fraction)


class FloatNumbers:
    """IEEE float64 arithmetic with Python's ``math`` module."""

    name = "float"
    zero = 0.0
    one = 1.0
    exp = staticmethod(math.exp)
    tanh = staticmethod(math.tanh)
    log1p = staticmethod(math.log1p)
    sqrt = staticmethod(math.sqrt)   # correctly rounded, as torch's Tensor.sqrt
    cos = staticmethod(math.cos)
    pi = math.pi
    inf = math.inf
    nan = math.nan

    # Turns a user's number (int, float, numpy scalar) into a float: the builtin
    # itself, so converting an input vector costs no Python-level call.
    convert = float

    @staticmethod
    def log(x):
        """Natural log with log(0) = -inf and log(x < 0) = nan (never raises)."""
        if x > 0:
            return math.log(x)
        return -math.inf if x == 0 else math.nan

    @staticmethod
    def is_finite(x):
        return math.isfinite(x)

    @staticmethod
    def to_float(x):
        return float(x)


FLOAT = FloatNumbers()


# ---------------------------------------------------------------- fraction
FRACTION_REFUSAL = (
    "numbers='fraction' computes with exact fractions, which cannot hold e^x, ln x or "
    "tanh x: sigmoid, tanh, softmax, binary_cross_entropy and cross_entropy need them. "
    "Fraction mode runs linear, relu and leaky_relu layers with the half_sse, sse or mse "
    "loss; for this network use numbers='precise' (for example 'precise:50', "
    "arbitrary precision with mpmath)")


class FractionNumbers:
    """Exact rational arithmetic with :class:`fractions.Fraction`.

    Only + - * / are available, so only the activations and losses built
    from them run: linear, relu, leaky_relu; half_sse, sse, mse.  Asking for
    exp, log or tanh (which sigmoid, tanh, softmax and the log losses do
    when they are built) raises a :class:`~neuronsim.core.errors.NeuronsimError`
    that suggests ``precise``.

    ``convert`` reads a float as the decimal it prints as (0.1 -> 1/10, the
    number the user wrote), not as its binary value; a string such as
    ``"3/8"`` or ``"0.375"`` is read exactly.
    """

    name = "fraction"
    exact = True
    zero = property(lambda self: fraction(0))   # made when asked: fractions loads lazily
    one = property(lambda self: fraction(1))

    def _refuse(self):
        raise NeuronsimError(FRACTION_REFUSAL)

    exp = tanh = log = log1p = inf = nan = property(_refuse)
    sqrt = cos = pi = property(_refuse)   # optimizers check first, with their own message

    @staticmethod
    def convert(value):
        """int, Fraction, float (via its printed decimal) or "p/q" text -> Fraction."""
        if is_fraction(value):
            return value
        if isinstance(value, bool):
            raise TypeError(f"expected a number, got {value!r}")
        if isinstance(value, Rational):
            return fraction(value.numerator, value.denominator)
        if isinstance(value, str):
            return _parse_fraction(value)
        as_float = float(value)
        if not math.isfinite(as_float):
            raise ValueError(f"{as_float} is not a fraction")
        return fraction(repr(as_float))

    @staticmethod
    def is_finite(x):
        return True  # a Fraction is always finite

    @staticmethod
    def to_float(x):
        return float(x)

    @staticmethod
    def to_json(x):
        """A whole number as an int, anything else as exact text "p/q"."""
        x = FractionNumbers.convert(x)
        return x.numerator if x.denominator == 1 else f"{x.numerator}/{x.denominator}"

    def __repr__(self):
        return "FractionNumbers()"


def _parse_fraction(text):
    """ "3/8", "-1/2", "0.375", "2" -> Fraction; a ValueError names the text."""
    try:
        return fraction(text.strip())
    except (ValueError, ZeroDivisionError):
        raise ValueError(f"{text!r} is not a number or a fraction such as \"3/8\"") from None


FRACTION = FractionNumbers()


# ---------------------------------------------------------------- precise
DEFAULT_DIGITS = 50
MAX_DIGITS = 10_000


class PreciseNumbers:
    """Arbitrary-precision floating point with mpmath, ``digits`` significant digits.

    Each instance has its own ``mpmath.MPContext``, so its precision is not
    a global setting and two precisions can be used side by side.  Every
    activation and loss runs.  ``convert`` takes a float at its exact binary
    value (0.1 -> 0.1000000000000000055511151231257827...), so a precise
    network computes on exactly the numbers a float64 network starts from
    and differs from it only by the rounding of the arithmetic.
    """

    name = "precise"
    exact = False

    def __init__(self, digits=DEFAULT_DIGITS):
        try:
            import mpmath
        except ImportError:
            raise NeuronsimError("numbers='precise' needs mpmath: pip install mpmath") from None
        if isinstance(digits, bool) or not isinstance(digits, int) or not 1 <= digits <= MAX_DIGITS:
            raise ValueError(f"precise: digits must be a whole number from 1 to {MAX_DIGITS}, "
                             f"got {digits!r}")
        self.digits = digits
        self.context = ctx = mpmath.MPContext()
        ctx.dps = digits
        self.zero = ctx.mpf(0)
        self.one = ctx.mpf(1)
        self.inf = ctx.inf
        self.nan = ctx.nan
        self.exp = ctx.exp
        self.tanh = ctx.tanh
        self.log1p = ctx.log1p
        self.sqrt = ctx.sqrt
        self.cos = ctx.cos
        self.pi = ctx.pi

    def convert(self, value):
        """int, float (exact binary value), Fraction or decimal text -> mpf."""
        ctx = self.context
        if isinstance(value, bool):
            raise TypeError(f"expected a number, got {value!r}")
        if isinstance(value, Rational) and not isinstance(value, int):
            return ctx.mpf(value.numerator) / value.denominator
        if isinstance(value, str):
            return ctx.mpf(value.strip())
        if hasattr(value, "_mpf_"):
            return ctx.mpf(value)
        return ctx.mpf(value if isinstance(value, int) else float(value))

    def log(self, x):
        """Natural log with log(0) = -inf and log(x < 0) = nan (never raises)."""
        if x > 0:
            return self.context.log(x)
        return -self.inf if x == 0 else self.nan

    def is_finite(self, x):
        return bool(self.context.isfinite(x))

    @staticmethod
    def to_float(x):
        return float(x)

    def __repr__(self):
        return f"PreciseNumbers(digits={self.digits})"


NUMBER_SYSTEMS = {"float": FLOAT, "fraction": FRACTION, "precise": PreciseNumbers}


def get_numbers(name="float"):
    """The number system called ``name``: "float", "fraction", "precise" or "precise:DIGITS".

    "precise" alone means 50 significant digits.  A number-system object is
    returned unchanged.
    """
    if not isinstance(name, str):
        return name  # already a number-system object
    base, _, argument = name.strip().partition(":")
    if base not in NUMBER_SYSTEMS:
        known = "float, fraction, precise[:DIGITS]"
        raise ValueError(f"unknown number system {name!r} (known: {known})")
    if base == "precise":
        if not argument:
            return PreciseNumbers(DEFAULT_DIGITS)
        try:
            digits = int(argument)
        except ValueError:
            raise ValueError(f"numbers {name!r}: expected precise:DIGITS with a whole number "
                             "of digits, such as precise:50") from None
        return PreciseNumbers(digits)
    if argument:
        raise ValueError(f"numbers {name!r}: only precise takes a number of digits")
    return NUMBER_SYSTEMS[base]


def is_exact(numbers_system):
    """True for a number system that computes without rounding (fraction)."""
    return getattr(numbers_system, "exact", False)
