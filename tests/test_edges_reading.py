"""One reader for every file: regular files only, a hard size limit, arrays
without pickles; duplicate JSON keys; saving names the file."""

import io
import os
import zipfile

import numpy as np
import pytest

from neuronsim import SpecError
from neuronsim.cli.main import main
from neuronsim.core.errors import NumericalError
from neuronsim.files.atomic import atomic_write_text
from neuronsim.files.bundled import load_example
from neuronsim.files.reading import load_arrays, read_file_bytes, read_text_file
from neuronsim.files.saving import check_savable, first_non_finite
from neuronsim.files.spec import load_network


def one_line_error(capsys, argv, *parts):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and err.startswith("neuronsim"), err
    for part in parts:
        assert part in err, err
    return err


def test_non_regular_files_are_refused_without_blocking(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)           # no writer: a plain open() would wait forever
    with pytest.raises(SpecError, match="not a regular file \\(a named pipe\\)"):
        read_file_bytes(fifo)
    with pytest.raises(SpecError, match="not a regular file \\(a character device\\)"):
        read_file_bytes("/dev/zero")
    with pytest.raises(SpecError, match="not a regular file \\(a folder\\)"):
        read_file_bytes(tmp_path)
    with pytest.raises(SpecError, match="cannot read \\(No such file"):
        read_file_bytes(tmp_path / "missing")


def test_the_size_limit_holds_for_every_file(tmp_path):
    path = tmp_path / "big.txt"
    path.write_text("x" * 101)
    assert read_text_file(path, limit=101) == "x" * 101
    with pytest.raises(SpecError, match="101 bytes; the limit for a file is 100"):
        read_file_bytes(path, limit=100)


@pytest.mark.parametrize("command", ["trace", "train", "draw", "explain", "worksheet", "step",
                                     "report", "gradcheck", "early-update", "check"])
def test_every_command_refuses_devices_and_pipes(capsys, tmp_path, command):
    fifo = tmp_path / "net.json"
    os.mkfifo(fifo)
    extra = {"explain": ["w_11^(2)"], "check": ["answers.csv"], "report": ["-o", "r.html"]}
    for spec in ["/dev/zero", str(fifo)]:
        one_line_error(capsys, [command, spec] + extra.get(command, []), "not a regular file")


def test_answers_from_a_device_or_pipe_are_refused(capsys, tmp_path):
    fifo = tmp_path / "answers.csv"
    os.mkfifo(fifo)
    for answers in ["/dev/zero", str(fifo), str(tmp_path)]:
        one_line_error(capsys, ["check", "mazur", answers], answers, "not a regular file")


def test_commands_read_network_files_of_bounded_size(capsys, tmp_path):
    from neuronsim.cli.budgets import NETWORK_FILE_BYTES

    path = tmp_path / "big.json"
    with open(path, "wb") as handle:      # sparse: nothing is written to disk
        handle.truncate(NETWORK_FILE_BYTES + 1)
    one_line_error(capsys, ["trace", str(path)],
                   f"the file is {NETWORK_FILE_BYTES + 1:,} bytes; the limit for a network file "
                   f"is {NETWORK_FILE_BYTES:,}")


def test_duplicate_json_keys_are_named(tmp_path):
    path = tmp_path / "dup.json"
    path.write_text('{"inputs": 2, "layers": [{"activation": "relu", "weights": [[1, 2]], '
                    '"weights": [[3, 4]]}]}')
    with pytest.raises(SpecError) as info:
        load_network(str(path))
    assert str(info.value) == (f'{path}: the key "weights" appears twice in one object (JSON '
                               "would keep only the last; write it once)")


# ---------------------------------------------------------------- arrays
def npy_bytes(array):
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def test_arrays_round_trip(tmp_path):
    np.savez(tmp_path / "a.npz", W=np.arange(6.0).reshape(2, 3), b=np.array([1, 2]))
    np.save(tmp_path / "x.npy", np.asfortranarray(np.arange(6.0).reshape(2, 3)))
    arrays = load_arrays(tmp_path / "a.npz", "npz")
    assert sorted(arrays) == ["W", "b"] and arrays["W"][1, 2] == 5.0
    assert load_arrays(tmp_path / "x.npy", "npy").tolist() == [[0, 1, 2], [3, 4, 5]]


def test_npz_for_npy_and_npy_for_npz_are_one_line(tmp_path):
    np.savez(tmp_path / "a.npz", W=np.zeros(2))
    np.save(tmp_path / "x.npy", np.zeros(2))
    with pytest.raises(SpecError, match="this is an .npz archive .named arrays., but an .npy "
                                        "file .one array. is expected here"):
        load_arrays(tmp_path / "a.npz", "npy")
    with pytest.raises(SpecError, match="this is an .npy file .one array., but an .npz"):
        load_arrays(tmp_path / "x.npy", "npz")
    (tmp_path / "t.npz").write_text("W,b\n1,2\n")
    with pytest.raises(SpecError, match="not an .npz archive"):
        load_arrays(tmp_path / "t.npz", "npz")


def test_complex_and_object_arrays_are_refused_without_pickle_advice(tmp_path):
    np.savez(tmp_path / "c.npz", W=np.array([1 + 2j]))
    with pytest.raises(SpecError, match=r"\[.W.\]: complex numbers"):
        load_arrays(tmp_path / "c.npz", "npz")
    np.save(tmp_path / "o.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(SpecError) as info:
        load_arrays(tmp_path / "o.npy", "npy")
    assert "Python objects" in str(info.value) and "pickle" not in str(info.value).lower()


def test_a_compressed_bomb_is_refused_before_it_unpacks(tmp_path):
    path = tmp_path / "bomb.npz"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("W.npy", npy_bytes(np.zeros(20_000_000)))   # 160 MB of zeros
    assert os.path.getsize(path) < 1_000_000
    with pytest.raises(SpecError, match=r"shape \(20000000,\).*larger than the limit"):
        load_arrays(path, "npz", limit=10_000_000)


def test_truncated_and_garbled_arrays(tmp_path):
    data = npy_bytes(np.arange(100.0))
    (tmp_path / "t.npy").write_bytes(data[:-8])
    with pytest.raises(SpecError, match="ends before"):
        load_arrays(tmp_path / "t.npy", "npy")
    (tmp_path / "g.npy").write_bytes(data[:10] + b"garbage" * 20)
    with pytest.raises(SpecError, match="not a valid .npy array"):
        load_arrays(tmp_path / "g.npy", "npy")


# ---------------------------------------------------------------- saving
def test_save_errors_name_the_file(capsys, tmp_path):
    one_line_error(capsys, ["trace", "mazur", "-o", "/dev/full"],
                   "/dev/full: cannot write (No space left on device)")
    one_line_error(capsys, ["train", "xor", "--epochs", "1", "--save", str(tmp_path / "no" / "x")],
                   str(tmp_path / "no" / "x"), "cannot write")
    target = tmp_path / "keep.txt"
    target.write_text("old")
    with pytest.raises(ValueError, match="keep.txt: cannot write character '\\\\udc80' at "
                                         "position 1 as utf-8; nothing was written"):
        atomic_write_text(target, "a\udc80")
    assert target.read_text() == "old"


def test_non_finite_weights_are_named_at_save_time(tmp_path):
    net = load_example("mazur")
    assert first_non_finite(net) is None
    net.layers[1].neurons[0].weights[1] = float("nan")
    with pytest.raises(NumericalError) as info:
        check_savable(net, "out.json")
    assert str(info.value).startswith("out.json: not saved: layer 3, neuron 1: w₁₂⁽³⁾ "
                                      "(net.layers[1].neurons[0].weights[1]) is nan")


@pytest.mark.parametrize("argv", [["trace", "mazur", "-o", ""], ["train", "xor", "--save", " "],
                                  ["draw", "mazur", "-o", ""], ["worksheet", "mazur", "-o", ""]])
def test_empty_file_names_are_refused(capsys, argv):
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and len(err.strip().splitlines()) == 1
    assert ": expected a file name, got " in err
