"""Work budgets read the size of LSTM and GRU layers off a file: every gate's weights,
recurrent weights and two biases, and the length of the sequences they read."""

import pytest

from neuronsim import Network
from neuronsim.cli.budgets import NetworkSize
from neuronsim.files.bundled import example_path
from neuronsim.files.spec import read_spec_file


def stack(kind):
    return {"inputs": 3, "loss": "half_sse", "layers": [
        {"type": "dense", "size": 4, "activation": "tanh", "seed": 1},
        {"type": kind, "size": 5, "seed": 2},
        {"type": "dense", "size": 2, "activation": "linear", "seed": 3}],
        "samples": [{"input": [[0, 1, 2]] * 6, "target": [[0, 1]] * 6},
                    {"input": [[0, 1, 2]] * 4, "target": [[0, 1]] * 4}]}


@pytest.mark.parametrize("kind, gates", [("lstm", 4), ("gru", 3)])
def test_a_gated_layer_counts_every_gate_and_both_biases(kind, gates):
    spec = stack(kind)
    size = NetworkSize.of_spec(spec)
    expected = 4 * (3 + 1) + gates * 5 * (4 + 5 + 2) + 2 * (5 + 1)
    assert size.parameters == expected
    assert size.recurrent and size.time_steps == 5.0
    net = Network.from_spec(spec)
    assert NetworkSize.of_network(net).parameters == expected
    assert sum(p.size for arrays in net.to_arrays() for p in map(_array, arrays)) == expected


def _array(values):
    import numpy as np

    return np.asarray(values)


def test_a_bundled_lstm_file_is_sized_as_its_network():
    spec = read_spec_file(str(example_path("long-range-lstm")), 10 ** 7)
    from_file = NetworkSize.of_spec(spec)
    net = Network.from_spec(spec)
    assert from_file.parameters == NetworkSize.of_network(net).parameters
    assert from_file.time_steps == NetworkSize.of_network(net).time_steps > 1
