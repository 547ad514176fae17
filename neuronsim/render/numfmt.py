r"""How numbers are written in tables and equations.

``digits`` is the number of significant digits (default 9, enough for the
published digits of the classic worked examples); trailing zeros are dropped,
so 0.24130 with 5 digits is written 0.2413.  Negative numbers use the
typographic minus sign − in text, Markdown and HTML, and ``-`` in LaTeX.

Exact fractions (``fractions.Fraction``, the ``fraction`` number system) are
written exactly whatever ``digits`` says: ``3/8`` in text and HTML,
``\frac{3}{8}`` in LaTeX, and a whole number without a denominator.
mpmath numbers (the ``precise`` number system) are rounded to ``digits``
significant digits like floats, with the same fixed/exponent layout as
Python's ``g`` format.

    >>> from fractions import Fraction
    >>> format_number(Fraction(-3, 8)), format_number(Fraction(3, 8), style="latex")
    ('−3/8', '\\frac{3}{8}')
    >>> factor(Fraction(1, 2)), factor(Fraction(-1, 2))
    ('(1/2)', '(−1/2)')
"""

import sys

from ..core.errors import NumericalError
from ..core.numbers import is_fraction

STYLES = ("text", "latex", "html")


def format_number(x, digits=9, style="text"):
    """Write x with ``digits`` significant digits, e.g. 0.298371109."""
    if x is None:
        return ""
    if isinstance(x, bool):
        return str(x)
    if isinstance(x, int):
        text = str(x)
    elif isinstance(x, float):
        if x == 0:
            text = "0"
        elif x != x:
            text = "nan"
        elif x in (float("inf"), float("-inf")):
            text = "∞" if x > 0 else "-∞"
            if style == "latex":
                text = r"\infty" if x > 0 else r"-\infty"
        else:
            text = f"{x:.{digits}g}"
    elif is_fraction(x):
        text = format_fraction(x, style)
    elif hasattr(x, "_mpf_"):
        text = format_mpf(x, digits, style)
    else:
        formatter = getattr(x, "__neuronsim_format__", None)
        text = formatter(digits, style) if formatter else str(x)
    if style != "latex" and text.startswith("-"):
        text = "−" + text[1:]
    return text


def format_fraction(x, style="text"):
    """An exact fraction: 3/8 (text, HTML) or \\frac{3}{8} (LaTeX); 2 for 2/1.

    A fraction too long for Python to write (more digits than
    ``sys.get_int_max_str_digits()``, 4300 by default) is a NumericalError
    that says so and points to precise numbers.
    """
    _check_writable(x)
    if x.denominator == 1:
        return str(x.numerator)
    if style == "latex":
        sign = "-" if x < 0 else ""
        return rf"{sign}\frac{{{abs(x.numerator)}}}{{{x.denominator}}}"
    return f"{x.numerator}/{x.denominator}"


def _check_writable(x):
    """Raise if the numerator or denominator of ``x`` has more digits than
    Python converts to text (exact fractions grow with depth and steps)."""
    most = sys.get_int_max_str_digits()
    if not most:
        return
    bits = max(x.numerator.bit_length(), x.denominator.bit_length())
    if bits * 0.30103 > most:
        raise NumericalError(
            f"an exact fraction of about {int(bits * 0.30103):,} digits is too long to write "
            f"(at most {most:,} digits): exact fractions grow with every layer and step; use "
            "--numbers precise:50 (numbers='precise:50'; docs/number-modes.md)")


def format_mpf(x, digits=9, style="text"):
    """An mpmath number rounded to ``digits`` significant digits, laid out as
    Python's ``g`` format lays out a float (fixed for exponents -4 to digits-1)."""
    ctx = x.context
    if not ctx.isfinite(x):
        if x != x:
            return "nan"
        if style == "latex":
            return r"\infty" if x > 0 else r"-\infty"
        return "∞" if x > 0 else "-∞"
    if x == 0:
        return "0"
    from decimal import Context, Decimal   # here, not at the top: only mpmath numbers need it

    rounded = Decimal(ctx.nstr(x, digits)).normalize(Context(prec=digits + 2))
    exponent = rounded.adjusted()
    if -4 <= exponent < digits:
        return format(rounded, "f")
    mantissa, _, power = format(rounded, "e").partition("e")
    return f"{mantissa}e{int(power):+03d}"


def factor(x, digits=9, style="text"):
    """A number as a factor in a product: negatives in parentheses, and in
    text a fraction too, so that (1/2)·(3/4) cannot be misread."""
    text = format_number(x, digits, style)
    if text.startswith(("−", "-")):
        return f"({text})"
    if style != "latex" and is_fraction(x) and x.denominator != 1:
        return f"({text})"
    return text
