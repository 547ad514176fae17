"""Tables pad cells by their display width, so a trace is the same text on every
machine: m̂ (m and a combining circumflex) takes one column, as on the screen.

tabulate measures display width only when wcwidth is installed; neuronsim
requires it (``tabulate[widechars]`` in setup.cfg)."""

import unicodedata

from neuronsim.render.tables import _Writer


def display_width(text):
    return sum(0 if unicodedata.combining(c) else 1 for c in text)


def test_a_combining_accent_takes_no_column():
    w = _Writer("plain", 9, "nielsen", False)
    text = w.table([["m̂", "1"], ["mm", "2"], ["v̂ₘₐₓ", "3"]], ["quantity", "value"])
    lines = text.splitlines()
    # the second column starts at the same display column on every line
    starts = {display_width(line[:line.rindex(" ") + 1]) for line in lines[2:]}
    assert len(starts) == 1, text
    assert display_width(lines[2].split("  ")[0]) == 1


def test_the_table_library_measures_display_width():
    import tabulate

    assert tabulate.WIDE_CHARS_MODE, "install tabulate[widechars] (wcwidth)"
