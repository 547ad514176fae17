"""Training pictures: the grid behind a decision boundary (no dependency), the
figures (matplotlib), and the install hint without matplotlib."""

import sys

import pytest
from catalogue import SOFTMAX_SAMPLES, softmax_233, xor

from neuronsim.classroom import datasets, plots
from neuronsim.core.errors import NeuronsimError
from neuronsim.trace import Tracer

PNG = b"\x89PNG\r\n\x1a\n"


def test_decision_grid_is_the_network_on_a_grid():
    net = xor()
    samples = datasets.xor(n=20, noise=0.1, seed=1)
    xs, ys, values = plots.decision_grid(net, samples, resolution=7, margin=0.5)
    assert len(xs) == len(ys) == 7 and len(values) == 7 and all(len(r) == 7 for r in values)
    assert xs[0] == min(x[0] for x, _ in samples) - 0.5
    assert xs[-1] == pytest.approx(max(x[0] for x, _ in samples) + 0.5, rel=1e-12)
    assert ys[0] == min(x[1] for x, _ in samples) - 0.5
    for i, y in enumerate(ys):
        for j, x in enumerate(xs):
            assert values[i][j] == xor().forward_pass([x, y])[0]


def test_decision_grid_with_several_outputs_is_the_predicted_class():
    net = softmax_233()
    xs, ys, values = plots.decision_grid(net, SOFTMAX_SAMPLES, resolution=5)
    for i, y in enumerate(ys):
        for j, x in enumerate(xs):
            outputs = softmax_233().forward_pass([x, y])
            assert values[i][j] == outputs.index(max(outputs))
    assert plots.decision_value([0.2]) == 0.2
    assert plots.decision_value([0.1, 0.7, 0.2]) == 1


def test_decision_grid_leaves_tracer_weights_and_sums_alone():
    net = xor()
    tracer = Tracer().attach(net)
    net.forward_pass([0, 1])
    net.back_prop([1])
    before = (tracer.count, net.to_arrays(), net.gradient_arrays())
    plots.decision_grid(net, datasets.xor(n=8), resolution=4)
    assert net.tracer is tracer and tracer.count == before[0]
    for (w1, b1), (w2, b2) in zip(before[1] + before[2], net.to_arrays() + net.gradient_arrays()):
        assert (w1 == w2).all() and (b1 == b2).all()


def test_decision_grid_needs_two_inputs():
    from neuronsim import Network

    net = Network.from_arrays([[[0.1, 0.2, 0.3]]], None, "sigmoid", "half_sse")
    with pytest.raises(NeuronsimError, match="2 inputs, the network has 3"):
        plots.decision_grid(net, [([0, 0, 0], [1])])
    with pytest.raises(ValueError, match="resolution"):
        plots.decision_grid(xor(), datasets.xor(n=4), resolution=1)


@pytest.fixture
def matplotlib():
    return pytest.importorskip("matplotlib", reason="the figures need matplotlib")


def test_loss_figure(matplotlib, tmp_path):
    history = [0.7, 0.5, 0.3, 0.2]
    figure = plots.loss_figure(history)
    axes = figure.axes[0]
    line = axes.get_lines()[0]
    assert list(line.get_xdata()) == [1, 2, 3, 4]
    assert list(line.get_ydata()) == history
    assert axes.get_yscale() == "log" and axes.get_xlabel() == "epoch"
    path = plots.save_figure(figure, tmp_path / "loss.png")
    assert open(path, "rb").read(8) == PNG
    with pytest.raises(ValueError):
        plots.loss_figure([])


def test_boundary_figure_shows_every_point_by_class(matplotlib, tmp_path):
    net = xor()
    samples = datasets.xor(n=30, noise=0.1, seed=2)
    net.train(samples, epochs=2, learning_rate=0.5)
    figure = plots.boundary_figure(net, samples, resolution=20)
    axes = figure.axes[0]
    scatters = axes.collections[-2:]
    assert [len(s.get_offsets()) for s in scatters] == [15, 15]
    legend = [t.get_text() for t in axes.get_legend().get_texts()]
    assert legend == ["class 0", "class 1"]
    assert len(figure.axes) == 2          # the plot and its colour bar
    path = plots.save_figure(figure, tmp_path / "boundary.svg")
    assert "<svg" in open(path, encoding="utf-8").read(2000)
    multi = plots.boundary_figure(softmax_233(), SOFTMAX_SAMPLES, resolution=10)
    assert len(multi.axes) == 1
    assert [len(s.get_offsets()) for s in multi.axes[0].collections[-3:]] == [1, 1, 1]


def test_digits_figure_marks_wrong_predictions(matplotlib):
    samples = [([i / 64 for i in range(64)], [1 if c == d else 0 for c in range(10)])
               for d in range(5)]
    figure = plots.digits_figure(samples, [0, 1, 7, 3, 4], count=5, columns=5)
    titles = [axes.get_title() for axes in figure.axes]
    assert titles == ["0", "1", "7 (is 2)", "3", "4"]
    assert figure.axes[2].title.get_color() == "#b2182b"
    image = figure.axes[0].get_images()[0].get_array()
    assert image.shape == (8, 8) and image[1][0] == 8 / 64


def test_save_figure_checks_the_extension(matplotlib, tmp_path):
    with pytest.raises(NeuronsimError, match=r"\.png, \.svg or \.pdf"):
        plots.save_figure(plots.loss_figure([1.0]), tmp_path / "loss.bmp")


def test_without_matplotlib_the_error_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with pytest.raises(NeuronsimError, match=r'pip install "neuronsim\[plot\]"'):
        plots.loss_figure([1.0, 0.5])
    with pytest.raises(NeuronsimError, match=r'pip install "neuronsim\[plot\]"'):
        plots.boundary_figure(xor(), datasets.xor(n=4), resolution=3)
