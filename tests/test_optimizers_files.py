"""Optimizers in network files and on the command line: resuming is byte-identical,
every key is checked with a located one-line error, a file without them is unchanged."""

import json

import pytest

from neuronsim import Network
from neuronsim.cli import main
from neuronsim.core.errors import SpecError

DENSE = {"inputs": 2, "loss": "half_sse", "learning_rate": 0.05, "layers": [
    {"activation": "tanh", "size": 3, "init": "xavier", "seed": 1},
    {"activation": "sigmoid", "size": 1, "init": "xavier", "seed": 2}],
    "samples": [{"input": [0, 0], "target": [0]}, {"input": [0, 1], "target": [1]},
                {"input": [1, 0], "target": [1]}, {"input": [1, 1], "target": [0]}]}

RECURRENT = {"inputs": 1, "loss": "half_sse", "learning_rate": 0.05, "layers": [
    {"type": "recurrent", "activation": "tanh", "size": 2, "init": "uniform", "seed": 3,
     "learn_initial_state": True},
    {"type": "dense", "activation": "linear", "size": 1, "init": "uniform", "seed": 4}],
    "samples": [{"input": [[1], [0], [1]], "target": [0]},
                {"input": [[0], [1]], "target": [[1], [1]]}]}

SETTINGS = {
    "adam-cosine": {"optimizer": {"name": "adam", "amsgrad": True},
                    "schedule": {"name": "cosine", "T_max": 15}},
    "sgd-momentum": {"optimizer": {"name": "sgd", "momentum": 0.9, "nesterov": True},
                     "schedule": {"name": "step", "step_size": 4, "gamma": 0.5},
                     "clip": {"max_norm": 0.5}, "penalty": {"l2": 0.01}},
}


def write(path, spec):
    path.write_text(json.dumps(spec))
    return str(path)


@pytest.mark.parametrize("base", [DENSE, RECURRENT], ids=["dense", "recurrent"])
@pytest.mark.parametrize("setting", list(SETTINGS))
@pytest.mark.parametrize("batch", ["1", "full"])
def test_ten_and_ten_epochs_are_byte_identical_to_twenty(tmp_path, base, setting, batch,
                                                         capsys):
    spec = write(tmp_path / "net.json", dict(base, **SETTINGS[setting]))
    once, half, twice = (str(tmp_path / name) for name in ("20.json", "10.json", "10+10.json"))
    options = ["--no-shuffle", "--batch-size", batch, "--quiet"]
    assert main(["train", spec, "--epochs", "20", "--save", once] + options) == 0
    assert main(["train", spec, "--epochs", "10", "--save", half] + options) == 0
    assert main(["train", half, "--epochs", "10", "--save", twice] + options) == 0
    with open(once, "rb") as a, open(twice, "rb") as b:
        assert a.read() == b.read()
    saved = json.loads((tmp_path / "10+10.json").read_text())
    assert saved["schedule"]["last_epoch"] == 20
    assert "optimizer_state" in saved["layers"][0]
    if base is RECURRENT:
        assert "initial_state" in saved["layers"][0]["optimizer_state"]


def test_python_resume_keeps_state_and_schedule(tmp_path):
    net = Network.from_spec(dict(DENSE, **SETTINGS["adam-cosine"]))
    net.train(epochs=3, shuffle=False)
    path = tmp_path / "a.json"
    net.save(path)
    again = Network.from_spec(str(path))
    assert again.schedule.last_epoch == 3 and again.schedule.lr == net.schedule.lr
    state = again.layers[0].neurons[1].optimizer_state
    assert state["weights"][0] == net.layers[0].neurons[1].optimizer_state["weights"][0]
    assert state["bias"]["step"] == 12


def test_a_file_without_optimizer_saves_as_before(tmp_path):
    net = Network.from_spec(DENSE)
    net.train(epochs=3)
    spec = net.to_spec()
    assert not {"optimizer", "schedule", "clip", "penalty"} & set(spec)
    assert all("optimizer_state" not in layer for layer in spec["layers"])


BAD = [
    ({"optimizer": "adam"}, 'optimizer: expected an object such as {"name": "sgd"}'),
    ({"optimizer": {}}, "optimizer.name: missing"),
    ({"optimizer": {"name": "adamax"}}, "optimizer.name: unknown optimizer"),
    ({"optimizer": {"name": "adam", "momentum": 0.9}}, "optimizer.momentum: not an option of adam"),
    ({"optimizer": {"name": "adam", "betas": [0.9]}}, "optimizer.betas: expected two numbers"),
    ({"optimizer": {"name": "sgd", "momentum": -1}}, "optimizer.momentum: expected a finite"),
    ({"optimizer": {"name": "sgd", "nesterov": True}}, "optimizer.nesterov: needs a momentum"),
    ({"optimizer": {"name": "rmsprop", "centered": 1}}, "optimizer.centered: expected true"),
    ({"schedule": {"name": "step"}}, "schedule.step_size: missing"),
    ({"schedule": {"name": "cosine", "T_max": 0}}, "schedule.T_max: expected a whole number"),
    ({"schedule": {"name": "linear", "start_factor": 2}}, "schedule.start_factor:"),
    ({"schedule": {"name": "step", "step_size": 2, "lr": 0.1}}, "schedule.last_epoch: missing"),
    ({"clip": {"max_norm": 1, "value": 1}}, "clip: give one of max_norm"),
    ({"clip": {"norm": 1}}, "clip.norm: unknown key"),
    ({"penalty": {"l2": -1}}, "penalty.l2: expected a finite number >= 0"),
    ({"penalty": {"l3": 1}}, "penalty.l3: unknown key"),
]


@pytest.mark.parametrize("extra, message", BAD, ids=[m.split(":")[0] for _, m in BAD])
def test_bad_keys_are_located(extra, message):
    with pytest.raises(SpecError) as error:
        Network.from_spec(dict(DENSE, **extra))
    assert str(error.value).startswith(message), str(error.value)


def test_bad_optimizer_state_is_located():
    net = Network.from_spec(dict(DENSE, optimizer={"name": "adam"}))
    net.train(epochs=1)
    spec = net.to_spec()
    state = spec["layers"][1]["optimizer_state"]
    state["weights"]["exp_avg"][0] = [1, 2]
    with pytest.raises(SpecError, match=r"^layers\[1\].optimizer_state.weights.exp_avg\[0\]: "
                                        r"expected a list of 3"):
        Network.from_spec(spec)
    del state["weights"]["exp_avg"]
    with pytest.raises(SpecError, match=r"weights.exp_avg: missing"):
        Network.from_spec(spec)
    state["weights"]["momentum_buffer"] = 0
    with pytest.raises(SpecError, match=r"weights.momentum_buffer: not a state of adam"):
        Network.from_spec(spec)
    del spec["optimizer"]
    with pytest.raises(SpecError, match=r'^layers\[0\].optimizer_state: only with an "optimizer"'):
        Network.from_spec(spec)


def test_fraction_mode_refuses_adam_in_a_file_in_one_line(tmp_path, capsys):
    spec = dict(DENSE, optimizer={"name": "adam"})
    spec["layers"] = [{"activation": "relu", "weights": [[1, 2], [3, 4]]},
                      {"activation": "linear", "weights": [[1, -1]]}]
    path = write(tmp_path / "f.json", spec)
    assert main(["train", path, "--numbers", "fraction", "--epochs", "1"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "square roots" in err
    del spec["optimizer"]
    path = write(tmp_path / "g.json", spec)
    saved = str(tmp_path / "out.json")
    assert main(["train", path, "--numbers", "fraction", "--epochs", "2", "--quiet",
                 "--batch-size", "full", "--optimizer", "sgd", "--momentum", "0.5",
                 "--save", saved]) == 0
    state = json.loads((tmp_path / "out.json").read_text())["layers"][1]["optimizer_state"]
    assert all(isinstance(v, (int, str)) for v in state["biases"]["momentum_buffer"])


@pytest.mark.parametrize("options, message", [
    (["--momentum", "0.9"], "--momentum: an option of an optimizer"),
    (["--optimizer", "adam", "--nesterov"], "--nesterov: not an option of adam"),
    (["--optimizer", "adam", "--betas", "0.9", "2"], "--optimizer: optimizer.betas"),
    (["--clip-norm", "1", "--clip-value", "1"], "--clip-norm, --clip-value: give one"),
    (["--clip-norm", "-1"], "--clip-norm: clip.max_norm"),
    (["--schedule", "cosine"], "--schedule: schedule.T_max: missing"),
    (["--schedule", "step", "step_size"], "--schedule: expected KEY=VALUE"),
    (["--schedule", "warm"], "--schedule: schedule.name: unknown schedule"),
    (["--l2", "-0.1"], "--l1/--l2: penalty.l2"),
])
def test_cli_bad_values_are_one_line_and_exit_2(tmp_path, capsys, options, message):
    path = write(tmp_path / "net.json", DENSE)
    assert main(["train", path, "--epochs", "1"] + options) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err, err


def test_cli_train_with_adam_equals_python(tmp_path, capsys):
    path = write(tmp_path / "net.json", DENSE)
    saved = str(tmp_path / "out.json")
    assert main(["train", path, "--epochs", "5", "--quiet", "--optimizer", "adam",
                 "--betas", "0.8", "0.99", "--weight-decay", "0.01", "--schedule",
                 "exponential", "gamma=0.9", "--save", saved]) == 0
    out = capsys.readouterr().out
    assert "optimizer adam (betas 0.8 0.99, weight_decay 0.01)" in out
    net = Network.from_spec(DENSE).set_optimizer("adam", betas=(0.8, 0.99), weight_decay=0.01)
    net.set_schedule("exponential", gamma=0.9)
    net.train(epochs=5)
    assert Network.from_spec(saved).to_spec() == net.to_spec()


def test_the_trace_writes_an_optimizer_update(tmp_path, capsys):
    path = write(tmp_path / "net.json", dict(DENSE, optimizer={"name": "adam"}))
    assert main(["trace", path]) == 0
    assert "m ← m + (1 − β₁)·(g − m)" in capsys.readouterr().out
    plain = write(tmp_path / "plain.json", dict(DENSE, schedule={"name": "step",
                                                                  "step_size": 1}))
    assert main(["trace", plain]) == 0


def test_fraction_options_are_written_and_read_exactly(tmp_path):
    from fractions import Fraction
    spec = {"inputs": 1, "loss": "half_sse", "learning_rate": "1/10",
            "layers": [{"activation": "linear", "weights": [[2]], "biases": [0]}],
            "samples": [{"input": [1], "target": ["3/2"]}],
            "optimizer": {"name": "sgd", "momentum": "1/2", "dampening": "1/4"},
            "penalty": {"l2": "1/8"}, "schedule": {"name": "step", "step_size": 1,
                                                   "gamma": "1/2"}}
    net = Network.from_spec(spec, numbers="fraction")
    net.train(epochs=3)
    path = tmp_path / "f.json"
    net.save(path)
    saved = json.loads(path.read_text())
    assert saved["optimizer"]["momentum"] == "1/2" and saved["penalty"]["l2"] == "1/8"
    assert saved["schedule"]["lr"] == "1/80"
    again = Network.from_spec(str(path), numbers="fraction")
    assert again.layers[0].neurons[0].optimizer_state == net.layers[0].neurons[0].optimizer_state
    assert isinstance(again.layers[0].neurons[0].weights[0], Fraction)
    del spec["learning_rate"], spec["penalty"], spec["schedule"]
    with pytest.raises(SpecError, match=r'^optimizer.momentum: the fraction "1/2" is read only'):
        Network.from_spec(spec)


def test_stateless_sgd_and_fixed_biases_write_no_empty_state():
    net = Network.from_spec(dict(DENSE, optimizer={"name": "sgd"}))
    net.train(epochs=2)
    spec = net.to_spec()
    assert spec["optimizer"] == {"name": "sgd", "momentum": 0, "dampening": 0,
                                 "weight_decay": 0, "nesterov": False}
    assert all("optimizer_state" not in layer for layer in spec["layers"])
    net = Network.from_spec(dict(DENSE, optimizer={"name": "adam"}, update_biases=False))
    net.train(epochs=2)
    state = net.to_spec()["layers"][0]["optimizer_state"]
    assert list(state) == ["weights"]
    assert Network.from_spec(net.to_spec()).to_spec() == net.to_spec()
