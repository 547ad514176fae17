"""The HTML walkthrough: structure without a browser, then end to end in headless Chromium.

The browser test drives Chromium over the DevTools protocol on a pipe
(``--remote-debugging-pipe``: JSON messages separated by NUL bytes on file
descriptors 3 and 4), so it needs nothing beyond the standard library and
Debian's ``chromium`` package.  It skips, saying so, when chromium is absent.
"""

import base64
import fcntl
import html
import json
import os
import re
import select
import shutil
import subprocess
import sys
import tempfile
import time

import pytest
from catalogue import (
    MAZUR_SAMPLE,
    SOFTMAX_SAMPLES,
    mazur,
    random_network,
    random_samples,
    softmax_233,
)

from neuronsim.classroom.report_html import (
    _FILTER_CSS,
    equation_html,
    split_equation,
    walkthrough_html,
)
from neuronsim.cli.main import main
from neuronsim.cli.report import page_size
from neuronsim.core.network import Network
from neuronsim.files.bundled import example_path
from neuronsim.render.numfmt import format_number
from neuronsim.trace import Tracer
from neuronsim.trace.walk import walk

MAZUR = example_path("mazur")


def page_for(make, sample, **options):
    net = make()
    tracer = Tracer().attach(net)
    net.step(*sample, 0.5)
    step = tracer.steps[0]
    computations = walk(step, format="html")
    return step, computations, walkthrough_html(step, computations, title="t", **options)


def embedded_data(page):
    match = re.search(r'<script type="application/json" id="walk-data">(.*?)</script>', page,
                      re.S)
    return json.loads(match.group(1))


# ---------------------------------------------------------------- structure
def test_page_is_self_contained():
    _, computations, page = page_for(mazur, MAZUR_SAMPLE)
    assert page.startswith("<!DOCTYPE html>")
    for forbidden in ("http://", "https://", "<link", " src=", "@import", "url("):
        assert forbidden not in page, forbidden
    assert page.count("<script") == 2 and "<style>" in page and "<svg" in page
    data = embedded_data(page)
    assert len(data["computations"]) == len(computations) == 21
    assert data["sizes"] == [2, 2, 2]
    assert data["phases"] == ["forward", "loss", "backward", "gradients", "update"]


def test_every_value_has_its_place_in_the_page():
    step, computations, page = page_for(mazur, MAZUR_SAMPLE)
    data = embedded_data(page)
    ids = set(re.findall(r'id="([^"]+)"', page))
    for entry, c in zip(data["computations"], computations):
        assert entry["value_text"] in entry["html"]
        for line_data, line in zip(entry["lines"], c.lines):
            assert line_data["cell"] in ids, line_data["cell"]
            assert line_data["value"] == line.value
            if "node" in line_data:
                assert line_data["node"] in ids
    for l, layer in enumerate(step.layers):
        for r in layer:
            assert f"n-{l}-{r.neuron}" in ids and f"row-{l}-{r.neuron}" in ids
            for k in range(len(r.weights)):
                assert f"e-{l}-{r.neuron}-{k}" in ids
    assert {"x-0", "x-1", "loss-node", "e-loss-0", "e-loss-1", "next", "back",
            "current-value", "current-label"} <= ids
    first = data["computations"][0]
    assert first["value_text"] == "0.3775" and first["layer"] == 0 and first["neuron"] == 0
    delta = data["computations"][9]
    assert delta["value_text"] == "0.138498562" and delta["phase"] == "backward"


def test_data_cannot_close_the_script_element():
    step, computations, _ = page_for(mazur, MAZUR_SAMPLE)
    computations[0].title = "</script><b>x</b> & more"
    page = walkthrough_html(step, computations, title="<i>t</i>")
    script = page.split('id="walk-data">', 1)[1].split("</script>", 1)[0]
    assert "<" not in script and ">" not in script and "&" not in script
    assert json.loads(script)["computations"][0]["title"] == "</script><b>x</b> & more"
    assert "<title>&lt;i&gt;t&lt;/i&gt;</title>" in page


def test_split_equation_keeps_brackets_whole():
    formula = "a = s·z (z ≤ 0, slope s = 0.01) = 0.01·(−0.5) = −0.005"
    assert split_equation(formula) == ["a", "s·z (z ≤ 0, slope s = 0.01)", "0.01·(−0.5)",
                                       "−0.005"]
    assert split_equation("E = −[[t ln a + (1 − t) ln(1 − a)]] = 0.3") == [
        "E", "−[[t ln a + (1 − t) ln(1 − a)]]", "0.3"]
    block = equation_html("z = w·a + b = 0.5·2 + 1 = 2")
    assert block.count('class="eqsign"') == 3 and "·<wbr>" in block
    assert 'class="eq compact"' in equation_html("x = 1", compact=True)


def test_wide_networks_draw_thin_edges_without_labels():
    _, _, page = page_for(softmax_233, SOFTMAX_SAMPLES[0])
    assert 'class="symbol"' in page       # small network: labels drawn
    import random

    from catalogue import random_network
    net = random_network([20, 30, 10], "sigmoid", "softmax", "cross_entropy", seed=3)
    tracer = Tracer().attach(net)
    rng = random.Random(4)
    net.step([rng.uniform(-1, 1) for _ in range(20)], [0] * 9 + [1], 0.1)
    step = tracer.steps[0]
    page = walkthrough_html(step, walk(step, format="html"))
    assert len(re.findall(r'<line id="e-\d+-\d+-\d+" class="edge ', page)) == 20 * 30 + 30 * 10
    assert len(re.findall(r'<line id="e-loss-\d+" class="edge zero loss-edge"', page)) == 10
    # draw's layout: thin edges, no per-neuron labels in the crowded columns
    assert 'stroke-opacity="0.45"' in page
    assert "neuron labels omitted in crowded layers 1, 2" in page
    assert 'id="val-0-' not in page and 'id="val-1-' in page
    assert "<details id=\"parameters\">" in page   # long parameter table starts folded


def test_report_command_writes_the_file_atomically(tmp_path, capsys):
    out = tmp_path / "walk.html"
    assert main(["report", MAZUR, "-o", str(out), "--title", "Lecture 4"]) == 0
    assert "wrote" in capsys.readouterr().out
    page = out.read_text(encoding="utf-8")
    assert "<title>Lecture 4</title>" in page
    assert len(embedded_data(page)["computations"]) == 21
    assert os.listdir(tmp_path) == ["walk.html"]      # no temporary file left behind
    assert main(["report", MAZUR, "-o", str(tmp_path / "missing" / "w.html")]) == 2
    assert "neuronsim: error:" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["report", MAZUR])                       # -o is required


# ---------------------------------------------------------------- filters
WIDE_SIZES = [6, 5, 4, 3]          # textbook layers 2, 3, 4 have neurons


@pytest.fixture
def wide_spec(tmp_path):
    """A 6-5-4-3 network file (tanh, tanh, softmax + cross-entropy) with one sample."""
    sample = random_samples(6, 3, "softmax", "cross_entropy", 1, seed=8)[0]
    net = random_network(WIDE_SIZES, "tanh", "softmax", "cross_entropy", seed=7,
                         learning_rate=0.3, samples=[sample])
    path = tmp_path / "wide.json"
    net.save(str(path))
    return str(path)


def traced_spec(spec):
    """The step ``report`` walks, traced independently: the file's sample and learning rate."""
    net = Network.from_spec(spec)
    tracer = Tracer().attach(net)
    sample = net.samples[0]
    net.step(sample["input"], sample["target"], net.learning_rate)
    return tracer.steps[0]


def report_page(spec, path, *options):
    assert main(["report", spec, "-o", str(path), *options]) == 0
    return path.read_text(encoding="utf-8")


def recorded_value(step, entry, line):
    """What the tracer recorded for one line of the page's data."""
    if line["quantity"] == "loss":
        return step.loss
    record = step.layers[entry["layer"]][entry["neuron"]]
    value = getattr(record, line["quantity"])
    if line["quantity"] in ("weight_grads", "new_weights"):
        k = int(line["cell"].rsplit("-", 1)[1])
        return value[k]
    return value


@pytest.mark.parametrize("options, selected, described", [
    (["--layer", "3"], {(1, 0), (1, 1), (1, 2), (1, 3)}, {"layers": [3], "neurons": None}),
    (["--neuron", "2", "5"], {(0, 1), (0, 4), (1, 1), (2, 1)},
     {"layers": None, "neurons": [2, 5]}),
    (["--layer", "4", "2", "--neuron", "3", "1"], {(0, 0), (0, 2), (2, 0), (2, 2)},
     {"layers": [2, 4], "neurons": [1, 3]}),
])
def test_filtered_page_walks_only_the_selected_neurons(wide_spec, tmp_path, options, selected,
                                                       described):
    """Only the chosen neurons' computations (and the loss), each value the tracer's."""
    page = report_page(wide_spec, tmp_path / "part.html", *options)
    step = traced_spec(wide_spec)
    data = embedded_data(page)
    walked = {(e["layer"], e["neuron"]) for e in data["computations"] if e["layer"] is not None}
    assert walked == selected
    quantities = {}
    for entry in data["computations"]:
        quantities.setdefault((entry["layer"], entry["neuron"]), []).append(entry["quantity"])
        for line in entry["lines"]:
            assert line["value"] == recorded_value(step, entry, line), (entry["title"], line)
    assert quantities.pop((None, None)) == ["loss"]
    for (l, j), found in quantities.items():
        assert sorted(found) == sorted(["z", "output", "delta", "weight_grads",
                                        "new_weights"]), (l, j)
    assert data["sizes"] == WIDE_SIZES
    # the diagram: every neuron and edge, the walked ones ringed, the others faded
    ids = set(re.findall(r'id="([^"]+)"', page))
    marks = {owner: cls for owner, cls in
             re.findall(r'<circle id="n-(\d+-\d+)" class="neuron (selected|other)"', page)}
    every = {(l, j) for l, n in enumerate(WIDE_SIZES[1:]) for j in range(n)}
    assert {tuple(map(int, owner.split("-"))) for owner in marks} == every
    assert {tuple(map(int, o.split("-"))) for o, c in marks.items() if c == "selected"} == \
        selected
    assert len(re.findall(r'<line id="e-\d', page)) == 6 * 5 + 5 * 4 + 4 * 3
    # the tables list only the walked neurons and their parameters
    rows = {tuple(map(int, r.split("-"))) for r in re.findall(r'<tr id="row-(\d+-\d+)"', page)}
    assert rows == selected
    owners = re.findall(r'<tr data-owner="(\d+)-(\d+)"', page)
    assert len(owners) == sum(WIDE_SIZES[l] + 1 for l, _ in selected)
    assert {(int(l), int(j)) for l, j in owners} == selected
    for entry in data["computations"]:
        for line in entry["lines"]:
            assert line["cell"] in ids
    # the page says which filter is applied
    note = re.search(r'<p id="filter-note">(.*?)</p>', page).group(1)
    assert data["filter"] == described
    flags = "".join(f" --{key[:-1]} " + " ".join(map(str, numbers))
                    for key, numbers in described.items() if numbers)
    assert note.startswith(f"Filter{flags}: the walk shows only ")
    assert f"the {len(selected)} walked neurons ringed" in note


def _without_filter_additions(page):
    """A filtered page minus what the filter adds (note, CSS, marks, data key)."""
    page = page.replace(_FILTER_CSS, "")
    page = re.sub(r'<p id="filter-note">.*?</p>\n', "", page)
    page = re.sub(r'(class="neuron) (selected|other)"', r'\1"', page)
    return page.replace(
        re.search(r', "filter": \{[^}]*\}', page).group(0), "")


def test_unfiltered_page_is_unchanged_by_the_filters(wide_spec, tmp_path):
    whole = report_page(wide_spec, tmp_path / "whole.html")
    assert "filter-note" not in whole and "neuron selected" not in whole
    assert "neuron other" not in whole and _FILTER_CSS not in whole
    assert "filter" not in embedded_data(whole)
    assert len(embedded_data(whole)["computations"]) == 5 * 12 + 1
    # selecting every neuron gives the same page plus the filter's marks and note
    everything = report_page(wide_spec, tmp_path / "all.html", "--layer", "2", "3", "4")
    assert everything != whole
    assert _without_filter_additions(everything) == whole
    step, computations, page = page_for(mazur, MAZUR_SAMPLE)
    assert walkthrough_html(step, computations, title="t", layers=None, neurons=None) == page


def test_filters_as_in_step_and_trace(wide_spec, tmp_path, capsys):
    def option_help(command):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        text = " ".join(capsys.readouterr().out.split())
        return text[text.index("--layer L [L ...] "):text.index("counted from 1", text.index(
            "--neuron J [J ...] "))]
    assert option_help("report") == option_help("step")
    assert "Layer numbers count the input layer as layer 1" in option_help("report")
    # the same errors as the stepper's
    for options, message in [(["--layer", "1"], "--layer 1: layers with neurons are 2 to 4"),
                             (["--neuron", "7"], "--neuron 7: neurons count from 1 to 5")]:
        assert main(["report", wide_spec, "-o", str(tmp_path / "x.html"), *options]) == 2
        assert message in capsys.readouterr().err
    # neurons that none of the chosen layers has: refused, nothing written
    assert main(["report", wide_spec, "-o", str(tmp_path / "x.html"), "--layer", "4",
                 "--neuron", "4", "5"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "--layer 4 --neuron 4 5: no such neuron in these layers (layer 4 has 3 neurons)" in err
    assert not (tmp_path / "x.html").exists()
    # the walk the page holds is the stepper's walk with the same filter
    page = report_page(wide_spec, tmp_path / "p.html", "--layer", "3", "--neuron", "2")
    assert main(["step", wide_spec, "--layer", "3", "--neuron", "2"]) == 0
    stepped = capsys.readouterr().out
    titles = [html_to_text(e["title"]) for e in embedded_data(page)["computations"]]
    assert len(titles) == 6
    for number, title in enumerate(titles, start=1):
        assert f"[{number}/6] {title}" in stepped


def html_to_text(fragment):
    """Labels in the page use <sub>/<sup>; the stepper prints Unicode sub/superscripts."""
    digits = str.maketrans("0123456789()", "₀₁₂₃₄₅₆₇₈₉₍₎")
    sup = str.maketrans("0123456789()", "⁰¹²³⁴⁵⁶⁷⁸⁹⁽⁾")
    fragment = re.sub(r"<sub>(.*?)</sub>", lambda m: m.group(1).translate(digits), fragment)
    fragment = re.sub(r"<sup>(.*?)</sup>", lambda m: m.group(1).translate(sup), fragment)
    return html.unescape(fragment)


def test_report_prints_the_page_size(tmp_path, capsys):
    out = tmp_path / "walk.html"
    assert main(["report", MAZUR, "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    size = round(os.path.getsize(out) / 1024)
    assert printed.startswith(f"wrote {out} ({size} KB, 21 computations; ")
    assert [page_size(n) for n in (0, 812, 1023, 1024, 60636, 1024 * 1024 - 1, 4928307)] == [
        "0 bytes", "812 bytes", "1023 bytes", "1 KB", "59 KB", "1024 KB", "4.7 MB"]


# ---------------------------------------------------------------- browser
def _above_9(fd):
    """The same pipe end on a descriptor >= 10, so that moving it to 3 or 4 clobbers nothing."""
    high = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10)
    os.close(fd)
    return high


class Chromium:
    """Headless Chromium driven over the DevTools protocol on a pipe (fds 3 and 4)."""

    def __init__(self, width=1280, height=800):
        self.profile = tempfile.mkdtemp(prefix="neuronsim-chromium-")
        read_end, self.to_browser = os.pipe()
        self.from_browser, write_end = os.pipe()
        read_end, write_end = _above_9(read_end), _above_9(write_end)
        args = [shutil.which("chromium"), "--headless", "--no-sandbox", "--disable-gpu",
                "--disable-background-networking", "--disable-component-update",
                "--no-first-run", "--disable-extensions", "--disable-sync",
                f"--user-data-dir={self.profile}", "--remote-debugging-pipe",
                f"--window-size={width},{height}", "about:blank"]
        # Chromium reads commands on fd 3 and answers on fd 4: a tiny Python
        # trampoline puts our pipe ends there and execs chromium (Debian's wrapper).
        trampoline = ("import os, sys; os.dup2(int(sys.argv[1]), 3); "
                      "os.dup2(int(sys.argv[2]), 4); os.execv(sys.argv[3], sys.argv[3:])")
        self.process = subprocess.Popen(
            [sys.executable, "-c", trampoline, str(read_end), str(write_end)] + args,
            pass_fds=(read_end, write_end), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)
        os.close(read_end)
        os.close(write_end)
        self.buffer, self.last_id, self.events = b"", 0, []
        try:
            targets = self.call("Target.getTargets")["targetInfos"]
            page = next(t for t in targets if t["type"] == "page")
            self.session = self.call("Target.attachToTarget", targetId=page["targetId"],
                                     flatten=True)["sessionId"]
            self.call("Page.enable", session=True)
            self.call("Network.enable", session=True)
            self.call("Emulation.setDeviceMetricsOverride", session=True, width=width,
                      height=height, deviceScaleFactor=1, mobile=False)
        except BaseException:
            self.close()
            raise

    def _message(self, timeout):
        deadline = time.monotonic() + timeout
        while b"\0" not in self.buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.from_browser], [], [], left)[0]:
                raise TimeoutError("no answer from chromium")
            chunk = os.read(self.from_browser, 1 << 16)
            if not chunk:
                raise EOFError("chromium closed the pipe")
            self.buffer += chunk
        message, self.buffer = self.buffer.split(b"\0", 1)
        return json.loads(message)

    def call(self, method, session=False, timeout=15, **params):
        self.last_id += 1
        message = {"id": self.last_id, "method": method, "params": params}
        if session:
            message["sessionId"] = self.session
        os.write(self.to_browser, json.dumps(message).encode() + b"\0")
        while True:
            reply = self._message(timeout)
            if reply.get("id") == self.last_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_for_event(self, method, timeout=15):
        deadline = time.monotonic() + timeout
        while True:
            for event in self.events:
                if event.get("method") == method:
                    self.events.remove(event)
                    return event
            self.events.append(self._message(max(0.0, deadline - time.monotonic())))

    def open(self, url):
        self.call("Page.navigate", session=True, url=url)
        self.wait_for_event("Page.loadEventFired")

    def js(self, expression):
        result = self.call("Runtime.evaluate", session=True, expression=expression,
                           returnByValue=True)
        return result["result"].get("value")

    KEYS = {"ArrowRight": 39, "ArrowLeft": 37, "j": 74, "End": 35, "Home": 36}

    def press(self, key):
        for kind in ("keyDown", "keyUp"):
            self.call("Input.dispatchKeyEvent", session=True, type=kind, key=key,
                      code=key if len(key) > 1 else f"Key{key.upper()}",
                      windowsVirtualKeyCode=self.KEYS[key])

    def click(self, element_id):
        box = self.js(f"(function(){{var r = document.getElementById({element_id!r})"
                      f".getBoundingClientRect(); return [r.x + r.width / 2, "
                      f"r.y + r.height / 2];}})()")
        for kind in ("mousePressed", "mouseReleased"):
            self.call("Input.dispatchMouseEvent", session=True, type=kind, x=box[0], y=box[1],
                      button="left", clickCount=1)

    def screenshot(self, path):
        data = self.call("Page.captureScreenshot", session=True, format="png")["data"]
        with open(path, "wb") as handle:
            handle.write(base64.b64decode(data))

    def close(self):
        try:
            self.call("Browser.close", timeout=5)
        except (OSError, TimeoutError, EOFError, RuntimeError):
            pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        os.close(self.to_browser)
        os.close(self.from_browser)
        shutil.rmtree(self.profile, ignore_errors=True)


CURRENT = """(function () {
  var n = document.querySelector(".neuron.current");
  return {layer: n && n.getAttribute("data-layer"), neuron: n && n.getAttribute("data-neuron"),
          count: document.querySelectorAll(".neuron.current").length,
          label: document.getElementById("current-label").textContent,
          value: document.getElementById("current-value").textContent,
          counter: document.getElementById("counter").textContent,
          hash: location.hash};
})()"""


@pytest.fixture(scope="module")
def browser():
    if shutil.which("chromium") is None:
        pytest.skip("chromium is not installed (Debian: apt-get install -y chromium); "
                    "the HTML walkthrough is checked without a browser only")
    chromium = Chromium()
    yield chromium
    chromium.close()


@pytest.fixture(scope="module")
def mazur_page(tmp_path_factory):
    path = tmp_path_factory.mktemp("report") / "walk.html"
    assert main(["report", MAZUR, "-o", str(path)]) == 0
    return path


def test_stepping_in_chromium(browser, mazur_page):
    browser.open(mazur_page.as_uri())
    state = browser.js(CURRENT)
    assert state["count"] == 0 and state["counter"] == "0 / 21"
    browser.press("ArrowRight")                         # z₁⁽²⁾
    state = browser.js(CURRENT)
    assert (state["layer"], state["neuron"], state["value"]) == ("2", "1", "0.3775")
    assert state["label"] == "z1(2)" and state["count"] == 1
    browser.click("next")                               # a₁⁽²⁾, with the mouse
    state = browser.js(CURRENT)
    assert (state["layer"], state["neuron"], state["value"]) == ("2", "1", "0.593269992")
    assert browser.js('document.getElementById("cell-output-0-0").textContent') == "0.593269992"
    assert browser.js('document.getElementById("cell-output-0-1").textContent') == ""
    for _ in range(7):                                  # to 9: the loss
        browser.press("ArrowRight")
    state = browser.js(CURRENT)
    assert state["value"] == "0.298371109" and state["counter"] == "9 / 21"
    assert browser.js('document.querySelector(".current").id') == "loss-node"
    browser.press("ArrowRight")                         # 10: δ₁⁽³⁾
    state = browser.js(CURRENT)
    assert (state["layer"], state["neuron"], state["value"]) == ("3", "1", "0.138498562")
    assert browser.js('document.body.getAttribute("data-phase")') == "backward"
    browser.press("ArrowRight")
    browser.press("ArrowRight")                         # 12: δ₁⁽²⁾ reads both output deltas
    state = browser.js(CURRENT)
    assert (state["layer"], state["neuron"], state["value"]) == ("2", "1", "0.00877135469")
    sources = browser.js('Array.from(document.querySelectorAll(".neuron.source"))'
                         '.map(function (n) { return n.id; })')
    assert sources == ["n-1-0", "n-1-1"]
    active = browser.js('Array.from(document.querySelectorAll(".edge.active"))'
                        '.map(function (n) { return n.id; })')
    assert active == ["e-1-0-0", "e-1-1-0"]             # w₁₁⁽³⁾ and w₂₁⁽³⁾
    browser.click("back")
    assert browser.js(CURRENT)["value"] == "−0.0380982365"
    browser.press("Home")
    browser.press("j")                                  # jump to the backward pass
    assert browser.js(CURRENT)["counter"] == "10 / 21"
    browser.press("End")
    state = browser.js(CURRENT)
    assert state["counter"] == "21 / 21" and state["hash"] == "#21"
    assert browser.js('document.getElementById("cell-new_weights-1-0-0").textContent') == \
        "0.35891648"
    assert browser.js('document.getElementById("next").disabled') is True
    requests = [e["params"]["request"]["url"] for e in browser.events
                if e.get("method") == "Network.requestWillBeSent"]
    assert requests and all(url.startswith("file://") for url in requests)


def test_fragment_opens_at_a_computation(browser, mazur_page):
    browser.open(mazur_page.as_uri() + "?again#16")
    state = browser.js(CURRENT)
    assert state["counter"] == "16 / 21" and (state["layer"], state["neuron"]) == ("3", "1")
    assert browser.js('document.querySelectorAll("#parameter-table tr.current-row").length') == 3
    if os.environ.get("NEURONSIM_SCREENSHOT"):
        browser.screenshot(os.environ["NEURONSIM_SCREENSHOT"])


def test_filtered_page_in_chromium(browser, wide_spec, tmp_path):
    path = tmp_path / "part.html"
    report_page(wide_spec, path, "--layer", "3", "--neuron", "2")
    browser.open(path.as_uri())
    assert browser.js('document.getElementById("filter-note").offsetHeight') > 0
    ring = browser.js('getComputedStyle(document.getElementById("n-1-1")).stroke')
    assert ring == "rgb(47, 133, 90)"                       # the walked neuron, ringed
    assert browser.js('getComputedStyle(document.getElementById("n-0-0")).opacity') == "0.4"
    browser.press("ArrowRight")                             # z₂⁽³⁾
    state = browser.js(CURRENT)
    assert (state["layer"], state["neuron"], state["counter"]) == ("3", "2", "1 / 6")
    step = traced_spec(wide_spec)
    text = browser.js('document.getElementById("cell-z-1-1").textContent')
    assert text == format_number(step.layers[1][1].z, 9)
    browser.press("j")                                      # 4: δ₂⁽³⁾ reads layer 4's deltas
    state = browser.js(CURRENT)
    assert (state["layer"], state["neuron"], state["counter"]) == ("3", "2", "4 / 6")
    assert state["value"] == format_number(step.layers[1][1].delta, 9)
    sources = browser.js('Array.from(document.querySelectorAll(".neuron.source"))'
                         '.map(function (n) { return [n.id, getComputedStyle(n).opacity]; })')
    assert sources == [["n-2-0", "1"], ["n-2-1", "1"], ["n-2-2", "1"]]   # not faded
    browser.press("End")
    assert browser.js(CURRENT)["counter"] == "6 / 6"
    assert browser.js('document.getElementById("cell-new_weights-1-1-4").textContent') == \
        format_number(step.layers[1][1].new_weights[4], 9)
