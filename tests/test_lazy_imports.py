"""What start-up leaves out works as before: argparse's help width found without shutil,
fractions made and recognised without importing fractions at the top, and the plain
classes that replaced dataclasses on the command line's path (docs/performance.md)."""

import argparse
import copy
import os
import shutil
from fractions import Fraction

import pytest

from neuronsim.cli.main import _HelpFormatter, build_parser, terminal_columns
from neuronsim.core.numbers import FRACTION, fraction, get_numbers, is_fraction
from neuronsim.core.through_time import NeuronStep


@pytest.mark.parametrize("columns", [None, "", "abc", "0", "-3", " 57 ", "120"])
@pytest.mark.parametrize("terminal", [None, 0, 93])
def test_terminal_columns_as_shutil_finds_them(monkeypatch, columns, terminal):
    """$COLUMNS if a positive whole number, else the terminal's width, else 80 (no
    terminal, or a terminal that says 0 columns): as shutil.get_terminal_size()."""
    if columns is None:
        monkeypatch.delenv("COLUMNS", raising=False)
    else:
        monkeypatch.setenv("COLUMNS", columns)

    def size(fd=None):
        if terminal is None:
            raise OSError("not a terminal")
        return os.terminal_size((terminal, 24))

    monkeypatch.setattr(os, "get_terminal_size", size)
    assert terminal_columns() == shutil.get_terminal_size().columns


def parsers(parser):
    """The parser and each of its commands' parsers."""
    yield parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            yield from action.choices.values()


@pytest.mark.parametrize("columns", ["40", "80", "57", "200"])
def test_help_is_argparse_own(monkeypatch, columns):
    """Every command's --help is the text argparse's own HelpFormatter writes."""
    monkeypatch.setenv("COLUMNS", columns)
    for parser in parsers(build_parser()):
        assert parser.formatter_class is _HelpFormatter
        ours = parser.format_help()
        parser.formatter_class = argparse.HelpFormatter
        assert parser.format_help() == ours


def raised(function, *args):
    with pytest.raises(Exception) as caught:
        function(*args)
    return type(caught.value), str(caught.value)


def test_fractions_made_and_recognised_as_before():
    assert fraction("3/8") == Fraction(3, 8) and type(fraction(1, 2)) is Fraction
    assert fraction(-1, 2) == Fraction(-1, 2)
    for bad in (("x",), ("1/0",), (1, 0), (0.5, 2.0)):
        assert raised(fraction, *bad) == raised(Fraction, *bad)
    assert is_fraction(Fraction(1, 2)) and is_fraction(fraction(0))
    assert not any(is_fraction(x) for x in (0.5, 1, True, "1/2", None))
    numbers = get_numbers("fraction")
    assert numbers is FRACTION
    assert (type(numbers.zero), type(numbers.one)) == (Fraction, Fraction)
    assert (numbers.zero, numbers.one) == (0, 1)
    assert numbers.convert(0.1) == Fraction(1, 10) and numbers.convert("3/8") == Fraction(3, 8)


def test_neuron_step_as_the_dataclass_was():
    """Fields by position and name with their defaults, the dataclass's repr and ==,
    unhashable (mutable), no other attributes, copies equal."""
    step = NeuronStep([0.5], 1.0, 0.75, 0.1875, previous=[0.25])
    assert repr(step) == ("NeuronStep(inputs=[0.5], z=1.0, output=0.75, derivative=0.1875, "
                          "previous=[0.25], output_grad=None, delta=None, output_path=None, "
                          "recurrent_path=None, delta_parts=None)")
    same = copy.deepcopy(step)
    assert same == step and same is not step and same.inputs is not step.inputs
    same.delta = 2.0
    assert same != step and step != (step.inputs, step.z)
    with pytest.raises(TypeError):
        hash(step)
    with pytest.raises(AttributeError):
        step.other = 1


def test_the_other_former_dataclasses_compare_and_print_as_they_did():
    """UpdatedParameter and NetworkSize: == by fields, the dataclass's repr, unhashable;
    RecordKind (a frozen dataclass before): == and hash by fields (found by review)."""
    import pickle

    from neuronsim.cli.budgets import NetworkSize
    from neuronsim.render.kinds import RecordKind
    from neuronsim.render.update_tables import UpdatedParameter

    def parameter():
        return UpdatedParameter("w", 1.0, 0.5, 0.5, 0.75, None, None, None)

    assert parameter() == parameter() and parameter() != parameter().__class__(
        "w", 1.0, 0.5, 0.5, 0.5, None, None, None)
    assert repr(parameter()) == ("UpdatedParameter(label='w', old=1.0, grad=0.5, applied=0.5, "
                                 "new=0.75, share=None, before=None, after=None)")
    assert pickle.loads(pickle.dumps(parameter())) == parameter()
    size = NetworkSize([2, 3, 1], 13)
    assert size == NetworkSize([2, 3, 1], 13) and size != NetworkSize([2, 3, 1], 13, samples=4)
    assert repr(size) == ("NetworkSize(sizes=[2, 3, 1], parameters=13, samples=0, "
                          "recurrent=False, time_steps=1.0)")
    for value in (parameter(), size):
        with pytest.raises(TypeError):
            hash(value)
    kinds = [RecordKind("step", False, len, None, None), RecordKind("step", False, len, None, None)]
    assert kinds[0] == kinds[1] and len(set(kinds)) == 1
    assert repr(kinds[0]) == ("RecordKind(name='step', time_steps=False, "
                              "render=<built-in function len>, update=None, notes=None)")


def test_drawn_weights_from_one_stream_made_at_the_first_draw():
    """Layers without a "seed" draw in turn from one random.Random(the file's seed),
    made when the first of them draws; a layer with a "seed" from its own; a layer
    whose weights are given draws nothing."""
    import random

    from neuronsim.core.initializers import initial_weights
    from neuronsim.files.spec import check_spec

    given = {"activation": "linear", "weights": [[0.5, -0.25]], "biases": [0.125]}
    spec = {"inputs": 2, "seed": 7, "layers": [
        dict(given), {"activation": "tanh", "size": 3, "init": "xavier"},
        {"activation": "tanh", "size": 2, "init": "uniform", "seed": 11},
        {"activation": "sigmoid", "size": 2, "init": "he"}]}
    checked = check_spec(spec)["layers"]
    shared, own = random.Random(7), random.Random(11)
    expected = [([[0.5, -0.25]], [0.125]), initial_weights("xavier", 1, 3, shared, None),
                initial_weights("uniform", 3, 2, own, None),
                initial_weights("he", 2, 2, shared, None)]
    assert [(layer["weights"], layer["biases"]) for layer in checked] == expected


def test_terminal_text_returns_printable_text_as_it_is():
    """terminal_text returns text of printable characters unchanged without its
    pattern: right because no character the pattern shows is printable."""
    import re
    import sys

    from neuronsim.render import escape

    controls = {chr(c) for c in range(sys.maxunicode + 1) if re.match(escape._CONTROL, chr(c))}
    assert len(controls) == 32 + 33 + 5 + 5 + 4 + 1
    assert not any(c.isprintable() for c in controls)
    for text in ("plain", "δ₁ = −0.5·(1 − a)", "", "a\nb\tc", "x\x1by", "\u202eabc",
                 "nbsp\u00a0here", "e\u0301", "\n", "a\rb"):
        for keep in ("", "\n", "\n\t", "\n\r"):
            expected = "".join(c if c in keep or c not in controls
                               else {"\n": "\\n", "\t": "\\t", "\r": "\\r"}.get(c)
                               or (f"\\x{ord(c):02x}" if ord(c) < 256 else f"\\u{ord(c):04x}")
                               for c in text)
            assert escape.terminal_text(text, keep) == expected
    assert escape.terminal_output("a\x1b[31m\n\tb\u200b") == "a\\x1b[31m\n\tb\\u200b"
