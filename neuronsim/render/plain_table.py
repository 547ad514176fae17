"""Plain-text tables in tabulate's "simple" format, drawn without importing tabulate
where that gives the same bytes.

Importing tabulate costs more than everything else ``neuronsim trace`` does (it
imports ``importlib.metadata`` to read its own version, and ``wcwidth``), while a
plain trace's tables hold short strings only.  For such a table, tabulate's
``tabulate(rows, headers, tablefmt="simple", disable_numparse=True,
stralign="left")`` is, with ``width`` the number of display columns::

    width of column j = max(width(title j) + 2, width of its widest stripped cell)
    title row:  each title left-justified to its column's width
    rule:       "-" x the column's width, for each column
    each row:   each cell stripped of surrounding white space, left-justified
    (columns joined by two spaces; each line's trailing spaces dropped)

:func:`simple_table` draws that when every title and cell is a ``str`` whose
characters each take one display column, so that width is ``len``: printable
characters of the blocks the traces use (ASCII, Latin-1 and Latin Extended, Greek,
the phonetic letters such as ᵗ, general punctuation, super- and subscripts,
letterlike symbols, number forms, arrows, mathematical operators).  Anything else
(a combining accent as in m̂, a control or format character, a line break, a
number, rows of other lengths) returns None, and the caller asks tabulate.
tests/test_plain_table.py checks that every such character is one column wide for
wcwidth (which tabulate measures with) and compares generated tables with
tabulate's, byte for byte.
"""

# The blocks of one-column characters (see the module docstring), as code point ranges
# (first, last + 1); of these, the printable characters are ONE_COLUMN.
ONE_COLUMN_BLOCKS = ((0x20, 0x7F), (0xA1, 0x250), (0x370, 0x400), (0x1D00, 0x1DC0),
                     (0x2010, 0x205F), (0x2070, 0x20A0), (0x2100, 0x2300))
ONE_COLUMN = frozenset(c for first, end in ONE_COLUMN_BLOCKS
                       for c in map(chr, range(first, end)) if c.isprintable())


def one_column_text(text):
    """True when ``text`` is a str whose characters each take one display column."""
    return type(text) is str and ONE_COLUMN.issuperset(text)


def simple_table(rows, headers):
    """tabulate's "simple" table of ``rows`` (a list of lists of str) under ``headers``
    (left-aligned, no number parsing), or None when its cells are not all
    :func:`one_column_text` in rows as long as ``headers``."""
    headers = list(headers)
    if not headers or not all(one_column_text(h) for h in headers):
        return None
    cells = []
    for row in rows:
        if len(row) != len(headers) or not all(one_column_text(cell) for cell in row):
            return None
        cells.append([cell.strip() for cell in row])
    widths = [len(h) + 2 for h in headers]
    for row in cells:
        widths = [max(w, len(cell)) for w, cell in zip(widths, row)]
    lines = [_line(headers, widths), _line(["-" * w for w in widths], widths)]
    lines.extend(_line(row, widths) for row in cells)
    return "\n".join(lines)


def _line(cells, widths):
    """One line: the cells left-justified to their widths, two spaces apart, no trailing
    spaces."""
    return "  ".join(cell.ljust(w) for cell, w in zip(cells, widths)).rstrip()


def plain_table(rows, headers):
    """``tabulate(rows, headers, tablefmt="simple", disable_numparse=True,
    stralign="left")``: by :func:`simple_table` where it can, else by tabulate
    (imported here, when first needed)."""
    rows = [list(row) for row in rows]
    headers = list(headers)
    text = simple_table(rows, headers)
    if text is None:
        from tabulate import tabulate

        text = tabulate(rows, headers=headers, tablefmt="simple", disable_numparse=True,
                        stralign="left")
    return text
