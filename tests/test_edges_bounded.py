"""Every command, any argument vector, hostile files: exit 0, 1 or 2, one line
for an error, within seconds and a bounded amount of memory.

For each command family a hypothesis property draws argument vectors from
the command's own options (read off its parser) with hostile values (NaN,
1e99999999, huge counts, empty file names, control characters) and
positional arguments from a set of hostile files (a FIFO, /dev/zero, a
folder, a 96-byte file describing 9 million weights, duplicate keys, deep
nesting, bad UTF-8, a huge CSV field, a 1 GB sparse file, ...).  Each batch runs in one
subprocess with its address space limited (resource.setrlimit) and an alarm
per command (tests/bounded.py).
"""

import json
import os

import pytest
from bounded import assert_well_behaved, run_bounded
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from neuronsim.cli.main import build_parser

VALUES = ["nan", "inf", "-inf", "1e999", "1e99999999", "-1e6", "0", "1", "2", "-1", "1/0",
          "3/8", "", "\x1b[31mred", "9" * 5000, "99999999999", "-5", "fraction",
          "precise:20", "precise:99999999", "html", "latex", "markdown", "delta"]


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    """name -> path of hostile (and a few ordinary) files, in a fresh folder."""
    folder = tmp_path_factory.mktemp("hostile")

    def write(name, text, mode="w"):
        path = folder / name
        if mode == "wb":
            path.write_bytes(text)
        else:
            path.write_text(text, encoding="utf-8")
        return str(path)

    files = {
        "huge": write("huge.json", '{"inputs": 3000, "layers": [{"activation": "sigmoid", '
                                   '"size": 3000}, {"activation": "sigmoid", "size": 3000}]}'),
        "wide": write("wide.json", json.dumps({
            "inputs": 400, "layers": [{"activation": "sigmoid", "size": 400},
                                      {"activation": "sigmoid", "size": 2}],
            "learning_rate": 0.1,
            "samples": [{"input": [0.5] * 400, "target": [0, 1]}] * 3})),
        "duplicate": write("dup.json", '{"inputs": 2, "inputs": 3, "layers": []}'),
        "deep": write("deep.json", "[" * 100_000 + "]" * 100_000),
        "utf": write("bad.json", b"\xff\xfe{}", "wb"),
        "empty": write("empty.json", ""),
        "fraction": write("frac.json", json.dumps({
            "inputs": 2, "layers": [
                {"activation": "linear", "weights": [["1/3", "2/7"], ["3/11", "-1/13"]],
                 "biases": ["1/17", "1/19"]},
                {"activation": "linear", "weights": [["1/23", "2/29"]], "biases": ["1/31"]}],
            "loss": "half_sse", "learning_rate": "1/37",
            "samples": [{"input": ["1/41", "1/43"], "target": ["1/47"]}]})),
        "named": write("named.json", json.dumps({
            "name": "\x1b[2J\u202e\\input{x}|\n", "inputs": 1,
            "layers": [{"activation": "sigmoid", "weights": [[0.5]], "biases": [0.1]}],
            "learning_rate": 0.5, "samples": [{"input": [1], "target": [0]}]})),
        "field": write("field.csv", "cell,value\nz_1^(2)," + "1" * 200_000 + "\n"),
        "latex": write("latex.csv", "cell,value\nz_1^(2),\\input{/etc/passwd}\n"
                                    "a_1^(2),1e99999999\nE,1e999\n"),
        "folder": str(folder),
        "zero": "/dev/zero",
        "missing": str(folder / "missing.json"),
    }
    with open(folder / "sparse.json", "wb") as handle:   # 1 GB of zeros, none on disk
        handle.truncate(1024 ** 3)
    files["sparse"] = str(folder / "sparse.json")
    fifo = folder / "fifo.json"
    os.mkfifo(fifo)
    files["fifo"] = str(fifo)
    return folder, files


SPECS = ["mazur", "xor", "four-layer", "rnn-parity", "nosuch", "huge", "wide", "duplicate",
         "deep", "utf", "empty", "fraction", "named", "folder", "zero", "missing", "fifo",
         "sparse"]
ANSWERS = ["field", "latex", "zero", "fifo", "folder", "missing", "empty", "sparse"]


def options_of(command):
    """(option string, takes a value) for each option of ``command``'s parser."""
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command").choices[command]
    found = []
    for action in sub._actions:
        if action.option_strings and action.dest != "help":
            found.append((action.option_strings[-1], action.nargs != 0))
    return found


@st.composite
def argument_vectors(draw, command, files):
    argv = [command]
    if command != "demo":
        argv.append(files.get(spec := draw(st.sampled_from(SPECS)), spec))
    if command == "explain":
        argv.append(draw(st.sampled_from(["w_11^(2)", "δ_1^(3)", "\x1b[31m", "b_9^(9)"])))
    if command == "check":
        argv.append(files[draw(st.sampled_from(ANSWERS))])
    if command == "crosscheck":   # --against is required: a reference, a file or user code
        argv += ["--against", draw(st.sampled_from(["numpy", "torch", files["zero"],
                                                    files["fifo"], "nosuch:function",
                                                    files["folder"] + "/x.npz"]))]
    if command == "train":
        # train may run for minutes within its budget (budgets.TRAIN_WORK); a few
        # epochs keep a legitimate run short here (a drawn --epochs comes later and wins)
        argv += ["--epochs", "3"]
    options = options_of(command)
    for _ in range(draw(st.integers(0, 4))):
        option, takes = draw(st.sampled_from(options))
        argv.append(option)
        if takes:
            argv.extend(draw(st.lists(st.sampled_from(VALUES), min_size=1, max_size=3)))
    return argv


FAMILIES = [["trace", "train"], ["explain", "early-update"], ["worksheet", "check"],
            ["step", "report"], ["draw"], ["gradcheck", "crosscheck"], ["demo"],
            ["gradient-flow"]]


@pytest.mark.parametrize("commands", FAMILIES, ids=lambda c: "+".join(c))
def test_every_command_is_bounded(hostile, commands):
    folder, files = hostile

    # one example per run, drawing six argument vectors per command: one
    # subprocess per family keeps the suite fast (CI draws the same ones each
    # run; locally hypothesis draws afresh, so runs explore different vectors)
    @settings(max_examples=1, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.data())
    def batch(data):
        argvs = [data.draw(argument_vectors(command, files))
                 for command in commands for _ in range(6)]
        for result in run_bounded(argvs, cwd=str(folder)):
            assert_well_behaved(result)

    batch()
