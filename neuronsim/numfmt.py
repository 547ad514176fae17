"""How numbers are written in tables and equations.

``digits`` is the number of significant digits (default 9, enough for the
published digits of the classic worked examples).  Negative numbers use the
typographic minus sign − in text, Markdown and HTML, and ``-`` in LaTeX.
"""

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
    else:
        formatter = getattr(x, "__neuronsim_format__", None)
        text = formatter(digits, style) if formatter else str(x)
    if style != "latex" and text.startswith("-"):
        text = "−" + text[1:]
    return text


def factor(x, digits=9, style="text"):
    """A number as a factor in a product: negatives in parentheses."""
    text = format_number(x, digits, style)
    if text.startswith(("−", "-")):
        return f"({text})"
    return text
