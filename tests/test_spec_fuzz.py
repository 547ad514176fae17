"""Fuzzing the network-file loader: a network or a SpecError with a place, nothing else.

Three kinds of input: any JSON value, JSON objects shaped like network files
with wrong values in every slot, and the bytes of valid files truncated or
garbled.  Each must give a Network or a :class:`SpecError` whose message
starts with a location (``layers[0].weights[1]: ...`` or the file's name);
never another exception, never a long wait.
"""

import json
import os
import re
import sys
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from neuronsim import Network, SpecError
from neuronsim.files.spec import MAX_PARAMETERS, load_network, network_from_spec

EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                        "neuronsim", "files", "examples")
EXAMPLE_FILES = sorted(os.path.join(EXAMPLES, name) for name in os.listdir(EXAMPLES)
                       if name.endswith(".json"))

FUZZ = settings(max_examples=150, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])

# "where: message": a key path such as layers[1].weights[0] or inputs, then a colon.
LOCATION = re.compile(r"^[A-Za-z_][\w]*(\[\d+\])*(\.[A-Za-z_]\w*(\[\d+\])*)*: \S")
SECONDS = 2.0   # far more than any file here needs; a hang would show


def outcome(build):
    """Run ``build``; return the Network, or the SpecError message; fail on anything else."""
    start = time.perf_counter()
    try:
        result = build()
    except SpecError as exc:
        result = str(exc)
    elapsed = time.perf_counter() - start
    assert elapsed < SECONDS, f"took {elapsed:.1f} s"
    return result


def assert_located(message, prefix=""):
    """The message starts with a key path; an unknown key (any text at all) names itself."""
    assert message.startswith(prefix), message
    rest = message[len(prefix):]
    assert LOCATION.match(rest) or re.match(r"^.*: unknown key \(known: ", rest, re.S), \
        f"no location at the start of: {message}"


# ---------------------------------------------------------------- strategies
numbers = st.one_of(st.integers(-10**30, 10**30), st.floats(allow_nan=True, allow_infinity=True))
scalars = st.one_of(st.none(), st.booleans(), numbers, st.text(max_size=12))
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=5),
                            st.dictionaries(st.text(max_size=8), inner, max_size=5)),
    max_leaves=30)

NAMES = ["sigmoid", "tanh", "relu", "leaky_relu", "linear", "softmax", "xavier", "he",
         "uniform", "half_sse", "cross_entropy", "binary_cross_entropy", "mean", "sum",
         "separate", "first_column", "neuronsim-network", "recurrent", "bogus", ""]
ACTIVATION_NAMES = ["sigmoid", "tanh", "relu", "leaky_relu", "linear", "softmax"]
LOSS_NAMES = ["half_sse", "sse", "mse", "binary_cross_entropy", "cross_entropy"]
weights = st.floats(-2, 2, allow_nan=False)
anything_small = st.one_of(st.integers(-3, 6), st.sampled_from(NAMES), st.none(), st.booleans(),
                           numbers, st.lists(st.integers(-3, 6), max_size=3), st.just({}),
                           st.text(max_size=4))


@st.composite
def valid_specs(draw):
    """A network file that loads: 1 to 3 layers of width 1 to 4, each given by
    weights or by size + init, in either bias layout, with a few samples."""
    sizes = draw(st.lists(st.integers(1, 4), min_size=2, max_size=4))
    layout = draw(st.sampled_from(["separate", "first_column"]))
    layers = []
    for n_in, n_out in zip(sizes, sizes[1:]):
        layer = {"activation": draw(st.sampled_from(ACTIVATION_NAMES))}
        if draw(st.booleans()):
            width = n_in + (layout == "first_column")
            layer["weights"] = draw(st.lists(st.lists(weights, min_size=width, max_size=width),
                                             min_size=n_out, max_size=n_out))
            if layout == "separate" and draw(st.booleans()):
                layer["biases"] = draw(st.lists(weights, min_size=n_out, max_size=n_out))
        else:
            layer.update(size=n_out, init=draw(st.sampled_from(["xavier", "he", "uniform"])),
                         seed=draw(st.integers(0, 99)))
        if layer["activation"] == "leaky_relu" and draw(st.booleans()):
            layer["slope"] = draw(weights)
        layers.append(layer)
    spec = {"format": "neuronsim-network", "version": 1, "inputs": sizes[0], "layers": layers,
            "loss": draw(st.sampled_from(LOSS_NAMES)), "bias_layout": layout,
            "learning_rate": draw(st.floats(0.01, 1)), "seed": draw(st.integers(0, 99)),
            "samples": [{"input": draw(st.lists(weights, min_size=sizes[0], max_size=sizes[0])),
                         "target": draw(st.lists(weights, min_size=sizes[-1],
                                                 max_size=sizes[-1]))}
                        for _ in range(draw(st.integers(0, 2)))]}
    return spec


def _slots(value, path=()):
    """Every (container, key) in a JSON value, depth first."""
    items = value.items() if isinstance(value, dict) else enumerate(value) \
        if isinstance(value, list) else ()
    for key, item in items:
        yield value, key
        yield from _slots(item, path + (key,))


@st.composite
def network_objects(draw):
    """A valid network file with 1 to 3 slots changed: a value replaced by
    anything, an entry deleted or duplicated, or an unknown key added."""
    spec = draw(valid_specs())
    for _ in range(draw(st.integers(1, 3))):
        slots = list(_slots(spec))[::-1]   # deepest first: where hypothesis draws most
        container, key = draw(st.sampled_from(slots))
        change = draw(st.sampled_from(["replace", "replace", "replace", "delete", "duplicate",
                                       "add"]))
        if change == "replace":
            container[key] = draw(anything_small)
        elif change == "delete":
            del container[key]
        elif change == "duplicate" and isinstance(container, list):
            container.insert(key, container[key])
        elif change == "add" and isinstance(container, dict):
            container[draw(st.sampled_from(["type", "extra", "size", "weights", "biases"]))] = \
                draw(anything_small)
    return spec


# ---------------------------------------------------------------- dicts
@FUZZ
@given(json_values)
def test_any_json_value(value):
    result = outcome(lambda: network_from_spec(value))
    if isinstance(result, str):
        assert_located(result)


@FUZZ
@given(network_objects())
def test_network_shaped_objects(spec):
    result = outcome(lambda: network_from_spec(spec))
    if isinstance(result, str):
        assert_located(result)
    else:
        assert isinstance(result, Network)
        # Whatever was accepted saves and loads back to the same network.
        assert network_from_spec(result.to_spec()).to_spec() == result.to_spec()


# ---------------------------------------------------------------- bytes
def example_bytes():
    return st.sampled_from(EXAMPLE_FILES).map(lambda path: open(path, "rb").read())


@st.composite
def damaged_files(draw):
    """A valid file truncated, with bytes overwritten, inserted or deleted."""
    data = bytearray(draw(example_bytes()))
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["truncate", "overwrite", "insert", "delete"]))
        position = draw(st.integers(0, max(len(data) - 1, 0)))
        if kind == "truncate":
            del data[position:]
        elif kind == "overwrite" and data:
            data[position] = draw(st.integers(0, 255))
        elif kind == "insert":
            data[position:position] = draw(st.binary(min_size=1, max_size=4))
        elif data:
            del data[position]
    return bytes(data)


@FUZZ
@given(damaged_files())
def test_damaged_files(tmp_path, data):
    path = tmp_path / "net.json"
    path.write_bytes(data)
    result = outcome(lambda: load_network(path))
    if isinstance(result, str):
        assert result.startswith(f"{path}:"), result
        rest = result[len(f"{path}:"):]
        # Either "LINE:COL: not valid JSON (...)", a file-level problem, or a key path.
        assert (re.match(r"^\d+:\d+: not valid JSON \(", rest)
                or re.match(r"^ (not UTF-8 text|the file is empty|\w+ is not allowed)", rest)
                or assert_located(rest.lstrip()) is None), result


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=os.path.basename)
def test_every_truncation_of_an_example(tmp_path, path):
    """Every cut of a bundled file: exhaustively, since they are small."""
    data = open(path, "rb").read()
    target = tmp_path / "cut.json"
    for cut in range(0, len(data), max(1, len(data) // 300)):
        target.write_bytes(data[:cut])
        message = outcome(lambda: load_network(target))
        assert isinstance(message, str), f"a cut at byte {cut} loaded"
        assert message.startswith(f"{target}: the file is empty") or \
            re.match(rf"^{re.escape(str(target))}:\d+:\d+: not valid JSON", message), message


def test_truncated_file_message_names_file_line_and_column(tmp_path):
    data = open(EXAMPLE_FILES[0], "rb").read()
    path = tmp_path / "half.json"
    path.write_bytes(data[:len(data) // 2])
    with pytest.raises(SpecError, match=rf"^{re.escape(str(path))}:\d+:\d+: not valid JSON"):
        load_network(path)


# ---------------------------------------------------------------- limits
@pytest.mark.parametrize("spec, message", [
    ({"inputs": 100_000, "layers": [{"activation": "relu", "size": 100_000}]},
     f"layers[0]: the network would have more than {MAX_PARAMETERS:,} parameters"),
    ({"inputs": 10**12, "layers": [{"activation": "relu", "size": 2}]},
     "inputs: must be between 1 and 100000, got 1000000000000"),
    ({"inputs": 2, "layers": [{"activation": "relu", "size": 10**9}]},
     "layers[0].size: must be between 1 and 100000, got 1000000000"),
    ({"inputs": 1000, "layers": [{"activation": "relu", "size": 1000},
                                 {"activation": "relu", "size": 9000}]},
     f"layers[1]: the network would have more than {MAX_PARAMETERS:,} parameters"),
    ({"inputs": 2, "layers": [{"activation": "linear", "size": 1}] * 1001},
     "layers: at most 1000 layers, got 1001"),
])
def test_absurd_sizes_are_refused_quickly(spec, message):
    result = outcome(lambda: network_from_spec(spec))
    assert isinstance(result, str) and message in result, result
    assert_located(result)


def test_deeply_nested_values_are_a_spec_error(tmp_path):
    deep = 0
    for _ in range(50_000):
        deep = [deep]
    result = outcome(lambda: network_from_spec({"inputs": deep, "layers": []}))
    assert isinstance(result, str) and result.startswith("inputs: expected a whole number")
    path = tmp_path / "deep.json"
    path.write_text('{"inputs": ' + "[" * 100_000 + "]" * 100_000 + "}")
    result = outcome(lambda: load_network(path))
    assert isinstance(result, str) and result.startswith(f"{path}:"), result


@pytest.mark.parametrize("text, message", [
    ("1" + "0" * 400, "layers[0].weights[0][0]: expected a finite number, got an integer of "
                      "1329 bits (larger than any float)"),
    pytest.param("1" * 5000, "not a usable JSON number (an integer of more than 4300 digits)",
                 marks=pytest.mark.skipif(not hasattr(sys, "get_int_max_str_digits"),
                                          reason="Python before 3.10.7 reads any integer")),
    ("NaN", "NaN is not allowed in a network file"),
    ("-Infinity", "-Infinity is not allowed in a network file"),
    ("1e400", "layers[0].weights[0][0]: expected a finite number, got inf"),
])
def test_numbers_no_float_can_hold(tmp_path, text, message):
    path = tmp_path / "huge.json"
    path.write_text('{"inputs": 1, "layers": [{"activation": "linear", "weights": [[%s]]}],'
                    ' "samples": [{"input": [1], "target": [2]}]}' % text)
    result = outcome(lambda: load_network(path))
    assert isinstance(result, str) and result.startswith(f"{path}: {message}"), result


@pytest.mark.parametrize("where", ["learning_rate", "samples"])
def test_huge_integers_elsewhere(where):
    spec = {"inputs": 1, "layers": [{"activation": "leaky_relu", "weights": [[1]]}]}
    spec.update({"learning_rate": 10**400} if where == "learning_rate"
                else {"samples": [{"input": [10**400], "target": [0]}]})
    result = outcome(lambda: network_from_spec(spec))
    assert isinstance(result, str) and "larger than any float" in result, result
    assert_located(result)
