"""Loose ends of the input-safety work, now wired in: the cross-check reads arrays through
the one bounded reader, takes bundled names, and saving refuses a non-finite weight."""

import math

import numpy as np
import pytest

from neuronsim import Network, NumericalError, SpecError
from neuronsim.cli import main


def run(capsys, *argv):
    status = main(list(argv))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_crosscheck_takes_bundled_names(capsys):
    status, out, _ = run(capsys, "crosscheck", "mazur", "--against", "numpy")
    assert status == 0 and "all 9 compared quantities agree" in out
    status, out, _ = run(capsys, "crosscheck", "rnn-parity", "--against", "numpy")
    assert status == 0 and "agree" in out


@pytest.mark.parametrize("arrays, message", [
    ({"X": np.ones((2, 2)) + 1j, "Y": np.ones((2, 2))}, "complex numbers"),
    ({"X": np.ones((2, 2))}, "expected arrays named X and Y, found X"),
])
def test_crosscheck_data_goes_through_the_bounded_reader(capsys, tmp_path, arrays, message):
    path = tmp_path / "data.npz"
    np.savez(path, **arrays)
    status, out, err = run(capsys, "crosscheck", "mazur", "--against", "numpy",
                           "--data", str(path))
    assert status == 2 and out == "" and message in err and err.count("\n") == 1


def test_crosscheck_data_refuses_an_npy_file(capsys, tmp_path):
    path = tmp_path / "one.npy"
    np.save(path, np.ones(3))
    status, _, err = run(capsys, "crosscheck", "mazur", "--against", "numpy",
                         "--data", str(path))
    assert status == 2
    assert "this is an .npy file (one array), but an .npz archive (named arrays)" in err


def test_results_npz_refuses_a_complex_candidate(capsys, tmp_path):
    path = tmp_path / "results.npz"
    np.savez(path, loss=np.array(1.0 + 2j))
    status, _, err = run(capsys, "crosscheck", "mazur", "--against", str(path))
    assert status == 2 and "complex numbers" in err


def test_save_refuses_a_non_finite_weight_by_its_place(tmp_path):
    net = Network.from_spec({"inputs": 1, "layers": [{"activation": "tanh", "weights": [[0.5]]}]})
    net.layers[0].neurons[0].weights[0] = math.nan
    path = tmp_path / "net.json"
    with pytest.raises(NumericalError, match=r"net.json: not saved: .*weights\[0\]\) is nan"):
        net.save(path)
    assert not path.exists()


@pytest.mark.parametrize("scale", [-5, 0, 1e300])
def test_a_recurrent_layer_checks_its_init_scale_like_a_dense_one(scale):
    with pytest.raises(SpecError, match=r"layers\[0\].scale: must be above 0 and at most"):
        Network.from_spec({"inputs": 1, "layers": [
            {"type": "recurrent", "activation": "tanh", "size": 2, "scale": scale}]})
