"""Network files: round trips, both bias layouts, and clear messages for bad input."""

import json
import os

import numpy as np
import pytest
from catalogue import mazur, random_network

from neuronsim import Network, SpecError
from neuronsim.files.bundled import EXAMPLES, example_path, load_example
from neuronsim.files.spec import check_spec

GOOD = {
    "inputs": 2,
    "layers": [{"activation": "sigmoid", "weights": [[0.15, 0.2], [0.25, 0.3]],
                "biases": [0.35, 0.35]},
               {"activation": "sigmoid", "weights": [[0.4, 0.45], [0.5, 0.55]],
                "biases": [0.6, 0.6]}],
    "loss": "half_sse",
}


def with_changes(**changes):
    spec = json.loads(json.dumps(GOOD))
    spec.update(changes)
    return spec


def test_save_then_load_gives_exactly_the_same_floats(tmp_path):
    net = random_network([3, 5, 4, 2], "tanh", "softmax", "cross_entropy", seed=11,
                         learning_rate=0.1 + 0.2)
    net.train([([0.1, 0.2, 0.3], [0, 1])], epochs=3)
    path = tmp_path / "net.json"
    net.save(path)
    again = Network.load(path)
    for (W, b), (W2, b2) in zip(net.to_arrays(), again.to_arrays()):
        assert W.tobytes() == W2.tobytes() and b.tobytes() == b2.tobytes()
    assert again.learning_rate == 0.1 + 0.2
    assert again.to_spec() == net.to_spec()


def test_bias_first_column_layout_is_the_same_network():
    rows = [[[0.35, 0.15, 0.2], [0.35, 0.25, 0.3]], [[0.6, 0.4, 0.45], [0.6, 0.5, 0.55]]]
    net = Network.from_arrays(rows, None, "sigmoid", "half_sse", bias_layout="first_column")
    reference = mazur()
    assert net.forward_pass([0.05, 0.1]) == reference.forward_pass([0.05, 0.1])
    spec = net.to_spec(bias_layout="first_column")
    assert spec["layers"][0]["weights"][0] == [0.35, 0.15, 0.2]
    assert Network.from_spec(spec).to_spec() == net.to_spec()


def test_numpy_arrays_are_accepted():
    weights = [np.array([[0.15, 0.2], [0.25, 0.3]]), np.array([[0.4, 0.45], [0.5, 0.55]])]
    biases = [np.array([0.35, 0.35]), np.array([0.6, 0.6])]
    net = Network.from_arrays(weights, biases, "sigmoid", "half_sse")
    assert net.forward_pass(np.array([0.05, 0.1])) == mazur().forward_pass([0.05, 0.1])
    assert all(type(w) is float for n in net.layers[0].neurons for w in n.weights)


def test_size_and_init_are_seeded():
    spec = {"inputs": 3, "layers": [{"activation": "relu", "size": 4, "init": "he", "seed": 5},
                                    {"activation": "linear", "size": 1}], "seed": 7}
    a, b = Network.from_spec(spec), Network.from_spec(spec)
    assert a.to_spec() == b.to_spec()
    other = Network.from_spec(dict(spec, seed=8))
    assert other.layers[1].neurons[0].weights != a.layers[1].neurons[0].weights
    assert other.layers[0].neurons[0].weights == a.layers[0].neurons[0].weights  # own seed
    xavier = Network.from_spec({"inputs": 6, "layers": [{"activation": "tanh", "size": 10,
                                                         "init": "xavier"}]})
    limit = (6 / 16) ** 0.5
    assert all(abs(w) <= limit for n in xavier.layers[0].neurons for w in n.weights)
    assert all(n.bias == 0.0 for n in xavier.layers[0].neurons)


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_bundled_examples_load(name):
    net = load_example(name)
    assert net.samples
    assert os.path.exists(example_path(name))


BAD = [
    (with_changes(layers=[{"activation": "sigmoid", "weights": [[0.15, 0.2, 0.1], [0.25, 0.3]]}]),
     "layers[0].weights[0]: expected 2 numbers, got 3"),
    (with_changes(layers=GOOD["layers"][:1] + [{"activation": "sigmoid",
                                                "weights": [[0.4, 0.45], [0.5, 0.55, 1]]}]),
     "layers[1].weights[1]: expected 2 numbers, got 3"),
    (with_changes(layers=[{"activation": "sigmod", "weights": [[1, 2]]}]),
     "layers[0].activation: unknown activation \"sigmod\""),
    (with_changes(loss="l2"), "loss: unknown loss \"l2\""),
    (with_changes(inputs=0), "inputs: must be between 1 and"),
    (with_changes(inputs="2"), "inputs: expected a whole number"),
    (with_changes(layers=[]), "layers: expected a non-empty list"),
    (with_changes(layers=[{"activation": "relu", "weights": [[1, "x"]]}]),
     "layers[0].weights[0][1]: expected a number"),
    (with_changes(layers=[{"activation": "relu", "weights": [[1, True]]}]),
     "layers[0].weights[0][1]: expected a number, got true"),
    (with_changes(layers=[{"activation": "relu", "weights": [[1, 2]], "biases": [1, 2]}]),
     "layers[0].biases: expected 1 numbers, got 2"),
    (with_changes(layers=[{"activation": "relu", "size": 10 ** 9}]),
     "layers[0].size: must be between 1 and 100000"),
    (with_changes(layers=[{"activation": "relu", "size": 3, "init": "magic"}]),
     "layers[0].init: unknown init \"magic\""),
    (with_changes(layers=[{"activation": "relu"}]), "layers[0]: give weights"),
    (with_changes(layers=[{"weights": [[1, 2]]}]), "layers[0].activation: missing"),
    (with_changes(layers=[{"activation": "relu", "weights": [[1, 2]], "wieghts": 1}]),
     "layers[0].wieghts: unknown key"),
    (with_changes(learning_rate=-1), "learning_rate: must be positive"),
    (with_changes(reduction="median"), "reduction: unknown reduction"),
    (with_changes(update_biases="yes"), "update_biases: expected true or false"),
    (with_changes(samples=[{"input": [1, 2], "target": [1]}]),
     "samples[0].target: expected 2 numbers, got 1"),
    (with_changes(samples=[[1, 2]]), "samples[0]: expected {\"input\""),
    (with_changes(layers=[{"activation": "relu", "weights": [[1, 2]], "slope": 0.1}]),
     "layers[0].slope: only for leaky_relu"),
    (with_changes(bias_layout="last"), "bias_layout: unknown bias layout"),
    (with_changes(layers=[{"activation": "relu", "weights": [[1, 2]], "biases": [1]}],
                  bias_layout="first_column"),
     "layers[0].weights[0]: expected 3 numbers, got 2"),
    ([1, 2], "network: expected a JSON object or a file path, got list"),
    (with_changes(layers=[{"activation": "relu", "size": 2, "init": "uniform", "scale": 1e308}]),
     "layers[0].scale: must be above 0 and at most 1e+06, got 1e+308"),
    (with_changes(layers=[{"activation": "relu", "weights": [["1e99999", 1]]}]),
     "layers[0].weights[0][0]: expected a number or a fraction such as \"3/8\""),
    (with_changes(inputs=1000, layers=[{"activation": "relu", "size": 9000},
                                      {"activation": "relu", "size": 9000}]),
     "layers[1]: the network would have more than 10,000,000 parameters"),
    (with_changes(layers=[{"activation": "relu", "size": 5000}, {"activation": "relu",
                                                                  "size": 5000}]),
     "layers[1]: the network would have more than 10,000,000 parameters"),
    (with_changes(layers=[{"activation": "relu", "size": 50000},
                          {"activation": "relu", "size": 200}]),
     "layers[1]: the network would have more than 10,000,000 parameters"),
]


@pytest.mark.parametrize("spec, message", BAD, ids=[m.split(":")[0] for _, m in BAD])
def test_bad_specs_name_the_place(spec, message):
    with pytest.raises(SpecError) as info:
        Network.from_spec(spec)
    assert str(info.value).startswith(message), str(info.value)


def test_bad_files_name_the_file(tmp_path):
    path = tmp_path / "net.json"
    path.write_text('{"inputs": 2,\n "layers": [}')
    with pytest.raises(SpecError, match=r"net.json:2:13: not valid JSON"):
        Network.load(path)
    path.write_text(json.dumps(with_changes(loss="nope")))
    with pytest.raises(SpecError, match=r"net.json: loss: unknown loss"):
        Network.load(path)
    path.write_text('{"inputs": NaN}')
    with pytest.raises(SpecError, match="NaN is not allowed"):
        Network.load(path)
    path.write_bytes(b"\xff\xfe")
    with pytest.raises(SpecError, match="not UTF-8"):
        Network.load(path)
    path.write_text("")
    with pytest.raises(SpecError, match="empty"):
        Network.load(path)
    with pytest.raises(SpecError, match="cannot read"):
        Network.load(tmp_path / "missing.json")


def test_truncated_file_is_refused(tmp_path):
    path = tmp_path / "net.json"
    mazur().save(path)
    text = path.read_text()
    path.write_text(text[: len(text) // 2])
    with pytest.raises(SpecError, match="not valid JSON"):
        Network.load(path)


def test_save_is_atomic_when_writing_fails(tmp_path, monkeypatch):
    path = tmp_path / "net.json"
    mazur().save(path)
    before = path.read_bytes()
    import neuronsim.files.atomic as files

    def broken_fsync(fd):
        raise OSError("disk full")

    monkeypatch.setattr(files.os, "fsync", broken_fsync)
    with pytest.raises(OSError):
        random_network([2, 2, 2], "tanh", "linear", "mse", seed=1).save(path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["net.json"]


def test_check_spec_fills_in_defaults():
    checked = check_spec(GOOD)
    assert checked["reduction"] == "mean" and checked["update_biases"] is True
    assert checked["samples"] == []
