"""neuronsim serve end to end in headless Chromium, as a student uses it.

The app runs on a real uvicorn server (loopback); Chromium, driven over the
DevTools protocol (the ``Chromium`` helper of test_report_html), loads the
page with a network, types a new weight into its box, clicks Step, and reads
a δ from the page: it must be what ``neuronsim trace`` prints for the network
file with that weight.  A click on a neuron opens its derivation.  Screenshots
are taken and checked to be pictures of the page (the right size, not blank);
with ``NEURONSIM_SERVE_SCREENSHOTS=DIR`` they are also written to DIR (that
is how docs/images/serve-*.png were made).

Skips, saying so, without chromium or without the serve extra; CI has both.
"""

import json
import os
import re
import shutil
import struct
import subprocess
import sys
import time
import zlib

import pytest

from neuronsim.files.bundled import example_path

if shutil.which("chromium") is None:
    pytest.skip("chromium is not installed (Debian: apt-get install -y chromium)",
                allow_module_level=True)
for _name in ("starlette", "uvicorn"):
    pytest.importorskip(_name, reason='the serve extra: pip install "neuronsim[serve]"')

from test_report_html import Chromium  # noqa: E402  (after the skips: it needs chromium)
from test_serve import running_server  # noqa: E402

WIDTH, HEIGHT = 1280, 900


@pytest.fixture(scope="module")
def site():
    with running_server() as (client, app):
        yield f"http://127.0.0.1:{client.port}"


@pytest.fixture(scope="module")
def browser():
    chromium = Chromium(WIDTH, HEIGHT)
    yield chromium
    chromium.close()


def wait_for(browser, expression, timeout=20):
    """The value of ``expression`` once it is truthy (the page answers asynchronously)."""
    deadline = time.monotonic() + timeout
    while True:
        value = browser.js(expression)
        if value:
            return value
        assert time.monotonic() < deadline, f"the page never showed {expression}"
        time.sleep(0.05)


def message(browser):
    return browser.js("(document.querySelector('#panel .message') || {}).textContent || ''")


def type_into(browser, selector, text):
    """Focus the box, select its text, type ``text`` key by key, press Enter's
    change (blur), as a student does."""
    browser.js(f"(function(){{var e = document.querySelector({selector!r}); e.focus(); "
               "e.select(); return true;})()")
    browser.call("Input.insertText", session=True, text=text)
    browser.js(f"document.querySelector({selector!r}).blur()")


def choose(browser, selector, value):
    """Pick ``value`` in the menu ``selector`` (its change event, as a student's pick)."""
    browser.js(f"(function(){{var s = document.querySelector({selector!r}); s.value = "
               f"{value!r}; s.dispatchEvent(new Event('change', {{bubbles: true}})); "
               "return true;})()")


def click_at(browser, selector):
    box = browser.js(f"(function(){{var e = document.querySelector({selector!r}); "
                     "e.scrollIntoView({block: 'center'}); var r = e"
                     ".getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2];})()")
    for kind in ("mousePressed", "mouseReleased"):
        browser.call("Input.dispatchMouseEvent", session=True, type=kind, x=box[0], y=box[1],
                     button="left", clickCount=1)


def check_png(path, width, height):
    """A PNG of ``width`` x ``height`` whose pixels are not all one colour."""
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    w, h = struct.unpack(">II", data[16:24])
    assert (w, h) == (width, height)
    chunks, at = [], 8
    while at < len(data):
        length, kind = struct.unpack(">I4s", data[at:at + 8])
        if kind == b"IDAT":
            chunks.append(data[at + 8:at + 8 + length])
        at += 12 + length
    raw = zlib.decompress(b"".join(chunks))
    stride = len(raw) // h
    rows = [raw[i * stride + 1:(i + 1) * stride] for i in range(0, h, 7)]
    # filtered rows of a blank picture are all zeros after their first pixel
    busy = sum(1 for row in rows if len(set(row[4:])) > 3)
    assert busy > len(rows) // 4, f"{path}: the picture is (nearly) blank"
    return len(set(raw))


def save_copy(path):
    folder = os.environ.get("NEURONSIM_SERVE_SCREENSHOTS")
    if folder:
        shutil.copy(path, os.path.join(folder, os.path.basename(path)))


def trace_delta(spec, tmp_path, layer, neuron):
    """δ_neuron^(layer) as ``neuronsim trace`` prints it for the network file ``spec``."""
    path = tmp_path / "edited.json"
    path.write_text(json.dumps(spec))
    out = subprocess.run([sys.executable, "-m", "neuronsim", "trace", str(path),
                          "--sections", "backward"], capture_output=True, text=True, check=True,
                         timeout=60).stdout
    sub = str(neuron).translate(str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉"))
    sup = f"({layer})".translate(str.maketrans("0123456789()", "⁰¹²³⁴⁵⁶⁷⁸⁹⁽⁾"))
    row = re.search(rf"^{layer}\s+δ{sub}{sup}\s+.*?(\S+)$", out, re.M)
    assert row, out
    return row.group(1)


def test_edit_a_weight_step_and_read_the_delta_that_trace_prints(site, browser, tmp_path):
    browser.open(f"{site}/?network=mazur")
    assert "loaded mazur" in message(browser)
    type_into(browser, 'input[data-field="w:0:0:0"]', "0.3")
    wait_for(browser, "document.querySelector('#panel .message').textContent"
                      ".indexOf('= 0.3 (was 0.15)') >= 0")
    browser.click("step")
    wait_for(browser, "document.querySelector('#panel .message').textContent"
                      ".indexOf('step 1') >= 0")
    shown = browser.js("document.querySelector('td[data-quantity=\"delta\"][data-layer=\"2\"]"
                       "[data-neuron=\"1\"]').textContent")
    spec = json.load(open(example_path("mazur")))
    spec["layers"][0]["weights"][0][0] = 0.3
    assert shown == trace_delta(spec, tmp_path, 2, 1)
    assert shown != trace_delta(json.load(open(example_path("mazur"))), tmp_path, 2, 1)
    # a click on the neuron opens its rows and its derivation
    click_at(browser, 'circle.neuron[data-layer="2"][data-neuron="1"]')
    wait_for(browser, "!!document.querySelector('section.details pre.explain')")
    derivation = browser.js("document.querySelector('section.details pre.explain').textContent")
    assert shown.replace("−", "-")[:8] in derivation.replace("−", "-")
    browser.js("window.scrollTo(0, 0)")
    path = tmp_path / "serve-mazur.png"
    browser.screenshot(path)
    assert check_png(path, WIDTH, HEIGHT) > 50
    save_copy(path)


def test_adam_learns_xor_play_stops_and_a_recurrent_network_shows_time(site, browser, tmp_path):
    browser.open(f"{site}/?network=xor")
    choose(browser, 'select[name="optimizer"]', "adam")
    wait_for(browser, "document.querySelector('#panel .message').textContent"
                      ".indexOf('optimizer: Adam') >= 0")
    type_into(browser, 'input[data-field="lr"]', "0.1")
    wait_for(browser, "document.querySelector('#panel .message').textContent"
                      ".indexOf('η = 0.1') >= 0")
    browser.js("document.querySelector('select[name=\"epochs\"]').value = '100'")
    browser.click("epoch")
    wait_for(browser, "document.querySelector('#panel .message').textContent"
                      ".indexOf('epochs 1 to 100') >= 0")
    browser.click("epoch")
    wait_for(browser, "document.querySelector('#panel .message').textContent"
                      ".indexOf('epochs 101 to 200') >= 0")
    # Adam at η = 0.1 learns XOR in 200 epochs (plain gradient descent stays at 0.5)
    output = float(browser.js("document.querySelector('td[data-quantity=\"a\"]"
                              "[data-layer=\"3\"]').dataset.value"))
    assert output < 0.1   # sample 1 is (0, 0) with target 0
    browser.click("play")
    wait_for(browser, "/step [0-9]+/.test(document.querySelector('#panel .message').textContent)")
    time.sleep(1.0)
    browser.click("stop")
    time.sleep(0.8)   # the Step under way when Stop was clicked comes back
    first = message(browser)
    time.sleep(1.0)
    assert message(browser) == first, "Play went on after Stop"
    assert browser.js("document.getElementById('play').disabled") is False
    assert wait_for(browser, "!!document.querySelector('svg.decision-boundary')")
    assert browser.js("document.querySelectorAll('svg.loss-curve path').length") == 1
    path = tmp_path / "serve-xor.png"
    browser.js("window.scrollTo(0, 0)")
    browser.screenshot(path)
    check_png(path, WIDTH, HEIGHT)
    save_copy(path)
    # a recurrent network: every time step in the neuron table
    choose(browser, "#network", "rnn")
    wait_for(browser, "document.querySelector('#panel .message').textContent"
                      ".indexOf('loaded rnn') >= 0")
    browser.click("backward")
    wait_for(browser, "!!document.querySelector('td[data-quantity=\"delta\"][data-t=\"4\"]')")
    path = tmp_path / "serve-rnn.png"
    browser.screenshot(path)
    check_png(path, WIDTH, HEIGHT)
    save_copy(path)


def test_a_bad_edit_is_a_message_in_the_page(site, browser):
    browser.open(f"{site}/?network=four-layer")
    type_into(browser, 'input[data-field="b:0:0"]', "NaN")
    text = wait_for(browser, "(document.querySelector('#panel .message.error') || {})"
                             ".textContent")
    assert "finite" in text
    browser.click("step")
    wait_for(browser, "document.querySelector('#panel .message').textContent"
                      ".indexOf('step 1') >= 0")


def test_upload_a_network_file_from_the_page(site, browser, tmp_path):
    browser.open(f"{site}/")
    spec = json.load(open(example_path("four-layer")))
    spec["name"] = "<img src=x onerror=alert(1)> four"
    path = tmp_path / "mine.json"
    path.write_text(json.dumps(spec))
    root = browser.call("DOM.getDocument", session=True)["root"]["nodeId"]
    node = browser.call("DOM.querySelector", session=True, nodeId=root,
                        selector="#upload")["nodeId"]
    browser.call("DOM.setFileInputFiles", session=True, nodeId=node, files=[str(path)])
    text = wait_for(browser, "(function(){var m = document.querySelector('#panel .message'); "
                             "return m && m.textContent.indexOf('loaded') >= 0 && "
                             "m.textContent;})()")
    assert text == "loaded <img src=x onerror=alert(1)> four"
    assert browser.js("document.querySelectorAll('#panel img').length") == 0
    path.write_text("{ not json")
    browser.call("DOM.setFileInputFiles", session=True, nodeId=node, files=[str(path)])
    text = wait_for(browser, "(document.querySelector('#panel .message.error') || {})"
                             ".textContent")
    assert "upload: line 1, column 3: not valid JSON" in text
