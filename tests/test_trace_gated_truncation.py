"""Truncated BPTT in the LSTM/GRU trace: the LSTM's cell path f[t+1]·dE/dc[t+1] and
the GRU's direct path z[t+1]·dE/dh[t+1] are written as products with numbers
(the carried part of dE/dc[t+1] or dE/dh[t+1]), and a path the truncation cuts
reads as a product with 0, as an Elman layer's recurrent path does.

The carried part is checked against an independent run: with truncation k, the
part of dE/dc[t+1] that step t+1 sends back is the part from E[t+1] to E[t+k-1],
which is all of dE/dc[t+1] in the same network truncated to k - 1 (0 for k = 1).
"""

import re

import pytest

from neuronsim import Network
from neuronsim.trace.recurrent import RecurrentTracer, render_sequences

T = 4


def spec(kind, learn=True):
    """One gated unit (so no sum is shortened with "…"), a sigmoid output, T steps."""
    return {"inputs": 1, "loss": "binary_cross_entropy", "learning_rate": 0.1, "layers": [
        {"type": kind, "size": 1, "init": "uniform", "seed": 4, "learn_initial_state": learn},
        {"activation": "sigmoid", "size": 1, "init": "uniform", "seed": 6}],
        "samples": [{"input": [[1], [-0.5], [0.7], [0.2]], "target": [[1], [0], [1], [1]]}]}


def run(kind, truncation):
    """(net, the traced sequence) after one forward and back_prop."""
    net = Network.from_spec(spec(kind))
    tracer = RecurrentTracer().attach(net)
    sample = net.samples[0]
    net.forward_pass(sample["input"])
    net.back_prop(sample["target"], truncation=truncation)
    tracer.flush()
    return net, tracer.sequences[0]


def number(text):
    """A printed number: 1.5, −0.25, (−0.25)."""
    return float(text.strip().strip("()").replace("−", "-"))


def product(text):
    """The value of a printed product a·b·c."""
    value = 1.0
    for factor in text.split("·"):
        value *= number(factor)
    return value


def equation(text, lhs):
    """The parts (symbols, numbers, result) of the plain equation line that starts with lhs."""
    for line in text.splitlines():
        line = line.strip()
        if line.startswith(lhs + " = "):
            parts = line.split(" = ")
            return parts[1], parts[2], number(parts[3])
    raise AssertionError(f"no line {lhs!r}")


def close(a, b):
    return abs(a - b) <= 1e-12 * max(abs(a), abs(b), 1e-300)


@pytest.mark.parametrize("k", [1, 2, 3])
def test_the_lstm_cell_path_is_f_times_the_carried_part_of_dE_dc(k):
    net, record = run("lstm", k)
    shorter = None if k == 1 else run("lstm", k - 1)[0]
    text = render_sequences([record], digits=17)
    for t in range(1, T):
        later = net.history[t][0][0]
        carried = 0 if shorter is None else shorter.history[t][0][0].cell_grad
        sym, nums, value = equation(text, f"dE/dc₁⁽²⁾[{t}]")
        assert sym.endswith(f" + f₁⁽²⁾[{t + 1}]·(carried part of dE/dc₁⁽²⁾[{t + 1}])")
        path = nums.rsplit(" + ", 1)[1]
        assert number(path.split("·")[0]) == later.gates["forget"].output
        assert number(path.split("·")[1]) == carried
        assert close(product(path), net.history[t - 1][0][0].cell_path)
        assert value == net.history[t - 1][0][0].cell_grad
    sym, nums, value = equation(text, "dE/dc₁⁽²⁾[0]")
    first = net.history[0][0][0]
    carried = 0 if shorter is None else shorter.history[0][0][0].cell_grad
    assert sym == "f₁⁽²⁾[1]·(carried part of dE/dc₁⁽²⁾[1])"
    assert number(nums.split("·")[0]) == first.gates["forget"].output
    assert number(nums.split("·")[1]) == carried
    assert close(product(nums), net.layers[0].initial_grads["initial_cell"][0])
    assert value == net.layers[0].initial_grads["initial_cell"][0]
    if k == 1:
        assert equation(text, "dE/dc₁⁽²⁾[2]")[1].endswith("·0")


@pytest.mark.parametrize("k", [1, 2, 3])
def test_the_gru_direct_path_is_z_times_the_carried_part_of_dE_dh(k):
    net, record = run("gru", k)
    shorter = None if k == 1 else run("gru", k - 1)[0]
    text = render_sequences([record], digits=17)
    for t in range(1, T):
        later = net.history[t][0][0]
        carried = 0 if shorter is None else shorter.history[t][0][0].output_grad
        sym, nums, value = equation(text, f"dE/dh₁⁽²⁾[{t}]")
        recurrent_sym = sym.split(") + (", 1)[1]
        assert recurrent_sym.startswith(f"z₁⁽²⁾[{t + 1}]·(carried part of dE/dh₁⁽²⁾[{t + 1}])")
        terms = nums.split(") + (", 1)[1].rstrip(")").split(" + ")
        assert len(terms) == 4   # the direct path and one term per gate
        assert number(terms[0].split("·")[0]) == later.gates["update"].output
        assert number(terms[0].split("·")[1]) == carried
        recurrent = net.history[t - 1][0][0].recurrent_path
        assert abs(sum(product(term) for term in terms) - recurrent) <= 1e-12 * max(
            abs(recurrent), 1e-12)
        assert value == net.history[t - 1][0][0].output_grad


def test_a_cut_path_reads_as_cut_like_an_elman_layers():
    """k = 1 cuts every path from t+1: each of its terms is printed as a product with 0."""
    for kind in ("lstm", "gru"):
        _, record = run(kind, 1)
        text = render_sequences([record], digits=6)
        sym, nums, _ = equation(text, "dE/dh₁⁽²⁾[2]")
        recurrent = nums.split(") + (", 1)[1].rstrip(")").split(" + ")
        assert all(term.endswith("·0") for term in recurrent), recurrent
        assert "(cell path from t+1)" not in text


@pytest.mark.parametrize("fmt, words", [("plain", "(carried part of dE/dc"),
                                        ("markdown", "(carried part of dE/dc"),
                                        ("latex", r"(\text{carried part of }\frac{\partial E}"),
                                        ("html", "(carried part of &part;E/&part;c")])
def test_every_format_writes_the_carried_part_and_the_note(fmt, words):
    _, record = run("lstm", 3)
    text = render_sequences([record], format=fmt, digits=6)
    assert words in text
    assert "the carried part of each is the part that comes from E[t+1] and E[t+2]" in text


def test_full_bptt_writes_the_whole_of_dE_dc_and_keeps_no_parts():
    net, record = run("lstm", None)
    text = render_sequences([record], digits=6)
    assert "carried part" not in text and "f₁⁽²⁾[3]·dE/dc₁⁽²⁾[3]" in text
    assert all(step[0][0].cell_grad_parts is None for step in net.history)
    net, _ = run("gru", None)
    assert all(step[0][0].output_grad_parts is None for step in net.history)


def test_the_parts_add_up_to_the_networks_totals_by_age():
    for kind, name, parts in (("lstm", "cell_grad", "cell_grad_parts"),
                              ("gru", "output_grad", "output_grad_parts")):
        net, _ = run(kind, 2)
        for t, step in enumerate(net.history, start=1):
            values = getattr(step[0][0], parts)
            assert len(values) == min(2, T - t + 1)
            total = values[0]
            for part in values[1:]:
                total += part
            assert total == getattr(step[0][0], name)


def test_no_line_of_the_gated_trace_is_a_bare_value_of_a_path():
    """Every dE/dc line of an LSTM, truncated or not, names the forget gate of t+1."""
    _, record = run("lstm", 2)
    text = render_sequences([record], digits=6)
    lines = [line for line in text.splitlines() if re.match(r"\s*dE/dc₁⁽²⁾\[[123]\] = ", line)]
    assert len(lines) == 3 and all("f₁⁽²⁾[" in line for line in lines)
