"""neuronsim.render.plain_table draws tabulate's "simple" tables byte for byte, without
importing tabulate, where every character takes one display column."""

import pytest
import wcwidth
from hypothesis import given, settings
from hypothesis import strategies as st
from tabulate import tabulate

from neuronsim.render.plain_table import (
    ONE_COLUMN,
    ONE_COLUMN_BLOCKS,
    one_column_text,
    plain_table,
    simple_table,
)

ONE_COLUMN = sorted(ONE_COLUMN)


def tabulated(rows, headers):
    return tabulate(rows, headers=headers, tablefmt="simple", disable_numparse=True,
                    stralign="left")


def test_every_accepted_character_is_one_column_wide_for_wcwidth():
    """tabulate measures cells with wcwidth.wcswidth; for these characters it is len."""
    assert len(ONE_COLUMN) > 1400
    wider = [f"U+{ord(c):04X}" for c in ONE_COLUMN if wcwidth.wcwidth(c) != 1]
    assert wider == []
    assert [c for c in map(chr, range(0x110000)) if one_column_text(c)] == ONE_COLUMN
    assert ONE_COLUMN[-1] < "\u2300"
    assert all(first < end <= 0x2300 for first, end in ONE_COLUMN_BLOCKS)
    text = "".join(ONE_COLUMN)
    assert wcwidth.wcswidth(text) == len(text)


@pytest.mark.parametrize("text", [
    "m\u0302",          # m̂: a combining accent takes no column
    "δ\u0303",          # δ̃
    "a\nb", "a\rb", "\x1b[31mred\x1b[0m", "\t", "\x01", "a\u00adb", "\u200d", "\ufe0f",
    "\u00a0", "中", "\U0001f600", "\u231a"])
def test_characters_that_are_not_one_column_go_to_tabulate(text):
    assert not one_column_text(text)
    assert simple_table([[text, "x"]], ["a", "b"]) is None
    assert simple_table([["x", "y"]], [text, "b"]) is None
    assert plain_table([[text, "x"]], ["a", "b"]) == tabulated([[text, "x"]], ["a", "b"])


@pytest.mark.parametrize("rows, headers", [
    ([[1, "x"]], ["a", "b"]),                 # a number: tabulate formats it
    ([[None, "x"]], ["a", "b"]),              # tabulate's missing value
    ([["x"]], ["a", "b"]),                    # a short row
    ([["x", "y", "z"]], ["a", "b"]),          # a long row
    ([["x"]], []),                            # no column titles
])
def test_tables_of_other_shapes_or_types_go_to_tabulate(rows, headers):
    assert simple_table(rows, headers) is None
    assert plain_table(rows, headers) == tabulated(rows, headers)


def test_a_trace_table():
    rows = [["2", "a₁⁽²⁾", "sigmoid", "0.05, 0.1", "0.3775"],
            ["3", "δ₂⁽³⁾", "sigmoid", "−0.217071535", "1.2249214"]]
    headers = ["layer", "neuron", "g", "inputs a^(l-1)", "z"]
    expected = ("layer    neuron    g        inputs a^(l-1)    z\n"
                "-------  --------  -------  ----------------  ---------\n"
                "2        a₁⁽²⁾     sigmoid  0.05, 0.1         0.3775\n"
                "3        δ₂⁽³⁾     sigmoid  −0.217071535      1.2249214")
    assert simple_table(rows, headers) == expected == tabulated(rows, headers)


@pytest.mark.parametrize("rows, headers", [
    ([], ["a", "bb"]),                                     # no rows
    ([["", ""]], ["", ""]),                                # empty strings
    ([["  padded  ", " x"], ["True", "1,000"]], ["t", ""]),  # stripped; no parsing
    ([["1", "2.5"], ["-3", "nan"]], ["n", "m"]),           # numbers stay text
    ([["a very long cell", "b"]], ["a", "a long column title"]),
])
def test_edge_cases_match_tabulate(rows, headers):
    assert simple_table(rows, headers) == tabulated(rows, headers)


_text = st.text(alphabet=st.sampled_from(ONE_COLUMN + [" "] * 20), max_size=12)


@st.composite
def _tables(draw):
    columns = draw(st.integers(1, 5))
    headers = draw(st.lists(_text, min_size=columns, max_size=columns))
    rows = draw(st.lists(st.lists(_text, min_size=columns, max_size=columns), max_size=6))
    return rows, headers


@settings(max_examples=300, deadline=None)
@given(_tables())
def test_generated_tables_match_tabulate_byte_for_byte(table):
    rows, headers = table
    assert simple_table(rows, headers) == tabulated(rows, headers)
    assert plain_table(rows, headers) == tabulated(rows, headers)


@pytest.mark.parametrize("argv", [["demo"], ["demo", "optimizers"], ["train", "xor", "--epochs", "5"],
                                  ["trace", "rnn-parity", "--sample", "2"]])
def test_plain_text_commands_do_not_import_tabulate(argv):
    """Their tables are all plain text of one-column characters (python's own start-up
    may have loaded tabulate's modules through site's .pth files: those do not count)."""
    from catalogue import modules_a_command_loads

    assert modules_a_command_loads(argv, ["tabulate", "wcwidth", "importlib.metadata"]) == (0, [])
