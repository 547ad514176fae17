"""Network diagrams: the SVG's structure, labels, values and colours; PNG; the CLI."""

import random
import sys
import xml.etree.ElementTree as ET

import pytest
from catalogue import MAZUR_SAMPLE, SOFTMAX_SAMPLES, mazur, softmax_233

from neuronsim import Network
from neuronsim.cli.main import main
from neuronsim.core.errors import NeuronsimError
from neuronsim.files.bundled import example_path
from neuronsim.render import draw

NS = "{http://www.w3.org/2000/svg}"


def parse(text):
    return ET.fromstring(text)


def circles(root):
    return root.findall(f".//{NS}circle")


def edges(root):
    return root.findall(f".//{NS}line")


def texts(root, kind=None):
    return [t.text for t in root.findall(f".//{NS}text")
            if kind is None or t.get("class") == kind]


def circle_at(root, layer, neuron):
    """The circle of textbook layer ``layer``, neuron ``neuron`` (both from 1)."""
    found = [c for c in circles(root)
             if c.get("data-layer") == str(layer) and c.get("data-neuron") == str(neuron)]
    assert len(found) == 1
    return found[0]


def edge_at(root, layer, source, target):
    found = [e for e in edges(root) if (e.get("data-layer"), e.get("data-from"),
                                        e.get("data-to")) == (str(layer), str(source), str(target))]
    assert len(found) == 1
    return found[0]


@pytest.fixture
def stepped_mazur():
    net = mazur()
    net.forward_pass(MAZUR_SAMPLE[0])
    net.back_prop(MAZUR_SAMPLE[1])
    return net


def test_mazur_has_a_circle_per_neuron_and_a_line_per_weight(stepped_mazur):
    root = parse(draw.svg(stepped_mazur))
    assert len(circles(root)) == 2 + 2 + 2
    assert len(edges(root)) == 4 + 4
    headings = texts(root, "heading")
    assert headings[:2] == ["layer 1", "2 inputs"]
    assert "layer 3 (output)" in headings and "2 × sigmoid" in headings


def test_circles_carry_the_values_shown_in_python_index_order(stepped_mazur):
    net = stepped_mazur
    for show, attribute in (("a", "output"), ("z", "z"), ("delta", "delta")):
        root = parse(draw.svg(net, show=show))
        for l, layer in enumerate(net.layers):
            for j, neuron in enumerate(layer.neurons):
                # net.layers[l].neurons[j] is textbook layer l+2, neuron j+1
                circle = circle_at(root, l + 2, j + 1)
                assert float(circle.get("data-value")) == getattr(neuron, attribute)
        for k, x in enumerate(MAZUR_SAMPLE[0]):
            assert float(circle_at(root, 1, k + 1).get("data-value")) == x


def test_textbook_labels_and_values_are_written(stepped_mazur):
    root = parse(draw.svg(stepped_mazur, show="a"))
    symbols = texts(root, "symbol")
    assert symbols == ["a₁⁽¹⁾", "a₂⁽¹⁾", "a₁⁽²⁾", "a₂⁽²⁾", "a₁⁽³⁾", "a₂⁽³⁾"]
    values = texts(root, "value")
    # Mazur's published out_h1 = 0.593269992, out_o1 = 0.75136507
    assert values == ["0.05", "0.1", "0.593", "0.597", "0.751", "0.773"]
    edge_labels = texts(root, "edge-label")
    assert "w₁₁⁽²⁾ = 0.15" in edge_labels and "w₂₂⁽³⁾ = 0.55" in edge_labels
    assert len(edge_labels) == 8
    deltas = parse(draw.svg(stepped_mazur, show="delta"))
    assert texts(deltas, "symbol")[2:] == ["δ₁⁽²⁾", "δ₂⁽²⁾", "δ₁⁽³⁾", "δ₂⁽³⁾"]
    # Mazur: δ_o1 = 0.138498562, δ_o2 = -0.038098236
    assert texts(deltas, "value")[4:] == ["0.138", "−0.0381"]


def test_ng_convention_lowers_the_weight_superscript(stepped_mazur):
    labels = texts(parse(draw.svg(stepped_mazur, convention="ng")), "edge-label")
    assert "w₁₁⁽¹⁾ = 0.15" in labels and "w₂₂⁽²⁾ = 0.55" in labels


def test_edge_width_grows_with_the_weight(stepped_mazur):
    root = parse(draw.svg(stepped_mazur))
    widths = {}
    for l, layer in enumerate(stepped_mazur.layers):
        for j, neuron in enumerate(layer.neurons):
            for k, w in enumerate(neuron.weights):
                edge = edge_at(root, l + 2, k + 1, j + 1)
                assert float(edge.get("data-value")) == w
                widths[w] = float(edge.get("stroke-width"))
    # the largest weight (0.55) gets the widest stroke, 6; the others in proportion
    assert widths[0.55] == 6.0
    for w, width in widths.items():
        assert width == pytest.approx(0.6 + 5.4 * w / 0.55, abs=0.005)


def test_edges_and_neurons_are_coloured_by_sign():
    net = softmax_233()
    x, t = SOFTMAX_SAMPLES[0]
    net.forward_pass(x)
    net.back_prop(t)
    root = parse(draw.svg(net, show="z"))
    for line in edges(root):
        value = float(line.get("data-value"))
        expected = draw.POSITIVE if value > 0 else draw.NEGATIVE if value < 0 else draw.ZERO
        assert line.get("stroke") == expected
        kind = "positive" if value > 0 else "negative" if value < 0 else "zero"
        assert line.get("class") == f"edge {kind}"
    assert {line.get("class") for line in edges(root)} >= {"edge positive", "edge negative"}
    for circle in circles(root):
        value = float(circle.get("data-value"))
        fill = circle.get("fill")
        # tints of blue have more blue than red, tints of orange the other way round
        red, blue = int(fill[1:3], 16), int(fill[5:7], 16)
        assert (blue > red) if value > 0 else (red > blue)


def test_gradient_edges_are_a_k_times_delta_j():
    net = softmax_233()
    x, t = SOFTMAX_SAMPLES[1]
    net.forward_pass(x)
    net.back_prop(t)
    root = parse(draw.svg(net, edges="gradient"))
    for l, layer in enumerate(net.layers):
        for j, neuron in enumerate(layer.neurons):
            for k, a in enumerate(neuron.inputs):
                edge = edge_at(root, l + 2, k + 1, j + 1)
                assert float(edge.get("data-value")) == a * neuron.delta
    # a ReLU neuron with z < 0 has δ = 0: its incoming gradients are grey
    zero = [e for e in edges(root) if e.get("class") == "edge zero"]
    assert zero and all(float(e.get("data-value")) == 0 for e in zero)
    assert any(label.startswith("dE/dw₁₁⁽²⁾ = ") for label in texts(root, "edge-label"))


def test_gradient_edges_need_a_back_prop():
    with pytest.raises(NeuronsimError, match="back_prop"):
        draw.svg(mazur(), edges="gradient")


def test_before_any_pass_only_symbols_show():
    root = parse(draw.svg(mazur()))
    assert texts(root, "value") == []
    assert all(c.get("data-value") is None and c.get("fill") == "#ffffff" for c in circles(root))
    assert len(texts(root, "symbol")) == 6
    assert len(texts(root, "edge-label")) == 8   # weights exist before any pass


def test_bad_options_are_named():
    with pytest.raises(ValueError, match="show"):
        draw.svg(mazur(), show="b")
    with pytest.raises(ValueError, match="edges"):
        draw.svg(mazur(), edges="bias")


def big_network():
    rng = random.Random(0)
    sizes = [64, 32, 10]
    weights = [[[rng.gauss(0, 0.3) for _ in range(n_in)] for _ in range(n_out)]
               for n_in, n_out in zip(sizes, sizes[1:])]
    net = Network.from_arrays(weights, None, ["sigmoid", "softmax"], "cross_entropy")
    net.forward_pass([rng.random() for _ in range(64)])
    return net


def test_64_32_10_stays_legible():
    root = parse(draw.svg(big_network()))
    assert len(circles(root)) == 64 + 32 + 10
    assert len(edges(root)) == 64 * 32 + 32 * 10
    # labels dropped in the crowded columns, kept for the 10 outputs
    assert texts(root, "symbol") == [f"a{str(j).translate(str.maketrans('0123456789', '₀₁₂₃₄₅₆₇₈₉'))}⁽³⁾"
                                     for j in range(1, 11)]
    assert texts(root, "edge-label") == []
    # edges thinned: at most 1.6 px and translucent
    assert max(float(e.get("stroke-width")) for e in edges(root)) == pytest.approx(1.6)
    assert {e.get("stroke-opacity") for e in edges(root)} == {"0.45"}
    caption = " ".join(texts(root, "caption"))
    assert "edges thinned" in caption and "labels omitted" in caption
    # every element still has its full label as a tooltip
    assert edges(root)[0].find(f"{NS}title").text.startswith("w₁₁⁽²⁾ = ")


def test_save_svg_and_network_draw(tmp_path, stepped_mazur):
    path = tmp_path / "net.svg"
    assert stepped_mazur.draw(path) == str(path)
    text = path.read_text(encoding="utf-8")
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>')
    assert len(circles(parse(text.encode("utf-8")))) == 6
    inline = stepped_mazur.draw(show="delta")
    assert isinstance(inline, str) and inline._repr_svg_() == inline
    assert not inline.startswith("<?xml")
    with pytest.raises(NeuronsimError, match=r"\.svg or \.png"):
        stepped_mazur.draw(tmp_path / "net.jpg")


def test_save_png(tmp_path, stepped_mazur):
    pytest.importorskip("matplotlib", reason="PNG output needs matplotlib")
    path = tmp_path / "net.png"
    draw.save(stepped_mazur, path, show="delta", edges="gradient")
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width = int.from_bytes(data[16:20], "big")
    height = int.from_bytes(data[20:24], "big")
    diagram = draw.layout(stepped_mazur, "delta", "gradient")
    assert (width, height) == (round(2 * diagram.width), round(2 * diagram.height))


def test_png_without_matplotlib_says_how_to_install(tmp_path, monkeypatch, stepped_mazur):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with pytest.raises(NeuronsimError, match=r'pip install "neuronsim\[plot\]"'):
        draw.save(stepped_mazur, tmp_path / "net.png")
    assert not (tmp_path / "net.png").exists()


# ------------------------------------------------------------------ CLI
def test_cli_writes_svg_with_the_files_first_sample(tmp_path, capsys):
    path = tmp_path / "net.svg"
    status = main(["draw", example_path("mazur"), "-o", str(path), "--show", "delta",
                   "--edges", "gradient"])
    assert status == 0
    assert capsys.readouterr().out == f"wrote {path}\n"
    root = parse(path.read_bytes())
    assert float(circle_at(root, 3, 1).get("data-value")) == pytest.approx(0.138498562, rel=1e-8)
    # Mazur: dE/dw5 = 0.082167041 (our w₁₁⁽³⁾)
    assert float(edge_at(root, 3, 1, 1).get("data-value")) == pytest.approx(0.082167041,
                                                                            rel=1e-8)


def test_cli_prints_svg_and_takes_an_input(capsys):
    assert main(["draw", example_path("xor"), "--input", "1", "0", "--digits", "4"]) == 0
    root = parse(capsys.readouterr().out)
    assert circle_at(root, 1, 1).get("data-value") == "1.0"
    assert circle_at(root, 1, 2).get("data-value") == "0.0"


@pytest.mark.parametrize("argv, message", [
    (["--show", "delta", "--input", "1", "0"], "needs a target"),
    (["--sample", "9"], "--sample 9"),
    (["--target", "1"], "--target needs --input"),
    (["-o", "net.gif"], ".svg or .png"),
    (["--digits", "0"], "--digits"),
])
def test_cli_errors_are_one_line(argv, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["draw", example_path("xor")] + argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("neuronsim: error: ") and message in err and err.count("\n") == 1


# ------------------------------------------------------------------ review fixes
def test_precise_and_fraction_numbers_draw_with_float_geometry(capsys):
    assert main(["draw", "four-layer"]) == 0
    as_float = parse(capsys.readouterr().out)
    assert main(["draw", "four-layer", "--numbers", "precise"]) == 0
    precise = parse(capsys.readouterr().out)
    widths = [e.get("stroke-width") for e in edges(as_float)]
    assert [e.get("stroke-width") for e in edges(precise)] == widths
    assert widths[:2] == ["1.37", "2.14"]     # w_11^(2) = 0.1, w_12^(2) = 0.2; largest 0.7 -> 6
    # data-value: the float64 value of each weight, whatever the numbers
    assert [e.get("data-value") for e in edges(precise)] == \
        [e.get("data-value") for e in edges(as_float)]
    net = Network.from_arrays([[["1/2", "-1/4"]]], [["1/8"]], "linear", "half_sse",
                              numbers="fraction")
    net.forward_pass([1, 2])
    root = parse(draw.svg(net))
    assert [e.get("data-value") for e in edges(root)] == ["0.5", "-0.25"]
    assert [e.get("stroke-width") for e in edges(root)] == ["6.00", "3.30"]
    assert circle_at(root, 2, 1).get("data-value") == "0.125"      # 1/2 - 1/2 + 1/8


def test_cli_takes_bundled_example_names(capsys):
    assert main(["draw", "mazur", "--show", "delta", "--edges", "gradient"]) == 0
    root = parse(capsys.readouterr().out)
    assert float(circle_at(root, 3, 1).get("data-value")) == pytest.approx(0.138498562, rel=1e-8)


@pytest.mark.parametrize("argv, message", [
    (["mazur", "--input", "1", "2", "--show", "delta"],
     "--show delta needs a target: --input given without --target; give --input and --target"),
    (["xor", "--input", "1", "0", "--edges", "gradient"],
     "--edges gradient needs a target: --input given without --target; give --input and "
     "--target"),
    (["rnn", "--edges", "gradient"],
     "edges='gradient' shows one sample's a·δ; a recurrent network's gradient is a sum over "
     "time steps (neuronsim trace shows it): draw its weights"),
    (["rnn", "--input", "1"], "--input: rnn is a recurrent network, which reads sequences: "
                              "draw one of the file's samples (--sample K)"),
])
def test_cli_error_messages(argv, message, capsys):
    assert main(["draw"] + argv) == 2
    assert capsys.readouterr().err == f"neuronsim: error: {message}\n"
