"""Diagrams that stay legible: no two labels meet, from 2-2-2 to 64-32-10, at any width.

The geometric check reads the layout itself (:func:`draw.layout`): every label's box
(:func:`draw.text_box`, from DejaVu Sans's advance widths) inside the picture, meeting
no other label's box and no neuron or loop but its own.  Headless Chromium then checks
that the boxes are honest: each text it renders lies inside the box the layout gave it
(so rendered labels cannot overlap either), and a screenshot of each picture is not
blank.  The Chromium tests skip when chromium is absent (CI installs it).
"""

import json
import math
import random
import shutil
import subprocess
import tempfile
from itertools import combinations

import pytest

from neuronsim import Network
from neuronsim.cli.main import main
from neuronsim.core.errors import NeuronsimError
from neuronsim.files import load_example
from neuronsim.render import draw


def stack_spec():
    """dense -> LSTM (learned h0, c0) -> GRU -> Elman -> dense (as tests/test_lstm_gru.py,
    whose module skips without torch)."""
    return {"inputs": 2, "loss": "half_sse", "learning_rate": 0.2, "layers": [
        {"activation": "tanh", "size": 3, "init": "uniform", "seed": 1},
        {"type": "lstm", "size": 2, "init": "uniform", "seed": 2, "learn_initial_state": True,
         "initial_state": [0.1, -0.2], "initial_cell": [0.3, 0.05]},
        {"type": "gru", "size": 2, "init": "uniform", "seed": 3, "learn_initial_state": True},
        {"type": "recurrent", "activation": "tanh", "size": 2, "init": "uniform", "seed": 4},
        {"activation": "linear", "size": 1, "init": "uniform", "seed": 5}],
        "samples": [{"input": [[1, 0], [0, 1], [1, 1]], "target": [[1], None, [0]]},
                    {"input": [[1, 1], [0, 0]], "target": [1]}]}


def stepped(name):
    """A bundled example after forward_pass and back_prop of its first sample."""
    net = load_example(name)
    sample = net.samples[0]
    net.forward_pass(sample["input"])
    net.back_prop(sample["target"])
    return net


def big_network(sizes=(64, 32, 10), seed=0):
    rng = random.Random(seed)
    weights = [[[rng.gauss(0, 0.3) for _ in range(n_in)] for _ in range(n_out)]
               for n_in, n_out in zip(sizes, sizes[1:])]
    net = Network.from_arrays(weights, None, ["sigmoid"] * (len(sizes) - 2) + ["softmax"],
                              "cross_entropy")
    x = [rng.random() for _ in range(sizes[0])]
    net.forward_pass(x)
    net.back_prop([1] + [0] * (sizes[-1] - 1))
    return net


def gated_network():
    """dense -> LSTM -> GRU -> Elman -> dense, after one sequence."""
    net = Network.from_spec(stack_spec())
    sample = net.samples[0]
    net.forward_pass(sample["input"])
    net.back_prop(sample["target"])
    return net


NETWORKS = {
    "2-2-2 (mazur)": lambda: stepped("mazur"),
    "four-layer": lambda: stepped("four-layer"),
    "64-32-10": big_network,
    "rnn-parity": lambda: stepped("rnn-parity"),
    "lstm-gru stack": gated_network,
}
FEED_FORWARD = ("2-2-2 (mazur)", "four-layer", "64-32-10")


def check_no_overlap(diagram):
    """The geometric check: returns the number of labels checked."""
    boxes = [(draw.text_box(t), t) for t in diagram.texts]
    for box, text in boxes:
        assert 0 <= box[0] and box[2] <= diagram.width, (text.text, box, diagram.width)
        assert 0 <= box[1] and box[3] <= diagram.height, (text.text, box, diagram.height)
    for (a, ta), (b, tb) in combinations(boxes, 2):
        assert not draw.overlap(a, b), f"{ta.kind} {ta.text!r} {a} meets {tb.kind} {tb.text!r} {b}"
    shapes = [draw.shape_box(c) for c in diagram.circles] + \
        [draw.loop_box(loop) for loop in diagram.loops]
    for box, text in boxes:
        meets = [s for s in shapes if draw.overlap(box, s)]
        if text.kind == "symbol":      # a neuron's symbol sits in its own circle only
            assert len(meets) == 1 and meets[0][0] < text.x < meets[0][2], text.text
        else:
            assert not meets, (text.kind, text.text)
    # headings and captions always find room; what else was left out, the caption says
    assert not {"heading", "caption"} & set(diagram.left_out)
    caption = " ".join(t.text for t in diagram.texts if t.kind == "caption")
    if diagram.left_out.get("edge-label"):
        assert "edge label" in caption and "left out for room" in caption
    if diagram.left_out.get("symbol") or diagram.left_out.get("value"):
        assert "neuron labels left out for room" in caption
    return len(boxes)


def options_for(name):
    """(show, edges) pairs that make sense for the network."""
    pairs = [("a", "weight"), ("z", "weight"), ("delta", "weight")]
    if name in FEED_FORWARD:
        pairs.append(("delta", "gradient"))
    return pairs


@pytest.mark.parametrize("name", list(NETWORKS))
def test_no_two_labels_meet_at_the_default_width(name):
    net = NETWORKS[name]()
    for show, edges in options_for(name):
        diagram = draw.layout(net, show, edges)
        assert check_no_overlap(diagram) > 0


@pytest.mark.parametrize("name", list(NETWORKS))
def test_no_two_labels_meet_at_any_width(name):
    net = NETWORKS[name]()
    default = draw.layout(net).width
    narrowest = None
    for width in range(100, 1000, 10):
        try:
            draw.layout(net, width=width)
        except NeuronsimError as error:
            assert f"width {width}:" in str(error) and "pixels" in str(error)
            continue
        narrowest = width
        break
    assert narrowest is not None and narrowest <= default
    for width in sorted({narrowest, narrowest + 37, default, 1.6 * default, 3000}):
        for show, edges in options_for(name):
            diagram = draw.layout(net, show, edges, width=width)
            assert diagram.width == width
            check_no_overlap(diagram)


def test_the_refusal_names_the_narrowest_width_that_fits():
    net = stepped("mazur")
    with pytest.raises(NeuronsimError) as refused:
        draw.layout(net, width=150)
    need = int(str(refused.value).split("at least ")[1].split()[0])
    draw.layout(net, width=need)
    with pytest.raises(NeuronsimError, match="at least"):
        draw.layout(net, width=need - 1)


@pytest.mark.parametrize("sizes", [(2, 2, 2), (1, 1), (3, 12, 13, 2), (20, 6, 1),
                                   (5, 40, 3), (12, 12, 12, 12), (2, 9, 9, 9, 9, 9, 1)])
def test_no_two_labels_meet_for_many_shapes(sizes):
    net = big_network(sizes, seed=len(sizes))
    for show, edges in options_for("2-2-2 (mazur)"):
        for width in (None, 2000):
            check_no_overlap(draw.layout(net, show, edges, width=width))


def test_the_four_layer_gradients_no_longer_overlap():
    """The issue's example: every gradient label of four-layer is written, none meet."""
    diagram = draw.layout(stepped("four-layer"), "delta", "gradient")
    labels = [t for t in diagram.texts if t.kind == "edge-label"]
    assert len(labels) == len(diagram.edges) == 4 * 2 + 2 * 2 + 2 * 1
    check_no_overlap(diagram)


def test_a_narrow_width_leaves_labels_out_and_says_so():
    net = stepped("four-layer")
    wide = draw.layout(net, "delta", "gradient")
    narrow = draw.layout(net, "delta", "gradient", width=440)
    written = [t for t in narrow.texts if t.kind == "edge-label"]
    assert narrow.left_out["edge-label"] == len(narrow.edges) - len(written) > 0
    caption = " ".join(t.text for t in narrow.texts if t.kind == "caption")
    assert f"{narrow.left_out['edge-label']} edge labels left out for room" in caption
    assert not wide.left_out


def test_width_is_a_keyword_of_every_entry_point(tmp_path, capsys):
    net = stepped("mazur")
    assert 'width="512"' in draw.svg(net, width=512)
    assert 'width="512"' in net.draw(width=512)
    net.draw(tmp_path / "n.svg", width=640)
    assert 'width="640"' in (tmp_path / "n.svg").read_text(encoding="utf-8")
    assert main(["draw", "mazur", "--width", "480"]) == 0
    assert 'width="480"' in capsys.readouterr().out
    assert main(["draw", "mazur", "--width", "50"]) == 2
    assert capsys.readouterr().err == \
        "neuronsim: error: width: expected 100 to 20000 pixels, got 50\n"
    for bad in ("wide", True, math.inf):
        with pytest.raises(NeuronsimError, match="^width: expected"):
            draw.svg(net, width=bad)


# ------------------------------------------------------------------ gated layers
def test_lstm_and_gru_units_are_drawn_with_their_loops_and_h():
    net = gated_network()
    diagram = draw.layout(net)
    units = [c for c in diagram.circles if c.shape != "circle"]
    assert [c.shape for c in units] == ["lstm", "lstm", "gru", "gru"]
    # net.layers[1] (LSTM) is textbook layer 3; each unit shows h_j[T]
    last = net.history[-1]
    for c in units:
        l = c.layer - 2
        assert c.value == last[l][c.neuron - 1].output
    lstm_unit = units[0]
    assert "c₁⁽³⁾[T] = " in lstm_unit.title and "gate f (forget) at T: z = " in lstm_unit.title
    loops = {(loop.layer, loop.neuron): loop for loop in diagram.loops}
    assert set(loops) == {(3, 1), (3, 2), (4, 1), (4, 2), (5, 1), (5, 2)}
    assert loops[(3, 1)].value is None and "u_f,11⁽³⁾ = " in loops[(3, 1)].title
    assert loops[(5, 1)].value == net.layers[3].neurons[0].recurrent_weights[0]
    gated_edges = [e for e in diagram.edges if e.layer in (3, 4)]
    assert gated_edges and all(e.value is None and e.colour == draw.GATED for e in gated_edges)
    edge = next(e for e in gated_edges if (e.layer, e.source, e.target) == (3, 2, 1))
    w = net.layers[1].gates["output"][0].weights[1]
    assert f"w_o,12⁽³⁾ = {draw.format_number(w, 3)}" in edge.title
    headings = [t.text for t in diagram.texts if t.kind == "heading"]
    assert "2 LSTM units ↻" in headings and "2 GRU units ↻" in headings
    symbols = [t.text for t in diagram.texts if t.kind == "symbol"]
    assert "h₁⁽³⁾" in symbols and "h₂⁽⁴⁾" in symbols


def test_gated_units_in_the_svg_and_the_cli(tmp_path, capsys):
    path = tmp_path / "stack.json"
    Network.from_spec(stack_spec()).save(path)
    assert main(["draw", str(path), "-o", str(tmp_path / "d.svg")]) == 0
    text = (tmp_path / "d.svg").read_text(encoding="utf-8")
    assert text.count('class="neuron unit lstm"') == 2 and text.count('class="neuron unit gru"') == 2
    assert text.count('class="loop gated"') == 4 and text.count('class="edge gated"') == 3 * 2 + 2 * 2
    before = draw.layout(Network.from_spec(stack_spec()))    # no sequence read: symbols only
    assert all(c.value is None for c in before.circles)
    assert any("no sequence read yet" in c.title for c in before.circles)


def test_gated_png(tmp_path):
    pytest.importorskip("matplotlib", reason="PNG output needs matplotlib")
    path = tmp_path / "stack.png"
    draw.save(gated_network(), path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# ------------------------------------------------------------------ Chromium
# One page holds every network's diagram, one below the other (two Chromium runs in all).
MEASURE = """<script>
const rows = [];
document.querySelectorAll("svg").forEach((svg, index) => {{
  svg.querySelectorAll("text").forEach(t => {{
    const b = t.getBBox();
    rows.push([index, t.textContent, b.x, b.y, b.width, b.height]);
  }});
}});
document.getElementById("measured").textContent = JSON.stringify(rows);
</script>"""


def page_of(diagrams, script=""):
    body = "\n".join(f'<div style="display:block;height:{math.ceil(d.height)}px">'
                     f"{draw.to_svg(d)}</div>" for d in diagrams)
    return ('<!doctype html><html><head><meta charset="utf-8"><style>body{margin:0}'
            "svg{display:block}</style></head><body>" + body +
            '<pre id="measured"></pre>' + script + "</body></html>")


@pytest.fixture(scope="module")
def chromium():
    program = shutil.which("chromium")
    if program is None:
        pytest.skip("chromium is not installed (Debian: apt-get install -y chromium); "
                    "CI installs it")
    profile = tempfile.mkdtemp(prefix="neuronsim-chromium-")

    def run(url, *options):
        args = [program, "--headless", "--no-sandbox", "--disable-gpu",
                "--disable-background-networking", "--hide-scrollbars",
                f"--user-data-dir={profile}", *options, url]
        done = subprocess.run(args, capture_output=True, timeout=120, stdin=subprocess.DEVNULL)
        return done.stdout.decode("utf-8")

    yield run
    shutil.rmtree(profile, ignore_errors=True)


def dejavu_is_the_font():
    fc = shutil.which("fc-match")
    if fc is None:
        return False
    found = subprocess.run([fc, "DejaVu Sans"], capture_output=True, text=True).stdout
    return "DejaVu" in found


def every_diagram():
    diagrams = []
    for name, build in NETWORKS.items():
        show, edges = ("delta", "gradient") if name in FEED_FORWARD else ("a", "weight")
        diagrams.append((name, draw.layout(build(), show, edges)))
    return diagrams


@pytest.mark.slow
def test_chromium_renders_every_label_inside_its_box(chromium, tmp_path):
    if not dejavu_is_the_font():
        pytest.skip("the widths are DejaVu Sans's; fc-match finds another font here")
    diagrams = every_diagram()
    page = tmp_path / "measure.html"
    page.write_text(page_of([d for _, d in diagrams], MEASURE), encoding="utf-8")
    dom = chromium(page.as_uri(), "--dump-dom")
    measured = json.loads(dom.split('<pre id="measured">')[1].split("</pre>")[0]
                          .replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&"))
    assert len(measured) == sum(len(d.texts) for _, d in diagrams)
    labels = [(name, t) for name, d in diagrams for t in d.texts]
    for (index, text, x, y, width, height), (name, label) in zip(measured, labels):
        assert text == label.text and diagrams[index][0] == name
        box = draw.text_box(label)
        assert box[0] - 0.5 <= x and x + width <= box[2] + 0.5, (name, text, x, width, box)
        assert box[1] - 0.5 <= y and y + height <= box[3] + 0.5, (name, text, y, height, box)


@pytest.mark.slow
def test_chromium_screenshots_are_not_blank(chromium, tmp_path):
    image = pytest.importorskip("PIL.Image", reason="reading the PNG needs Pillow")
    diagrams = every_diagram()
    page = tmp_path / "diagrams.html"
    page.write_text(page_of([d for _, d in diagrams]), encoding="utf-8")
    shot = tmp_path / "shot.png"
    width = math.ceil(max(d.width for _, d in diagrams))
    height = sum(math.ceil(d.height) for _, d in diagrams)
    chromium(page.as_uri(), f"--screenshot={shot}", f"--window-size={width},{height}")
    assert shot.exists(), "chromium wrote no screenshot"
    with image.open(shot) as picture:
        assert picture.size == (width, height)
        rgb = picture.convert("RGB")
        top = 0
        for name, diagram in diagrams:
            box = (0, top, math.ceil(diagram.width), top + math.ceil(diagram.height))
            top = box[3]
            colours = rgb.crop(box).getcolors(maxcolors=1 << 20)
            # a blank page is one colour; a diagram has white, dark labels and edge colours
            assert colours is not None and len(colours) > 20, name
            counts = {colour: n for n, colour in colours}
            total = sum(counts.values())
            assert counts.get((255, 255, 255), 0) < 0.99 * total, name
            dark = sum(n for colour, n in counts.items() if max(colour) < 80)
            assert dark > 50, name                  # text and outlines rendered
            blue = sum(n for (r, g, b), n in counts.items() if b > r + 60)
            assert blue > 0, name                   # positive weights in blue
