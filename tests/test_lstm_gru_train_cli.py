"""`neuronsim train` on an LSTM or GRU network file equals torch, step for step.

The file is written from a torch nn.LSTM / nn.GRU (+ nn.Linear), trained by the command line
(full batch, so that the order of the sequences cannot matter) and saved; the saved weights are
compared with what torch.optim gives for the same steps, in float64, to 1e-12 relative.
"""

import json

import numpy as np
import pytest

from neuronsim import Network
from neuronsim.cli import main

torch = pytest.importorskip("torch", reason="torch is optional (pip install torch==2.13.0)")
from test_lstm_gru import F64, RTOL, gated_layer, relative_error, torch_module  # noqa: E402
from test_stacks import dense_layer  # noqa: E402


def write_file(path, module, linear, kind, X, Y, learning_rate, optimizer=None):
    spec = {"inputs": X.shape[2], "loss": "half_sse", "learning_rate": learning_rate,
            "layers": [gated_layer(module, 0, kind), dense_layer(linear, "linear")],
            "samples": [{"input": x, "target": y} for x, y in zip(X.tolist(), Y.tolist())]}
    if optimizer is not None:
        spec["optimizer"] = optimizer
    path.write_text(json.dumps(spec))


def torch_steps(module, linear, X, Y, optimizer, steps):
    for _ in range(steps):
        optimizer.zero_grad()
        out, _ = module(X)
        (0.5 * ((linear(out) - Y) ** 2).sum() / len(X)).backward()
        optimizer.step()


def assert_saved_equals_torch(saved, module, linear, kind):
    ours = Network.load(str(saved))
    theirs = Network.from_spec({"inputs": module.input_size, "loss": "half_sse", "layers": [
        gated_layer(module, 0, kind), dense_layer(linear, "linear")]})
    compared = 0
    for ours_values, theirs_values in zip(ours.to_arrays(), theirs.to_arrays()):
        for a, b in zip(ours_values, theirs_values):
            assert np.all(np.isfinite(a)) and np.shape(a) == np.shape(b)
            assert relative_error(a, b) <= RTOL
            compared += np.size(b)
    # every gate's W, U and both biases, and the linear layer's W and b
    gates = 4 if kind == "lstm" else 3
    n, m = module.hidden_size, module.input_size
    assert compared == gates * n * (m + n + 2) + linear.weight.numel() + linear.bias.numel()


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_one_sgd_step_from_the_command_line_equals_torch_sgd(kind, tmp_path, capsys):
    torch.manual_seed(11)
    module = torch_module(kind, 2, 3)
    linear = torch.nn.Linear(3, 1, dtype=F64)
    X = torch.randn(3, 5, 2, dtype=F64)
    Y = torch.randn(3, 5, 1, dtype=F64)
    spec, saved = tmp_path / "net.json", tmp_path / "trained.json"
    write_file(spec, module, linear, kind, X, Y, 0.25)

    assert main(["train", str(spec), "--epochs", "1", "--batch-size", "full", "--full",
                 "--quiet", "--save", str(saved)]) == 0
    capsys.readouterr()

    torch_steps(module, linear, X, Y,
                torch.optim.SGD(list(module.parameters()) + list(linear.parameters()), lr=0.25),
                steps=1)
    assert_saved_equals_torch(saved, module, linear, kind)


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_five_adam_steps_from_the_command_line_equal_torch_adam(kind, tmp_path, capsys):
    torch.manual_seed(12)
    module = torch_module(kind, 2, 2)
    linear = torch.nn.Linear(2, 2, dtype=F64)
    X = torch.randn(2, 4, 2, dtype=F64)
    Y = torch.randn(2, 4, 2, dtype=F64)
    spec, saved = tmp_path / "net.json", tmp_path / "trained.json"
    write_file(spec, module, linear, kind, X, Y, 0.01)

    assert main(["train", str(spec), "--epochs", "5", "--batch-size", "full", "--full",
                 "--optimizer", "adam", "--quiet", "--save", str(saved)]) == 0
    capsys.readouterr()

    torch_steps(module, linear, X, Y,
                torch.optim.Adam(list(module.parameters()) + list(linear.parameters()), lr=0.01),
                steps=5)
    assert_saved_equals_torch(saved, module, linear, kind)
