"""Numbers typed by people: command-line arguments, answers in a CSV sheet.

A number is read as exact text first, with its length and exponent bounded,
so that no string can ask for a gigantic integer (``Fraction("1e99999999")``
would compute 10**99999999 and hang) and ``1e999`` is a clear error rather
than an OverflowError:

    >>> read_number("-3/8")
    Fraction(-3, 8)
    >>> read_number("2.5e-3")
    Fraction(1, 400)
    >>> read_number("1e99999999", "--input")
    Traceback (most recent call last):
    ...
    neuronsim.core.errors.SpecError: --input: the exponent of '1e99999999' is beyond ±999

Accepted: an optional sign (``-``, ``+`` or the minus sign ``−``), a decimal
with an optional exponent (``0.25``, ``.5``, ``-2.5e-3``), or a fraction of
two whole numbers (``3/8``, ``-1/2``).
"""

import math
import re

from ..core.errors import SpecError
from ..core.numbers import fraction

MAX_NUMBER_CHARS = 200   # characters of one typed number
MAX_EXPONENT = 999       # |e| of 1.5e-7; float64 ends near 1e308 and 5e-324

# Patterns that re compiles on first use and keeps, not at import: start-up time.
_NUMBER = (r"[+-]?(?:(?P<int>\d+)\s*/\s*(?P<den>\d+)"
           r"|(?P<dec>\d+\.?\d*|\.\d+)(?:[eE](?P<exp>[+-]?\d+))?)\Z")

_NOT_FINITE = r"(?i)[+-]?(nan|inf|infinity|∞)\Z"


def read_number(text, where="number"):
    """``text`` as an exact Fraction, or a SpecError naming ``where``."""
    if not isinstance(text, str):
        raise SpecError(f"{where}: expected a number as text, got {type(text).__name__}")
    clean = text.strip().replace("−", "-")
    if len(clean) > MAX_NUMBER_CHARS:
        raise SpecError(f"{where}: a number of {len(clean):,} characters; at most "
                        f"{MAX_NUMBER_CHARS} are read")
    match = re.match(_NUMBER, clean)
    if not match and re.match(_NOT_FINITE, clean):
        raise SpecError(f"{where}: must be a finite number, got {text.strip()[:20]}")
    if not match:
        raise SpecError(f"{where}: expected a number or a fraction such as 1/2, got "
                        f"{shown(text)}")
    exponent = match.group("exp")
    if exponent is not None and abs(int(exponent)) > MAX_EXPONENT:
        raise SpecError(f"{where}: the exponent of {shown(clean)} is beyond ±{MAX_EXPONENT}")
    if match.group("den") is not None and int(match.group("den")) == 0:
        raise SpecError(f"{where}: expected a number or a fraction such as 1/2, got "
                        f"{shown(text)}")
    return fraction(clean.replace(" ", ""))


def read_float(text, where="number"):
    """``text`` as a finite float64 (the nearest one), or a SpecError naming
    ``where`` (for ``1e999``: beyond the largest float64)."""
    value = read_number(text, where)
    try:
        result = float(value)
    except OverflowError:
        result = math.inf
    if math.isinf(result):
        raise SpecError(f"{where}: {shown(text.strip())} is beyond the largest float64 "
                        "(about 1.8e308)")
    return result


def is_fraction_text(text):
    """True for "p/q" text (read exactly), False for a decimal."""
    return "/" in text


def shown(text, most=40):
    """``text`` quoted and shortened for an error message."""
    text = repr(text)
    return text if len(text) <= most else text[:most - 4] + "...'"
