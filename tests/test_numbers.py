"""Number systems: float (unchanged), exact fractions, precise (mpmath).

The hand example is the one worked in docs/hand-derivation.md: 2 inputs,
2 ReLU neurons, 1 linear output, half_sse, η = 1/8.
"""

import json
import math
from fractions import Fraction as F

import pytest
from catalogue import mazur, random_network, random_samples

from neuronsim import Network, NeuronsimError, SpecError
from neuronsim.cli.main import main
from neuronsim.core.numbers import FLOAT, PreciseNumbers, get_numbers
from neuronsim.render.numfmt import factor, format_number
from neuronsim.render.tables import render_trace
from neuronsim.trace import Tracer

mpmath = pytest.importorskip("mpmath", reason="precise numbers need mpmath")

HAND_WEIGHTS = [[["1/2", -1], ["3/4", "1/4"]], [[1, "-1/2"]]]
HAND_BIASES = [[1, "-1/2"], ["1/4"]]
HAND_X, HAND_T = [2, 1], [1]


def hand_network(numbers="fraction", **options):
    options.setdefault("learning_rate", "1/8")
    return Network.from_arrays(HAND_WEIGHTS, HAND_BIASES, ["relu", "linear"], "half_sse",
                               numbers=numbers, samples=[(HAND_X, HAND_T)], **options)


def every_value(net):
    """Every number a step leaves in the neurons, with a name for messages."""
    for l, layer in enumerate(net.layers):
        for j, n in enumerate(layer.neurons):
            where = f"layers[{l}].neurons[{j}]"
            yield f"{where}.z", n.z
            yield f"{where}.output", n.output
            yield f"{where}.derivative", n.derivative
            yield f"{where}.output_grad", n.output_grad
            yield f"{where}.delta", n.delta
            yield f"{where}.bias", n.bias
            for k, w in enumerate(n.weights):
                yield f"{where}.weights[{k}]", w
            for k, g in enumerate(n.weight_grads):
                yield f"{where}.weight_grads[{k}]", g


# ------------------------------------------------------------------ registry
def test_float_is_the_unchanged_default():
    assert get_numbers() is FLOAT and get_numbers("float") is FLOAT
    assert FLOAT.convert(1) == 1.0 and type(FLOAT.convert(1)) is float
    assert mazur().numbers is FLOAT


def test_names_and_digits():
    assert get_numbers("fraction").name == "fraction"
    assert get_numbers("precise").digits == 50
    assert get_numbers("precise:80").digits == 80
    assert get_numbers(" precise:12 ").context.dps == 12
    numbers = get_numbers("fraction")
    assert get_numbers(numbers) is numbers


@pytest.mark.parametrize("name, message", [
    ("nope", "unknown number system"), ("precise:x", "precise:DIGITS"),
    ("precise:0", "digits must be"), ("fraction:3", "only precise"),
    ("float:2", "only precise")])
def test_bad_names(name, message):
    with pytest.raises(ValueError, match=message):
        get_numbers(name)


def test_precise_contexts_are_separate():
    low, high = get_numbers("precise:20"), get_numbers("precise:60")
    third_low, third_high = low.one / 3, high.one / 3
    assert len(str(third_low)) < 25 and len(str(third_high)) > 60
    assert mpmath.mp.dps == 15   # the global mpmath context is untouched


# ------------------------------------------------------------------ fraction
def test_fraction_convert_reads_what_the_user_wrote():
    convert = get_numbers("fraction").convert
    assert convert(0.1) == F(1, 10)
    assert convert("3/8") == F(3, 8) and convert(" -0.375 ") == F(-3, 8)
    assert convert(2) == F(2) and type(convert(2)) is F
    np = pytest.importorskip("numpy")
    assert convert(np.float64(0.25)) == F(1, 4) and convert(np.int64(3)) == F(3)
    with pytest.raises(TypeError):
        convert(True)
    with pytest.raises(ValueError):
        convert(math.inf)
    with pytest.raises(ValueError, match="3/8"):
        convert("three")


@pytest.mark.parametrize("activations, loss", [
    ("sigmoid", "half_sse"), ("tanh", "mse"), (["relu", "softmax"], "half_sse"),
    ("linear", "binary_cross_entropy"), ("linear", "cross_entropy")])
def test_fraction_refuses_exp_log_tanh_and_suggests_precise(activations, loss):
    with pytest.raises(NeuronsimError, match="numbers='precise'"):
        Network.from_arrays([[[0.5, 1]], [[1]]], None, activations, loss, numbers="fraction")


def test_hand_example_is_exact_in_every_table():
    net = hand_network()
    outputs = net.forward_pass(HAND_X)
    assert outputs == [F(5, 8)]
    assert net.back_prop(HAND_T) == F(9, 128)
    hidden, out = net.layers
    assert [n.z for n in hidden.neurons] == [F(1), F(5, 4)]
    assert out.neurons[0].delta == F(-3, 8)
    assert [n.delta for n in hidden.neurons] == [F(-3, 8), F(3, 16)]
    assert out.neurons[0].weight_grads == [F(-3, 8), F(-15, 32)]
    assert hidden.neurons[0].weight_grads == [F(-3, 4), F(-3, 8)]
    assert hidden.neurons[1].weight_grads == [F(3, 8), F(3, 16)]
    net.update_weights()
    assert [n.weights + [n.bias] for n in hidden.neurons] == [
        [F(19, 32), F(-61, 64), F(67, 64)], [F(45, 64), F(29, 128), F(-67, 128)]]
    assert out.neurons[0].weights + [out.neurons[0].bias] == [F(67, 64), F(-113, 256), F(19, 64)]
    assert net.loss_of(HAND_X, HAND_T) == F(5919489, 536870912)


@pytest.mark.parametrize("rate", [0.125, "1/8", F(1, 8)])
def test_no_value_is_silently_a_float(rate):
    net = hand_network(learning_rate=None)
    net.step(HAND_X, HAND_T, rate)          # a float rate is converted, not mixed in
    net.forward_pass(HAND_X)
    net.back_prop(HAND_T)
    for name, value in every_value(net):
        assert type(value) is F, f"{name} = {value!r} is {type(value).__name__}"
    history = hand_network().train(epochs=3, batch_size=None)
    assert all(type(e) is F for e in history)


def test_fraction_leaky_relu_slope_and_sse_mse_stay_exact():
    net = Network.from_arrays([[[F(1, 2), -1]], [[F(3, 4)]]], None,
                              [{"activation": "leaky_relu", "slope": 0.1}, "linear"], "mse",
                              numbers="fraction")
    net.step([1, 1], [1], F(1, 2))
    assert net.layers[0].activation.params["slope"] == F(1, 10)
    assert net.layers[0].neurons[0].derivative == F(1, 10)
    for name, value in every_value(net):
        assert type(value) is F, name


def test_fraction_files_round_trip_and_are_refused_elsewhere(tmp_path):
    net = hand_network()
    net.step(HAND_X, HAND_T)
    path = tmp_path / "hand.json"
    net.save(path)
    spec = json.loads(path.read_text())
    assert spec["layers"][0]["weights"][0] == ["19/32", "-61/64"]
    assert spec["learning_rate"] == "1/8"
    again = Network.from_spec(path, numbers="fraction")
    assert again.to_arrays()[0][0].tolist() == net.to_arrays()[0][0].tolist()
    assert again.layers[1].neurons[0].weights == [F(67, 64), F(-113, 256)]
    for numbers in ("float", "precise:30"):
        with pytest.raises(SpecError, match=r"layers\[0\]\.weights\[0\]\[0\]: the fraction "
                                            r"\"19/32\" is read only with numbers=\"fraction\""):
            Network.from_spec(path, numbers=numbers)
    with pytest.raises(SpecError, match=r"weights\[0\]\[0\]: expected a number or a fraction"):
        Network.from_arrays([[["1/0"]]], None, "linear", "half_sse", numbers="fraction")


# ------------------------------------------------------------------ precise
PAIRINGS = [("sigmoid", "sigmoid", "half_sse"), ("tanh", "sigmoid", "binary_cross_entropy"),
            ("relu", "softmax", "cross_entropy"), ("leaky_relu", "linear", "mse"),
            ("tanh", "tanh", "sse"), ("sigmoid", "softmax", "half_sse")]


def _vector_close(name, precise, floats, rel=1e-12):
    scale = max(abs(float(p)) for p in precise) or 1.0
    worst = max(abs(float(p) - f) for p, f in zip(precise, floats))
    assert worst <= rel * scale, f"{name}: float64 differs from precise:50 by {worst / scale:.3g}"


@pytest.mark.parametrize("hidden, output, loss", PAIRINGS)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_precise_agrees_with_float64(hidden, output, loss, seed):
    sizes = [3, 4, 3, 2]
    nets = {n: random_network(sizes, hidden, output, loss, seed, numbers=n, learning_rate=0.3)
            for n in ("float", "precise:50")}
    samples = random_samples(3, 2, output, loss, 4, seed)
    for x, t in samples:
        for net in nets.values():
            net.forward_pass(x)
            net.back_prop(t)
        exact, approx = nets["precise:50"], nets["float"]
        for l, (pl, fl) in enumerate(zip(exact.layers, approx.layers)):
            for attr in ("z", "output", "delta"):
                _vector_close(f"layers[{l}] {attr}", [getattr(n, attr) for n in pl.neurons],
                              [getattr(n, attr) for n in fl.neurons])
            _vector_close(f"layers[{l}] dE/dw",
                          [g for n in pl.neurons for g in n.weight_grads],
                          [g for n in fl.neurons for g in n.weight_grads])
        for net in nets.values():
            net.update_weights()
        for l, (pl, fl) in enumerate(zip(exact.layers, approx.layers)):
            _vector_close(f"layers[{l}] new weights", [w for n in pl.neurons for w in n.weights],
                          [w for n in fl.neurons for w in n.weights])
    ctx = nets["precise:50"].numbers.context
    for name, value in every_value(nets["precise:50"]):
        assert isinstance(value, ctx.mpf), f"{name} is {type(value).__name__}"


def test_precise_resolves_a_saturated_sigmoid():
    """float64 rounds σ(40) to exactly 1, so g'(z) and every gradient are 0."""
    weights, biases = [[[1.0]]], [[39.0]]
    nets = {n: Network.from_arrays(weights, biases, "sigmoid", "half_sse", numbers=n)
            for n in ("float", "precise:50")}
    for net in nets.values():
        net.forward_pass([1.0])
        net.back_prop([0.0])
    f, p = nets["float"].layers[0].neurons[0], nets["precise:50"].layers[0].neurons[0]
    assert f.output == 1.0 and f.derivative == 0.0 and f.delta == 0.0
    ctx = nets["precise:50"].numbers.context
    expected = ctx.exp(-40) / (1 + ctx.exp(-40)) ** 2    # σ'(40)
    # a(1 - a) with a = 1 - 4.2e-18 keeps about 50 - 18 = 32 correct digits
    assert abs(p.derivative - expected) < expected * ctx.mpf("1e-30")
    assert format_number(p.derivative, 6) == "4.24835e-18"
    assert format_number(p.delta, 6) == "4.24835e-18"


def test_fraction_resolves_point_one_plus_point_two():
    weights, biases = [[[0.1, 0.2]]], [[0.0]]
    nets = {n: Network.from_arrays(weights, biases, "linear", "half_sse", numbers=n)
            for n in ("float", "fraction")}
    for net in nets.values():
        net.forward_pass([1, 1])
        net.back_prop([0.3])
    assert nets["float"].layers[0].neurons[0].delta == pytest.approx(5.551115123125783e-17)
    assert nets["fraction"].layers[0].neurons[0].delta == 0


def test_precise_convert_takes_floats_at_their_binary_value():
    precise = get_numbers("precise:40")
    assert precise.convert(0.1) == precise.context.mpf(F(0.1).numerator) / F(0.1).denominator
    assert precise.convert("0.1") != precise.convert(0.1)
    assert precise.convert(F(1, 3)) == precise.one / 3
    assert precise.log(precise.zero) == -precise.inf
    assert precise.log(-precise.one) != precise.log(-precise.one)   # nan
    assert not precise.is_finite(precise.inf)
    assert isinstance(PreciseNumbers(5).convert(2), precise.context.mpf.__mro__[-2])


# ------------------------------------------------------------------ formatting
def test_format_fractions_and_precise_numbers():
    assert format_number(F(3, 8)) == "3/8"
    assert format_number(F(-3, 8)) == "−3/8"
    assert format_number(F(-3, 8), style="latex") == r"-\frac{3}{8}"
    assert format_number(F(6, 3), style="latex") == "2"
    assert format_number(F(3, 8), style="html") == "3/8"
    assert factor(F(3, 8)) == "(3/8)" and factor(F(3, 8), style="latex") == r"\frac{3}{8}"
    precise = get_numbers("precise:50")
    third = precise.one / 3
    assert format_number(third) == "0.333333333"
    assert format_number(third, 30) == "0." + "3" * 30
    assert format_number(-third * 10**12, 4) == "−3.333e+11"
    assert format_number(precise.convert("1e-1000")) == "1e-1000"
    assert format_number(precise.convert(100000)) == format_number(100000.0) == "100000"
    assert format_number(precise.convert(0.000123456789)) == format_number(0.000123456789)
    assert format_number(precise.zero) == "0"
    assert format_number(-precise.inf, style="latex") == r"-\infty"


def test_trace_tables_show_fractions():
    net = hand_network()
    tracer = Tracer().attach(net)
    net.step(HAND_X, HAND_T)
    text = render_trace(tracer.steps)
    assert "δ₁⁽³⁾ = dE/da₁⁽³⁾·g'(z₁⁽³⁾) = (−3/8)·1 = −3/8" in text
    assert "19/32" in text and "-113" not in text.replace("−113", "")
    latex = render_trace(tracer.steps, format="latex")
    assert r"\frac{19}{32}" in latex and r"-\frac{3}{8}" in latex


# ------------------------------------------------------------------ command line
def _hand_file(tmp_path):
    spec = hand_network().to_spec()
    path = tmp_path / "hand.json"
    path.write_text(json.dumps(spec))
    return path


def test_cli_trace_and_train_with_fractions(tmp_path, capsys):
    path = _hand_file(tmp_path)
    assert main(["trace", str(path), "--numbers", "fraction"]) == 0
    out = capsys.readouterr().out
    assert "E = ½(t₁ − a₁⁽³⁾)² = ½(1 − (5/8))² = 9/128" in out
    saved = tmp_path / "trained.json"
    assert main(["train", str(path), "--numbers", "fraction", "--epochs", "2",
                 "--save", str(saved)]) == 0
    assert "9/128" in capsys.readouterr().out
    assert json.loads(saved.read_text())["layers"][1]["biases"][0].count("/") == 1
    assert main(["trace", str(path)]) == 2
    assert 'read only with numbers="fraction"' in capsys.readouterr().err


def test_cli_numbers_option_errors_and_precise(capsys):
    assert main(["demo", "mazur", "--numbers", "fraction"]) == 2
    assert "precise" in capsys.readouterr().err
    assert main(["demo", "mazur", "--numbers", "precise:40", "--digits", "15"]) == 0
    assert "0.298371108760003" in capsys.readouterr().out
    assert main(["trace", "x.json", "--numbers", "nope"]) == 2
