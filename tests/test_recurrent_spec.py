"""Recurrent network files: the format, the dispatch from Network.from_spec, and
one clear message per malformed file."""

import json

import pytest

from neuronsim import Network, SpecError
from neuronsim.core.recurrent import RecurrentNetwork
from neuronsim.files.spec import check_spec


def spec(**changes):
    base = {
        "inputs": 1,
        "layers": [
            {"type": "recurrent", "activation": "tanh", "weights": [[0.5], [-0.3]],
             "recurrent_weights": [[0.1, 0.4], [-0.2, 0.3]], "biases": [0.0, 0.1]},
            {"type": "dense", "activation": "sigmoid", "weights": [[0.7, -0.6]],
             "biases": [0.05]},
        ],
        "loss": "binary_cross_entropy",
        "learning_rate": 0.5,
        "samples": [{"input": [[1], [0], [1]], "target": [[1], None, [0]]},
                    {"input": [[1], [1]], "target": [0]}],
    }
    base.update(changes)
    return base


def with_layer(index, **changes):
    s = spec()
    s["layers"][index] = dict(s["layers"][index], **changes)
    for key, value in changes.items():
        if value is None:
            del s["layers"][index][key]
    return s


def test_dispatch_and_values():
    net = Network.from_spec(spec())
    assert net.is_sequential and net.layers[0].kind == "recurrent"
    assert net.sizes == [1, 2, 1]
    assert net.layers[0].neurons[1].recurrent_weights == [-0.2, 0.3]
    assert net.samples[1]["target"] == [0]
    assert net.samples[0]["target"] == [[1], None, [0]]
    assert net.truncation is None and net.step_loss == "sum"


def test_round_trip_through_a_file(tmp_path):
    net = Network.from_spec(spec(truncation=2, step_loss="mean"))
    net.layers[0].initial_state = [0.25, -0.5]
    path = tmp_path / "rnn.json"
    net.save(path)
    again = Network.from_spec(str(path))
    assert again.to_spec() == net.to_spec()
    assert again.truncation == 2 and again.step_loss == "mean"
    assert again.layers[0].initial_state == [0.25, -0.5]
    assert json.loads(path.read_text())["layers"][0]["type"] == "recurrent"


def test_size_and_init_are_seeded():
    s = with_layer(0, weights=None, recurrent_weights=None, biases=None, size=3,
                   init="uniform", seed=4)
    s["layers"][1]["weights"] = [[0.1, 0.2, 0.3]]
    a, b = Network.from_spec(s), Network.from_spec(s)
    assert [n.recurrent_weights for n in a.layers[0].neurons] == \
        [n.recurrent_weights for n in b.layers[0].neurons]
    assert len(a.layers[0].neurons[0].recurrent_weights) == 3


def test_dense_layer_may_say_its_type_in_an_ordinary_network():
    net = Network.from_spec({"inputs": 2, "layers": [
        {"type": "dense", "activation": "sigmoid", "weights": [[0.1, 0.2]]}]})
    assert net.sizes == [2, 1]


@pytest.mark.parametrize("bad, message", [
    (with_layer(0, recurrent_weights=None),
     "layers[0].recurrent_weights: missing (2 rows of 2"),
    (with_layer(0, recurrent_weights=[[0.1, 0.4]]),
     "layers[0].recurrent_weights: expected 2 rows (one per neuron), got 1"),
    (with_layer(0, recurrent_weights=[[0.1, 0.4], [0.2]]),
     "layers[0].recurrent_weights[1]: expected 2 numbers, got 1"),
    (with_layer(0, weights=[[0.5, 1.0], [0.3, 0.1]]),
     "layers[0].weights[0]: expected 1 numbers, got 2"),
    (with_layer(0, activation="softmax"),
     "layers[0].activation: unknown activation for a recurrent layer \"softmax\""),
    (with_layer(0, gate=1), "layers[0].gate: unknown key for a recurrent layer"),
    (with_layer(0, initial_state=[1]), "layers[0].initial_state: expected 2 numbers, got 1"),
    (with_layer(0, init="he"), "layers[0].init: give either weights and recurrent_weights"),
    (with_layer(1, type="recurrent"),
     "layers[1].recurrent_weights: missing (1 rows of 1"),
    (with_layer(1, type="lstm"), "layers[1].type: unknown layer type \"lstm\""),
    (with_layer(1, weights=[[0.7, -0.6, 1]]), "layers[1].weights[0]: expected 2 numbers, got 3"),
    (spec(truncation=0), "truncation: must be between 1 and"),
    (spec(step_loss="max"), "step_loss: unknown step_loss \"max\""),
    (spec(bias_layout="first_column"),
     "bias_layout: networks with a recurrent layer use the \"separate\" layout"),
    (with_layer(0, learn_initial_state="yes"),
     "layers[0].learn_initial_state: expected true or false"),
    ({"inputs": 1, "layers": [{"activation": "tanh", "weights": [[1.0]]}], "truncation": 2},
     "truncation: only for networks with a recurrent layer"),
    (spec(samples=[{"input": [1, 0], "target": [1]}]),
     "samples[0].input: expected a list of input vectors, one per time step"),
    (spec(samples=[{"input": [[1], [0]], "target": [[1]]}]),
     "samples[0].target: expected 2 vectors (one per time step) or one vector"),
    (spec(samples=[{"input": [[1], [0]], "target": [None, None]}]),
     "samples[0].target: no step has a target"),
    (spec(samples=[{"input": [[1], [0]], "target": [[1], [0, 1]]}]),
     "samples[0].target[1]: expected 1 numbers, got 2"),
    (spec(samples=[{"input": [[1], ["x"]], "target": [1]}]),
     "samples[0].input[1][0]: expected a number"),
])
def test_malformed_files_say_where(bad, message):
    with pytest.raises(SpecError) as info:
        Network.from_spec(bad)
    assert message in str(info.value)


def test_recurrent_layers_anywhere_and_stacked():
    """dense -> recurrent -> recurrent -> dense: each layer's weights come from the layer
    below at the same step; saved and read back unchanged."""
    s = {"inputs": 2, "loss": "half_sse", "layers": [
        {"activation": "tanh", "weights": [[0.5, -0.2], [0.1, 0.3], [0.2, 0.2]]},
        {"type": "recurrent", "activation": "tanh", "size": 2, "init": "uniform", "seed": 3,
         "learn_initial_state": True},
        {"type": "recurrent", "activation": "relu", "size": 2, "init": "uniform", "seed": 4,
         "initial_state": [0.1, -0.1]},
        {"activation": "linear", "size": 1, "init": "uniform", "seed": 5}]}
    net = Network.from_spec(s)
    assert [layer.kind for layer in net.layers] == ["dense", "recurrent", "recurrent", "dense"]
    assert [layer.n_inputs for layer in net.layers] == [2, 3, 2, 2]
    assert net.layers[1].learn_initial_state and not net.layers[2].learn_initial_state
    assert repr(net) == "Network(2-3-r2-r2-1; tanh, tanh, relu, linear; loss half_sse)"
    checked = check_spec(s)
    assert [layer["type"] for layer in checked["layers"]] == [
        "dense", "recurrent", "recurrent", "dense"]
    again = Network.from_spec(net.to_spec())
    assert again.to_spec() == net.to_spec()
    assert net.to_spec()["layers"][1]["learn_initial_state"] is True
    assert "learn_initial_state" not in net.to_spec()["layers"][2]


def test_file_errors_name_the_file(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(with_layer(0, recurrent_weights=[[1]])))
    with pytest.raises(SpecError, match=r"bad.json: layers\[0\].recurrent_weights"):
        Network.from_spec(str(path))
