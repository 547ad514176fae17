"""The walkthrough's diagram is draw's layout: no two labels meet, the script's hooks.

``neuronsim report`` draws its network with :func:`neuronsim.render.draw.layout` (the
geometric check of tests/test_draw_layout.py applies as is), with the element ids
and classes its script highlights, the loss E after the output layer, and an empty
value label under each neuron whose box has room for every value the script writes
into it.  Sequences (Elman, LSTM) get draw's diagram with its loops and units.
"""

import random
import re
import shutil

import pytest
from catalogue import MAZUR_SAMPLE, mazur
from test_draw_layout import check_no_overlap

from neuronsim import Network
from neuronsim.classroom.report_html import (
    VALUE_ROOM,
    network_diagram,
    network_svg,
    walk_data,
    walkthrough_html,
)
from neuronsim.cli.main import main
from neuronsim.files import load_example
from neuronsim.render import draw
from neuronsim.trace import Tracer
from neuronsim.trace.walk import walk


def traced(net, x, t, rate=0.5):
    tracer = Tracer().attach(net)
    net.step(x, t, rate)
    return tracer.steps[0]


def mazur_step():
    return traced(mazur(), *MAZUR_SAMPLE)


def example_step(name):
    net = load_example(name)
    sample = net.samples[0]
    return traced(net, sample["input"], sample["target"])


def big_step(sizes=(64, 32, 10), seed=0):
    rng = random.Random(seed)
    weights = [[[rng.gauss(0, 0.3) for _ in range(n_in)] for _ in range(n_out)]
               for n_in, n_out in zip(sizes, sizes[1:])]
    net = Network.from_arrays(weights, None, ["sigmoid"] * (len(sizes) - 2) + ["softmax"],
                              "cross_entropy")
    return traced(net, [rng.random() for _ in range(sizes[0])],
                  [1] + [0] * (sizes[-1] - 1), 0.1)


STEPS = {"2-2-2 (mazur)": mazur_step, "four-layer": lambda: example_step("four-layer"),
         "64-32-10": big_step}


@pytest.mark.parametrize("name", list(STEPS))
def test_the_report_diagram_has_no_two_labels_meeting(name):
    step = STEPS[name]()
    diagram = network_diagram(step)
    assert check_no_overlap(diagram) > 0
    sizes = [len(step.input)] + [len(layer) for layer in step.layers]
    # one column more than the network: the loss E, fed by every output
    columns = sorted({round(c.x, 6) for c in diagram.circles})
    assert len(columns) == len(sizes) + 1
    loss = [c for c in diagram.circles if c.ident == "loss-node"]
    assert len(loss) == 1 and loss[0].shape == "loss" and loss[0].x == max(columns)
    assert [e.ident for e in diagram.edges if "loss-edge" in e.classes] == \
        [f"e-loss-{j}" for j in range(sizes[-1])]
    # the ids the script highlights: every input, neuron and edge
    ids = {c.ident for c in diagram.circles} | {e.ident for e in diagram.edges}
    assert {f"x-{k}" for k in range(sizes[0])} <= ids
    assert {f"n-{l}-{j}" for l, n in enumerate(sizes[1:]) for j in range(n)} <= ids
    assert {f"e-{l}-{j}-{k}" for l, (m, n) in enumerate(zip(sizes, sizes[1:]))
            for j in range(n) for k in range(m)} <= ids
    # the inputs show x; the other neurons give nothing away before the walk does
    values = {t.ident: t for t in diagram.texts if t.kind == "value"}
    for c in diagram.circles:
        if c.ident.startswith("x-"):
            assert c.value == step.input[int(c.ident[2:])]
        else:   # no z, a or δ in the tooltip either
            assert c.value is None, c.ident
            assert not any(line.startswith(("z", "a", "δ")) for line in c.title.split("\n"))
    slots = [t for t in values.values() if not t.ident.startswith("val-x-")]
    assert slots and all(t.text == "" and t.room == VALUE_ROOM for t in slots)
    # every value the script writes fits the room its slot was given
    data = walk_data(step, walk(step, format="html"))
    written = [(line["node"], line["node_text"]) for c in data["computations"]
               for line in c["lines"] if "node" in line]
    assert written
    room = draw.text_width(VALUE_ROOM, 12.0)
    for node, text in written:
        assert draw.text_width(text, 12.0) <= room, text
        if node in values:      # a slot left out for room stays out (the caption says so)
            assert values[node].room == VALUE_ROOM


def test_tooltips_do_not_give_the_walk_away():
    step = mazur_step()
    svg = network_svg(step)
    titles = re.findall(r"<title>(.*?)</title>", svg, re.S)
    z = draw.format_number(step.layers[0][0].z, 6)
    assert titles and not any(z in title for title in titles)
    assert 'id="val-0-0"' in svg and 'id="val-loss"' in svg and 'id="val-x-0"' in svg
    assert 'id="diagram"' in svg and "http://" not in svg


def test_the_hooks_leave_draw_unchanged():
    net = load_example("four-layer")
    plain = draw.layout(net)
    assert all(c.ident is None and c.classes == "" for c in plain.circles)
    assert all(e.ident is None and e.classes == "" for e in plain.edges)
    assert ' id="' not in draw.to_svg(plain) and "loss" not in {c.shape for c in plain.circles}


def test_a_filtered_walk_marks_neurons_in_the_diagram():
    step = mazur_step()
    page = walkthrough_html(step, walk(step, format="html", layers=[1]), layers=[1])
    marks = dict(re.findall(r'<circle id="(n-\d-\d)" class="neuron (selected|other)"', page))
    assert marks == {"n-0-0": "other", "n-0-1": "other", "n-1-0": "selected",
                     "n-1-1": "selected"}


@pytest.mark.parametrize("name,units", [("rnn-parity", None), ("long-range-lstm", "lstm")])
def test_sequence_reports_draw_loops_and_units(name, units, tmp_path, capsys):
    out = tmp_path / "walk.html"
    assert main(["report", name, "-o", str(out)]) == 0
    capsys.readouterr()
    page = out.read_text(encoding="utf-8")
    net = load_example(name)
    recurrent = [l for l, layer in enumerate(net.layers) if layer.is_recurrent]
    assert recurrent
    loops = sum(net.layers[l].size for l in recurrent)
    assert page.count('<path class="loop ') == loops
    if units:
        assert page.count(f'class="neuron unit {units}"') == loops
    # draw's layout of the network, no label meeting another
    sample = net.samples[0]
    net.forward_pass(sample["input"])
    net.back_prop(sample["target"])
    check_no_overlap(draw.layout(net))


# ------------------------------------------------------------------ Chromium
@pytest.fixture(scope="module")
def browser():
    from test_report_html import Chromium

    if shutil.which("chromium") is None:
        pytest.skip("chromium is not installed (Debian: apt-get install -y chromium); "
                    "CI installs it")
    chromium = Chromium()
    yield chromium
    chromium.close()


SLOTS = """(function () {
  return Array.from(document.querySelectorAll("#diagram text.value[id]")).map(function (t) {
    var b = t.getBBox();
    return [t.id, t.textContent, b.x, b.y, b.width, b.height];
  });
})()"""

FOCUS = """(function () {
  function ids(selector) {
    return Array.from(document.querySelectorAll(selector)).map(function (n) { return n.id; });
  }
  var current = document.querySelector("#diagram .neuron.current");
  var idle = document.querySelector("#diagram .edge:not(.active)");
  var active = document.querySelector("#diagram .edge.active");
  return {current: ids("#diagram .current"), sources: ids("#diagram .source"),
          edges: ids("#diagram .edge.active"),
          fill: current && getComputedStyle(current).fill,
          idle: idle && getComputedStyle(idle).strokeOpacity,
          active: active && getComputedStyle(active).strokeOpacity,
          counter: document.getElementById("counter").textContent};
})()"""


@pytest.mark.slow
@pytest.mark.parametrize("name", ["four-layer", "64-32-10"])
def test_the_walkthrough_steps_and_highlights_in_chromium(browser, name, tmp_path):
    from test_draw_layout import dejavu_is_the_font

    step = STEPS[name]()
    sizes = [len(step.input)] + [len(layer) for layer in step.layers]
    path = tmp_path / "walk.html"
    path.write_text(walkthrough_html(step, walk(step, format="html")), encoding="utf-8")
    browser.open(path.as_uri())
    start = browser.js(FOCUS)
    assert start["current"] == [] and start["idle"] in ("0.85", "0.45")   # draw's own
    browser.press("ArrowRight")                                 # z₁⁽²⁾
    focus = browser.js(FOCUS)
    assert focus["current"] == ["n-0-0"] and focus["fill"] == "rgb(254, 252, 191)"
    assert focus["sources"] == [f"x-{k}" for k in range(sizes[0])]
    assert focus["edges"] == [f"e-0-0-{k}" for k in range(sizes[0])]
    assert (focus["active"], focus["idle"]) == ("1", "0.15")
    slots = {t.ident: t for t in network_diagram(step).texts if t.kind == "value"}
    value = 'document.getElementById("val-0-0").textContent'
    if "val-0-0" in slots:      # (64-32-10: no labels in the 32-neuron column)
        assert browser.js(value) == "z = " + draw.format_number(step.layers[0][0].z, 6)
    else:
        assert browser.js(value) is None
    browser.press("ArrowLeft")
    assert browser.js(value) == ("" if "val-0-0" in slots else None)
    browser.press("j")                                          # the output layer's first δ
    focus = browser.js(FOCUS)
    last = len(sizes) - 2
    assert focus["current"] == [f"n-{last}-0"] and focus["sources"] == ["loss-node"]
    assert focus["edges"] == ["e-loss-0"]
    browser.press("ArrowRight")
    browser.press("ArrowRight")
    browser.press("End")                                        # every value written
    assert browser.js(FOCUS)["counter"].startswith(f"{len(walk(step))} / ")
    drawn = browser.js(SLOTS)
    assert {row[0] for row in drawn} == set(slots)
    filled = [row for row in drawn if not row[0].startswith("val-x-")]
    assert filled and all(row[1] for row in filled)
    assert browser.js('document.getElementById("val-loss").textContent') == \
        draw.format_number(step.loss, 6)
    if dejavu_is_the_font():     # each written value inside the box the layout reserved
        for ident, text, x, y, width, height in drawn:
            box = draw.text_box(slots[ident])
            assert box[0] - 0.5 <= x and x + width <= box[2] + 0.5, (ident, text, box)
            assert box[1] - 0.5 <= y and y + height <= box[3] + 0.5, (ident, text, box)


SEQUENCE_FOCUS = """(function () {
  function marked(name) {
    return Array.from(document.querySelectorAll(".diagram svg ." + name)).map(function (n) {
      return [n.tagName, n.getAttribute("data-layer"), n.getAttribute("data-neuron") ||
              n.getAttribute("data-from") + ">" + n.getAttribute("data-to")];
    });
  }
  var current = document.querySelector(".diagram svg .neuron.current");
  return {current: marked("current"), sources: marked("source"), active: marked("active"),
          fill: current && getComputedStyle(current).fill,
          where: document.getElementById("where").textContent};
})()"""


@pytest.mark.slow
@pytest.mark.parametrize("name,shape", [("rnn-parity", "circle"), ("long-range-lstm", "rect")])
def test_sequence_walkthroughs_highlight_in_chromium(browser, name, shape, tmp_path):
    out = tmp_path / "walk.html"
    assert main(["report", name, "-o", str(out)]) == 0
    net = load_example(name)
    n_in, hidden, last = net.sizes[0], net.layers[0].size, len(net.sizes)
    browser.open(out.as_uri())
    focus = browser.js(SEQUENCE_FOCUS)      # 1: the first forward computation of layer 2
    assert focus["where"].startswith("1 of ")
    assert focus["current"] == [[shape, "2", "1"]] and focus["fill"] == "rgb(254, 252, 191)"
    assert focus["sources"] == [["circle", "1", str(k + 1)] for k in range(n_in)]
    assert sorted(focus["active"]) == sorted(
        [["line", "2", f"{k + 1}>1"] for k in range(n_in)] + [["path", "2", "1"]])
    browser.press("j")                      # the first δ: the output layer at t = T
    focus = browser.js(SEQUENCE_FOCUS)
    assert focus["current"] == [["circle", str(last), "1"]] and focus["sources"] == []
    first = browser.js('Array.from(document.querySelectorAll("section.computation"))'
                       '.findIndex(function (s) { return s.getAttribute("data-phase") === '
                       '"backward" && s.getAttribute("data-layer") === "2"; })')
    browser.open(out.as_uri() + f"?again#{first + 1}")   # a hidden unit's δ at t = T
    focus = browser.js(SEQUENCE_FOCUS)
    j = focus["current"][0][2]
    assert focus["current"] == [[shape, "2", j]]
    assert focus["sources"] == [["circle", str(last), "1"]]     # it reads the output's δ
    assert sorted(focus["active"]) == [["line", str(last), f"{j}>1"], ["path", "2", j]]
    browser.press("ArrowLeft")
    assert browser.js(SEQUENCE_FOCUS)["where"].startswith(f"{first} of ")
    browser.press("Home")
    assert browser.js(SEQUENCE_FOCUS)["current"] == [[shape, "2", "1"]]
    assert 0 < hidden == len(browser.js('Array.from(document.querySelectorAll('
                                        '".diagram svg .loop"))'))


def test_a_sequence_report_draws_the_weights_and_values_its_walk_uses(tmp_path, capsys):
    """The step updates the network; the diagram still shows the weights of the walk
    (the file's) and the a of its last time step, as the untouched network gives them."""
    out = tmp_path / "walk.html"
    assert main(["report", "rnn-parity", "-o", str(out)]) == 0
    capsys.readouterr()
    page = out.read_text(encoding="utf-8")
    net = load_example("rnn-parity")
    net.forward_pass(net.samples[0]["input"])
    assert draw.svg(net) in page
    stepped = load_example("rnn-parity")
    stepped.step(net.samples[0]["input"], net.samples[0]["target"], stepped.learning_rate)
    assert draw.svg(stepped) not in page
