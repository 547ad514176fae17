"""neuronsim serve: the actions against the reference, bad input, sessions, and the routes.

The first part needs nothing beyond neuronsim (actions, sessions, page
rendering); the second runs the Starlette app on a real uvicorn server in a
thread (the ``neuronsim[serve]`` extra; skipped, saying so, without it) and
talks to it over loopback with the standard library's http.client.
"""

import contextlib
import html
import http.client
import json
import os
import re
import socket
import threading
import time
import urllib.parse

import pytest

from neuronsim.core.errors import NeuronsimError
from neuronsim.files import load_example
from neuronsim.files.bundled import example_path
from neuronsim.files.spec import load_network
from neuronsim.serve import actions, downloads, page
from neuronsim.serve.sessions import Limits, SessionStore, StoreFull
from neuronsim.trace.recurrent import SequenceRecord
from neuronsim.trace.tracer import Tracer
from neuronsim.core.summation import sum_in_order


def new_session(name="mazur", limits=None):
    limits = limits or Limits()
    store = SessionStore(limits)
    session = store.new()
    if name:
        actions.load_bundled(session, name, limits)
    return session, limits


def parameters(net):
    return [(list(n.weights), list(getattr(n, "recurrent_weights", None) or ()),
             getattr(n, "bias", None)) for layer in net.layers for n in layer.neurons]


def reference(name):
    net = load_example(name)
    return net, net.sample_pairs(net.samples)


# ------------------------------------------------------------------ actions
@pytest.mark.parametrize("name", ["mazur", "xor", "four-layer", "rnn"])
def test_a_step_is_the_reference_step(name):
    session, _ = new_session(name)
    actions.step(session)
    net, pairs = reference(name)
    net.step(*pairs[0], net.learning_rate)
    assert parameters(session.net) == parameters(net)
    # the loss curve: the loss over every sample before and after, from loss_of
    expected = [net.loss_of(x, t) for x, t in pairs]
    assert session.losses[-1] == (1, sum_in_order(expected) / len(expected))


def test_forward_backward_update_are_the_step_in_three_presses():
    one, _ = new_session("four-layer")
    three, _ = new_session("four-layer")
    actions.step(one)
    actions.forward(three)
    assert three.phase == "forward" and three.record.loss is None
    actions.backward(three)
    net, pairs = reference("four-layer")
    tracer = Tracer().attach(net)
    net.forward_pass(pairs[0][0])
    net.back_prop(pairs[0][1])
    tracer.flush()
    ours = [(r.z, r.output, r.delta) for r in three.record.neurons()]
    assert ours == [(r.z, r.output, r.delta) for r in tracer.steps[0].neurons()]
    assert parameters(three.net) == parameters(load_example("four-layer"))   # nothing moved
    actions.update(three)
    assert parameters(three.net) == parameters(one.net)
    assert three.updates == one.updates == 1


def test_update_needs_a_backward_pass_first():
    session, limits = new_session("mazur")
    before = parameters(session.net)
    actions.act(session, "update", {}, limits)
    assert session.message[0] == "error" and "Backward first" in session.message[1]
    assert parameters(session.net) == before


def test_an_epoch_is_one_pass_of_train_in_file_order():
    session, _ = new_session("xor")
    actions.epoch(session)
    net, _ = reference("xor")
    net.train(epochs=1, learning_rate=net.learning_rate, batch_size=1, shuffle=False)
    assert parameters(session.net) == parameters(net)
    assert session.updates == 4 and session.epochs == 1 and session.phase == "forward"


def test_ten_epochs_in_one_press_and_counts_that_are_refused():
    session, limits = new_session("xor")
    actions.act(session, "epoch", {"count": "10"}, limits)
    net, pairs = reference("xor")
    net.train(epochs=10, learning_rate=net.learning_rate, batch_size=1, shuffle=False)
    assert parameters(session.net) == parameters(net)
    assert session.epochs == 10 and session.updates == 40
    assert session.losses[-1] == (40, sum_in_order(net.loss_of(x, t) for x, t in pairs) / 4)
    for count in ("1000", "-1", "ten", None):
        actions.act(session, "epoch", {"count": count}, limits)
        assert session.message[0] == "error" and session.epochs == 10
    small = Limits(work=10_000)
    actions.act(session, "epoch", {"count": "100"}, small)
    assert "press Epoch with fewer epochs" in session.message[1] and session.epochs == 10


def test_a_sequence_shows_the_tables_of_the_chosen_time_step():
    session, limits = new_session("rnn")
    actions.backward(session)
    assert "t = 4" in page.tables_html(session)
    actions.act(session, "time", {"t": "2"}, limits)
    text = page.tables_html(session)
    assert '<option value="2" selected>' in text
    for t in ("0", "5", "x", None):
        actions.act(session, "time", {"t": t}, limits)
        assert session.message[0] == "error" and session.time_step == 2
    mazur, _ = new_session("mazur", limits)
    actions.act(mazur, "time", {"t": "1"}, limits)
    assert "reads no sequences" in mazur.message[1]


@pytest.mark.parametrize("key", sorted(actions.OPTIMIZERS))
def test_every_optimizer_steps_as_the_reference(key):
    session, limits = new_session("four-layer")
    actions.act(session, "optimizer", {"optimizer": key}, limits)
    assert session.message[0] == "info"
    for _ in range(3):
        actions.act(session, "step", {}, limits)
    net, pairs = reference("four-layer")
    choice = actions.OPTIMIZERS[key]
    if choice is not None:
        net.set_optimizer(choice[0], **choice[1])
    for _ in range(3):
        net.step(*pairs[0], net.learning_rate)
    assert parameters(session.net) == parameters(net)
    text = page.panel_html(session, limits)
    if choice is not None:   # the trace tables write the optimizer's own lines
        assert "state" in text or "m" in text


def test_recurrent_networks_show_their_time_steps():
    session, limits = new_session("rnn")
    actions.backward(session)
    assert isinstance(session.record, SequenceRecord)
    text = page.panel_html(session, limits)
    steps = len(session.net.samples[0]["input"])
    cells = re.findall(r'data-quantity="delta" data-layer="2" data-neuron="1" data-t="(\d+)"',
                       text)
    assert [int(t) for t in cells] == list(range(1, steps + 1))
    assert "Every neuron, every time step" in text


GATED = {"format": "neuronsim-network", "version": 1, "name": "tiny lstm", "inputs": 1,
         "layers": [{"type": "lstm", "size": 2, "init": "uniform", "seed": 3},
                    {"type": "dense", "activation": "sigmoid", "size": 1, "seed": 4}],
         "loss": "binary_cross_entropy", "learning_rate": 0.1,
         "samples": [{"input": [[0], [1], [1]], "target": [[0], [1], [0]]}]}


def test_a_network_the_tracer_refuses_still_steps_and_says_so():
    session, limits = new_session(None)
    actions.act(session, "forward", {}, limits)
    assert "pick a network first" in session.message[1]
    actions.load_upload(session, json.dumps(GATED).encode(), limits)
    text = page.panel_html(session, limits)
    if session.refusal is None:   # LSTM tracing has arrived: then it is traced like the rest
        assert session.record is not None
        return
    assert "The tracer and the diagram refuse this network" in text
    assert html.escape(session.refusal) in text
    actions.act(session, "step", {}, limits)
    net = load_network(GATED)
    x, t = net.sample_pairs(net.samples)[0]
    net.step(x, t, net.learning_rate)
    assert parameters(session.net) == parameters(net)
    assert len(session.losses) == 2


# ------------------------------------------------------------------ bad input
@pytest.mark.parametrize("text, says", [
    ("abc", "abc"), ("nan", "finite"), ("inf", "finite"), ("-Infinity", "finite"),
    ("1e999", "largest float64"), ("", ""), ("9" * 5000, "5,000 characters"),
    ("0x10", "0x10")])
def test_an_edit_that_is_not_a_finite_number_changes_nothing(text, says):
    session, limits = new_session("mazur")
    before = parameters(session.net)
    actions.act(session, "edit", {"field": "w:0:0:0", "value": text}, limits)
    assert session.message[0] == "error"
    assert says in session.message[1]
    assert parameters(session.net) == before


@pytest.mark.parametrize("field", ["w:0:0:9", "w:5:0:0", "w:0:0", "q:0:0:0", "b:0:-1",
                                   "w:0:0:00000000001", "u:0:0:0", "x:7", "t:0:0", "lr:1",
                                   None, "w" * 100])
def test_an_edit_of_an_unknown_field_changes_nothing(field):
    session, limits = new_session("mazur")
    before = parameters(session.net)
    actions.act(session, "edit", {"field": field, "value": "1"}, limits)
    assert session.message[0] == "error"
    assert parameters(session.net) == before


def test_edits_of_every_kind_of_number():
    session, limits = new_session("mazur")
    for field, value in [("w:1:0:1", "0.25"), ("b:0:1", "-1/2"), ("x:1", "0.5"),
                         ("t:0", "1e-3"), ("lr", "0.125")]:
        actions.act(session, "edit", {"field": field, "value": value}, limits)
        assert session.message[0] == "info", session.message
    net = session.net
    assert net.layers[1].neurons[0].weights[1] == 0.25
    assert net.layers[0].neurons[1].bias == -0.5
    assert net.samples[0]["input"][1] == 0.5 and net.samples[0]["target"][0] == 1e-3
    assert net.learning_rate == 0.125
    actions.act(session, "edit", {"field": "lr", "value": "0"}, limits)
    assert session.message[0] == "error" and net.learning_rate == 0.125
    rnn, _ = new_session("rnn", limits)
    actions.act(rnn, "edit", {"field": "u:0:1:2", "value": "0.5"}, limits)
    actions.act(rnn, "edit", {"field": "x:2:0", "value": "1"}, limits)
    assert rnn.net.layers[0].neurons[1].recurrent_weights[2] == 0.5
    assert rnn.net.samples[0]["input"][2][0] == 1


def test_an_edited_weight_gives_the_deltas_of_the_edited_file():
    session, limits = new_session("mazur")
    actions.act(session, "edit", {"field": "w:0:0:0", "value": "0.3"}, limits)
    actions.act(session, "step", {}, limits)
    spec = json.load(open(example_path("mazur")))
    spec["layers"][0]["weights"][0][0] = 0.3
    net = load_network(spec)
    tracer = Tracer().attach(net)
    net.step(*net.sample_pairs(net.samples)[0], net.learning_rate)
    expected = [r.delta for r in tracer.steps[0].neurons()]
    assert [r.delta for r in session.record.neurons()] == expected
    text = page.panel_html(session, limits)
    for r in tracer.steps[0].neurons():
        assert (f'data-quantity="delta" data-layer="{r.layer + 2}" data-neuron="{r.neuron + 1}" '
                f'data-value="{r.delta!r}"') in text


BAD_UPLOADS = [
    (b"", "empty"),
    (b"{", "not valid JSON"),
    (b"[1, 2]", "JSON object"),
    (b'{"inputs": 2, "inputs": 3}', "appears twice"),
    (b'{"inputs": NaN}', "NaN is not allowed"),
    (b"\xff\xfe\x00", "not UTF-8"),
    (b"[" * 100_000, "nested too deeply"),
    (json.dumps({"inputs": 2, "layers": [{"size": 3000}, {"size": 3000}], "loss": "half_sse",
                 "samples": []}).encode(), "over the limit"),
    (json.dumps({"inputs": 2, "layers": [{"size": 2, "activation": "nope"}],
                 "loss": "half_sse"}).encode(), "nope"),
]


@pytest.mark.parametrize("body, says", BAD_UPLOADS)
def test_a_bad_upload_keeps_the_network_and_says_why(body, says):
    session, limits = new_session("mazur")
    before = parameters(session.net)
    limits.body_bytes = 200_000
    with pytest.raises(NeuronsimError, match=re.escape(says)):
        actions.load_upload(session, body, limits)
    assert parameters(session.net) == before and session.name == "mazur"


def test_a_file_over_the_body_limit_is_refused():
    session, limits = new_session("mazur", Limits(body_bytes=100))
    with pytest.raises(NeuronsimError, match="at most 100"):
        actions.load_upload(session, b" " * 101, limits)


def test_user_text_is_escaped_in_the_page():
    session, limits = new_session(None)
    spec = json.load(open(example_path("xor")))
    spec["name"] = "<script>alert('x')</script>&"
    actions.load_upload(session, json.dumps(spec).encode(), limits)
    actions.act(session, "edit", {"field": "w:0:0:0", "value": "<img src=x onerror=alert(1)>"},
                limits)
    text = page.panel_html(session, limits) + page.page_html(session, limits, ["xor"])
    assert "<script>alert" not in text and "<img src=x" not in text
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;&amp;" in text
    assert "&lt;img src=x onerror=alert(1)&gt;" in text


def test_a_file_without_samples_or_rate_gets_them_and_says_so():
    session, limits = new_session(None)
    spec = {"inputs": 2, "layers": [{"size": 1, "activation": "sigmoid", "seed": 1}],
            "loss": "half_sse"}
    actions.load_upload(session, json.dumps(spec).encode(), limits)
    assert "one sample of zeros" in session.message[1] and "no learning rate" in session.message[1]
    actions.step(session)
    assert session.updates == 1


def test_the_history_and_the_selection_are_bounded():
    session, limits = new_session("mazur", Limits(history=5))
    for _ in range(12):
        actions.step(session)
    assert len(session.losses) == 5 and session.losses[-1][0] == 12
    for params in ({"kind": "neuron", "layer": "9", "neuron": "0"},
                   {"kind": "weight", "layer": "0", "neuron": "0", "index": "2"},
                   {"kind": "file", "layer": "0", "neuron": "0"}):
        actions.act(session, "select", params, limits)
        assert session.message[0] == "error" and session.selected is None


def test_a_diverging_network_says_so_and_the_page_still_renders():
    session, limits = new_session(None)
    spec = {"inputs": 1, "layers": [{"size": 1, "activation": "linear", "weights": [[2.0]],
                                     "biases": [1.0]}], "loss": "half_sse",
            "learning_rate": 1e300, "samples": [{"input": [3.0], "target": [0.0]}]}
    actions.load_upload(session, json.dumps(spec).encode(), limits)
    for _ in range(3):
        actions.act(session, "step", {}, limits)
        page.panel_html(session, limits)
    assert session.message[0] == "error"
    with pytest.raises(NeuronsimError, match="finite numbers only"):
        downloads.network_file(session)


# ------------------------------------------------------------------ clicks, downloads
def test_clicking_a_neuron_or_weight_opens_its_rows_and_derivation():
    session, limits = new_session("mazur")
    actions.backward(session)
    actions.act(session, "select", {"kind": "neuron", "layer": "0", "neuron": "1"}, limits)
    text = page.panel_html(session, limits)
    details = text[text.index('<section class="details">'):]
    assert "&delta;<sub>2</sub><sup>(2)</sup>" in details
    assert "Its rows of this step" in details and 'class="explain"' in details
    delta = repr(session.record.layers[0][1].delta)[:10]
    assert delta in details.replace("−", "-")
    actions.act(session, "select", {"kind": "weight", "layer": "1", "neuron": "0",
                                    "index": "1"}, limits)
    text = page.panel_html(session, limits)
    assert 'data-field="w:1:0:1"' in text[text.index('<section class="details">'):]
    rnn, _ = new_session("rnn", limits)
    actions.backward(rnn)
    actions.act(rnn, "select", {"kind": "neuron", "layer": "0", "neuron": "0"}, limits)
    assert "(the last time step)" in page.panel_html(rnn, limits)


def test_downloads_are_made_from_the_session():
    session, limits = new_session("four-layer")
    actions.act(session, "edit", {"field": "w:0:0:0", "value": "0.125"}, limits)
    actions.step(session)
    text, name, media = downloads.network_file(session)
    assert name == "network.json" and media == "application/json"
    assert parameters(load_network(json.loads(text))) == parameters(session.net)
    for fmt, start in (("plain", "Textbook numbering"), ("markdown", "Textbook"),
                       ("latex", "\\documentclass"), ("html", "<!DOCTYPE html>")):
        text, name, _ = downloads.trace_file(session, fmt)
        assert text.startswith(start) and name.startswith("trace.")
    with pytest.raises(NeuronsimError, match="unknown format"):
        downloads.trace_file(session, "../../etc/passwd")
    text, name, _ = downloads.walkthrough_file(session)
    assert name == "walkthrough.html" and "<svg" in text and "Next" in text
    rnn, _ = new_session("rnn", limits)
    text, _, _ = downloads.walkthrough_file(rnn)
    assert "time step" in text or "t = " in text


# ------------------------------------------------------------------ sessions
def test_sessions_are_random_bounded_and_expire():
    now = [0.0]
    store = SessionStore(Limits(max_sessions=3, idle_seconds=60), clock=lambda: now[0])
    ids = [store.new().id for _ in range(3)]
    assert len(set(ids)) == 3 and all(len(i) >= 22 for i in ids)
    with pytest.raises(StoreFull):
        store.new()
    assert store.get("x" * 22) is None and store.get(None) is None
    now[0] = 30.0
    assert store.get(ids[0]) is not None   # touched at 30 s
    now[0] = 80.0
    assert store.get(ids[1]) is None and store.get(ids[0]) is not None
    assert len(store) == 1
    store.new()
    store.new()
    assert len(store) == 3


# ------------------------------------------------------------------ the server
def need_extra():
    """Skip (saying so) without the serve extra; CI installs it."""
    for name in ("starlette", "uvicorn"):
        pytest.importorskip(name, reason='the serve extra: pip install "neuronsim[serve]"')


@contextlib.contextmanager
def running_server(limits=None, **options):
    """The app on a real uvicorn server in a thread, on a free loopback port."""
    need_extra()
    import uvicorn

    from neuronsim.serve.app import create_app

    app = create_app(limits or Limits(), **options)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="critical", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.02)
    try:
        yield Client(port), app
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


class Client:
    """http.client on loopback: one connection per request."""

    def __init__(self, port):
        self.port = port

    def request(self, method, path, body=None, headers=None):
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=20)
        try:
            connection.request(method, path, body=body, headers=headers or {})
            response = connection.getresponse()
            return response.status, dict(response.getheaders()), response.read().decode(
                "utf-8", "replace")
        finally:
            connection.close()

    def get(self, path):
        return self.request("GET", path)

    def act(self, sid, action, **fields):
        body = urllib.parse.urlencode({"action": action, **fields})
        return self.request("POST", f"/s/{sid}/act", body,
                            {"Content-Type": "application/x-www-form-urlencoded"})

    def new(self, network="mazur"):
        status, _, text = self.get(f"/?network={network}" if network else "/")
        assert status == 200, text
        return re.search(r'data-session="([^"]+)"', text).group(1), text


def message(text):
    found = re.search(r'class="message (info|error)"[^>]*>(.*?)</div>', text, re.S)
    return found and (found.group(1), html.unescape(re.sub("<[^>]+>", "", found.group(2))))


@pytest.fixture(scope="module")
def server():
    with running_server(Limits(max_sessions=50, body_bytes=300_000)) as (client, app):
        yield client


def test_each_tab_has_its_own_session(server):
    a, page_a = server.new("mazur")
    b, _ = server.new("mazur")
    assert a != b
    assert "<script src=\"/app.js\"></script>" in page_a
    server.act(a, "edit", field="w:0:0:0", value="0.5")
    _, _, text_b = server.act(b, "forward")
    assert 'data-field="w:0:0:0" size="20" value="0.15"' in text_b
    _, _, text_a = server.act(a, "forward")
    assert 'data-field="w:0:0:0" size="20" value="0.5"' in text_a


def test_the_page_carries_its_rules_and_script(server):
    status, headers, _ = server.get("/")
    assert status == 200
    assert "script-src 'self'" in headers["content-security-policy"]
    assert headers["x-content-type-options"] == "nosniff"
    status, headers, script = server.get("/app.js")
    assert status == 200 and "text/javascript" in headers["content-type"]
    assert "fetch(" in script
    status, _, css = server.get("/app.css")
    assert status == 200 and "body" in css


def test_an_unknown_or_expired_session_gets_a_clear_page(server):
    for sid in ("nope", "x" * 22, "%2e%2e", "..%2f..%2fetc"):
        status, _, text = server.act(sid, "step")
        assert status in (404, 410)
        assert "session has ended" in text or "no such page" in text


@pytest.mark.parametrize("path", [
    "/s/x/download/../../../etc/passwd", "/../../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd",
    "/static/app.py", "/neuronsim/serve/app.py", "/s/x/download/network/../../setup.cfg"])
def test_no_address_reads_a_server_file(server, path):
    status, _, text = server.get(path)
    assert status in (404, 410)
    assert "root:" not in text and "import" not in text


def test_a_network_name_in_the_address_is_only_a_bundled_name(server):
    for name in ("../../../etc/passwd", "/etc/passwd", "setup.cfg", "<b>x</b>"):
        status, _, text = server.get("/?network=" + urllib.parse.quote(name))
        assert status == 200
        kind, said = message(text)
        assert kind == "error" and said.startswith("unknown example")
        assert "root:" not in text and "<b>x</b>" not in text


def test_no_route_takes_a_file_name():
    need_extra()
    from neuronsim.serve.app import create_app

    paths = sorted(route.path for route in create_app().routes)
    assert paths == ["/", "/app.css", "/app.js", "/s/{sid}/act", "/s/{sid}/download/{what}",
                     "/s/{sid}/upload"]


def test_malformed_requests_get_a_message_and_the_server_goes_on(server):
    sid, _ = server.new("xor")
    cases = [
        (b"action=edit&field=w:0:0:0&value=%ff%fe", 200, "w₁₁"),
        (b"\xff\xfe\xfd", 400, "a request the page would not send"),
        (b"&".join(b"f%d=1" % i for i in range(50)), 400, "at most 20 fields"),
        (b"action=" + b"x" * 1000, 200, "unknown action"),
        (b'{"action": "step"}', 200, "unknown action"),
        (b"", 200, "unknown action"),
    ]
    for body, status, says in cases:
        got, _, text = server.request("POST", f"/s/{sid}/act", body)
        assert got == status, (body, text[:300])
        assert says in message(text)[1], (body, message(text))
    got, _, text = server.request("POST", f"/s/{sid}/act", b"action=step",
                                  {"Content-Length": "999999999"})
    assert got == 413 or got == 400
    got, _, text = server.act(sid, "step")
    assert got == 200 and message(text)[0] == "info"


def test_a_stalled_upload_does_not_hold_up_the_others(server):
    stalled_sid, _ = server.new("mazur")
    other, _ = server.new("xor")
    stalled = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    try:
        stalled.sendall(f"POST /s/{stalled_sid}/upload HTTP/1.1\r\nHost: x\r\n"
                        "Content-Length: 200000\r\n\r\n{".encode())
        start = time.monotonic()
        status, _, text = server.act(other, "step")
        assert status == 200 and message(text)[0] == "info"
        assert time.monotonic() - start < 5
    finally:
        stalled.close()
    status, _, text = server.act(stalled_sid, "forward")
    assert status == 200 and message(text)[0] == "info"


def test_a_huge_upload_is_refused_without_reading_it(server):
    sid, _ = server.new("mazur")
    status, _, text = server.request("POST", f"/s/{sid}/upload", b"{" + b" " * 400_000 + b"}")
    assert status == 413
    assert "larger than 300,000 bytes" in message(text)[1]
    status, _, text = server.request("POST", f"/s/{sid}/upload", b"{not json")
    assert status == 200 and "not valid JSON" in message(text)[1]
    spec = json.load(open(example_path("xor")))
    spec["name"] = "<b>my</b> xor"
    status, _, text = server.request("POST", f"/s/{sid}/upload", json.dumps(spec).encode())
    assert "loaded <b>my</b> xor" == message(text)[1]
    assert "&lt;b&gt;my&lt;/b&gt; xor" in text


def test_downloads_over_http(server):
    sid, _ = server.new("mazur")
    server.act(sid, "step")
    status, headers, text = server.get(f"/s/{sid}/download/network")
    assert status == 200 and headers["content-disposition"] == 'attachment; filename="network.json"'
    assert json.loads(text)["name"] == "mazur"
    status, headers, text = server.get(f"/s/{sid}/download/trace?format=markdown")
    assert status == 200 and text.startswith("Textbook numbering")
    status, _, text = server.get(f"/s/{sid}/download/trace?format=exe")
    assert status == 400 and "unknown format" in text
    status, _, text = server.get(f"/s/{sid}/download/walkthrough")
    assert status == 200 and "<!DOCTYPE html>" in text
    status, _, text = server.get(f"/s/{sid}/download/passwd")
    assert status == 400 and "unknown download" in text


def test_a_full_classroom_gets_a_clear_page():
    with running_server(Limits(max_sessions=2)) as (client, app):
        client.new(None)
        client.new(None)
        status, _, text = client.get("/")
        assert status == 503 and "The classroom is full" in text and "--max-sessions" in text


def test_an_unexpected_error_is_a_page_not_a_crash(monkeypatch):
    with running_server() as (client, app):
        sid, _ = client.new("mazur")

        def broken(*args):
            raise RuntimeError("a bug")

        monkeypatch.setattr(actions, "act", broken)   # processes=0: the same process
        status, _, text = client.act(sid, "step")
        assert status == 500 and "Something went wrong" in text and "a bug" not in text
        monkeypatch.undo()
        status, _, text = client.act(sid, "step")
        assert status == 200 and message(text)[0] == "info"


def test_a_network_named_on_the_command_line_starts_every_tab():
    spec = json.load(open(example_path("four-layer")))
    with running_server(default_spec=spec, default_name="four <layer>") as (client, app):
        sid, text = client.new(None)
        assert "loaded four &lt;layer&gt;" in text
        _, _, text = client.act(sid, "step")
        assert message(text)[0] == "info"


def test_sessions_in_a_worker_process_and_the_process_ends_with_the_server():
    with running_server(processes=1) as (client, app):
        sid, text = client.new("xor")
        assert "loaded xor" in text
        _, _, text = client.act(sid, "step")
        assert message(text) == ("info", "step 1 on sample 1: forward, backward, update")
        status, _, text = client.get(f"/s/{sid}/download/network")
        assert status == 200 and json.loads(text)["name"] == "xor"
        pids = list(app.state.workers.executors[0]._processes)
        assert pids and all(pid != os.getpid() for pid in pids)
        os.kill(pids[0], 9)   # a worker that dies: its sessions end, a new one starts
        status, _, text = client.act(sid, "step")
        assert status == 410 and "session has ended" in text
        sid, text = client.new("mazur")
        _, _, text = client.act(sid, "step")
        assert message(text)[0] == "info"
        pids += list(app.state.workers.executors[0]._processes)
    deadline = time.monotonic() + 20
    while any(os.path.exists(f"/proc/{pid}") and "zombie" not in open(
            f"/proc/{pid}/status").read() for pid in pids):
        assert time.monotonic() < deadline, "the worker process outlived the server"
        time.sleep(0.1)


def test_the_directory_counts_routes_and_forgets():
    from neuronsim.serve.workers import Directory, Gone

    now = [0.0]
    directory = Directory(Limits(max_sessions=4, idle_seconds=10), 2, clock=lambda: now[0])
    made = [directory.new() for _ in range(4)]
    assert sorted(index for _, index in made) == [0, 0, 1, 1]
    with pytest.raises(StoreFull):
        directory.new()
    assert directory.find(made[0][0]) == made[0][1]
    for sid in ("nope", None, 3):
        with pytest.raises(Gone):
            directory.find(sid)
    now[0] = 11.0
    with pytest.raises(Gone):
        directory.find(made[1][0])
    assert len(directory) == 0


def test_a_page_only_opened_gives_its_place_when_the_classroom_is_full():
    """A reloaded tab (or a link checker) leaves a session nobody uses: once it
    has been unused for Limits.unused_seconds it gives its place to a new page;
    a session that was used keeps its place until it is idle."""
    from neuronsim.serve.workers import Directory, Gone

    now = [0.0]
    limits = Limits(max_sessions=2, idle_seconds=600, unused_seconds=60)
    directory = Directory(limits, 1, clock=lambda: now[0])
    used, opened = directory.new(), directory.new()
    directory.find(used[0])
    now[0] = 30.0
    with pytest.raises(StoreFull):          # the opened page is too new to give way
        directory.new()
    now[0] = 61.0
    newest = directory.new()
    assert directory.take_forgotten() == [opened] and directory.take_forgotten() == []
    with pytest.raises(Gone) as gone:
        directory.find(opened[0])
    assert gone.value.notice[0] == "This page gave its place to a new one"
    assert "had not been used in the 1 minute since it was opened" in gone.value.notice[1]
    with pytest.raises(Gone) as gone:
        directory.find("never given out")
    assert gone.value.notice[0] == "This session has ended"
    assert directory.find(used[0]) == 0 and directory.find(newest[0]) == 0
    now[0] = 200.0
    with pytest.raises(StoreFull):          # both are used now
        directory.new()
    directory.forget_worker(0)              # the worker died: its places are free
    assert len(directory) == 0 and directory.new()


def test_the_worker_drops_a_forgotten_session():
    from neuronsim.serve import workers

    workers._start_worker(Limits(), None, None)
    workers.in_worker_new("abc", "mazur")
    assert workers._session("abc").net is not None
    workers.in_worker_forget("abc")
    with pytest.raises(workers.Gone):
        workers._session("abc")
    workers.in_worker_forget("abc")          # twice is harmless


# ------------------------------------------------------------------ the command
def test_the_command_checks_its_options(capsys):
    need_extra()
    from neuronsim.cli.main import main

    assert main(["serve", "--port", "70000"]) == 2
    assert "--port: expected 1 to 65535" in capsys.readouterr().err
    assert main(["serve", "--max-sessions", "0"]) == 2
    assert main(["serve", "no-such-network.json"]) == 2
    assert "not the name of a bundled example" in capsys.readouterr().err


def test_the_command_names_the_extra_when_it_is_missing(monkeypatch, capsys):
    import builtins

    from neuronsim.cli.main import main

    real_import = builtins.__import__

    def without_starlette(name, *args, **kwargs):
        if name == "starlette":
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", without_starlette)
    assert main(["serve"]) == 2
    assert 'pip install "neuronsim[serve]"' in capsys.readouterr().err


def test_the_addresses_to_share():
    from neuronsim.cli.serve import addresses_to_share

    assert addresses_to_share("192.0.2.7", 8000) == ["http://192.0.2.7:8000/"]
    assert addresses_to_share("::1", 80) == ["http://[::1]:80/"]
    shared = addresses_to_share("0.0.0.0", 8000)
    assert shared and all(a.startswith("http://") and a.endswith(":8000/") for a in shared)


def test_clicking_an_lstm_unit_or_edge_explains_dE_dh_and_each_gate_weight():
    """A gated unit stands for its gates: its click explains dE/dh[T]; an edge into
    it stands for one weight per gate, each with its edit box and derivation."""
    from neuronsim.hand.explain import explain, render_explanation

    session, limits = new_session(None)
    actions.load_upload(session, json.dumps(GATED).encode(), limits)
    actions.backward(session)
    net = load_network(GATED)
    x, t = net.sample_pairs(net.samples)[0]

    def shown(label):
        return html.escape(render_explanation(explain(net, label, x, t), "plain", page.DIGITS))

    actions.act(session, "select", {"kind": "neuron", "layer": "0", "neuron": "1"}, limits)
    details = page.details_html(session)
    assert "∂E/∂h<sub>2</sub><sup>(2)</sup>[3]" in details
    assert shown("h_2^(2)[3]") in details
    actions.act(session, "select", {"kind": "weight", "layer": "0", "neuron": "1",
                                    "index": "0"}, limits)
    details = page.details_html(session)
    for q, gate in enumerate(("input", "forget", "cell", "output")):
        row = q * 2 + 1
        assert f'data-field="w:0:{row}:0"' in details
        assert f"{gate} gate: w<sub>{'ifgo'[q]},21</sub><sup>(2)</sup>" in details
        assert shown(f"layers[0].neurons[{row}].weights[0]") in details
    assert 'class="message error"' not in details
    assert 'closest("circle.neuron, rect.neuron")' in page.SCRIPT


def test_an_epoch_that_diverges_changes_nothing_and_says_where():
    """An Epoch stopped by a NaN part-way leaves the session's network, counts and curve
    as they were (the epoch ran on a copy), with the reason in the message."""
    session, limits = new_session("xor")
    before, curve = parameters(session.net), list(session.losses)
    session.net.learning_rate = 1e308
    actions.act(session, "epoch", {"count": "1"}, limits)
    assert session.message[0] == "error" and "samples[" in session.message[1]
    assert parameters(session.net) == before
    assert session.updates == 0 and session.epochs == 0 and list(session.losses) == curve


def test_the_loss_curve_says_when_the_loss_stopped_being_a_number():
    from neuronsim.serve.charts import loss_svg

    svg = loss_svg([(0, 2.0), (1, 1.0), (2, float("nan")), (3, float("inf"))])
    assert "not a number from update 2 on: diverged" in svg
    assert "after 1 updates; not a number from update 2 on" in svg
    assert "diverged" not in loss_svg([(0, 2.0), (1, 1.0)])
    assert "diverged" in loss_svg([(0, float("nan"))])


@pytest.mark.parametrize("name", actions.bundled_names())
def test_every_bundled_example_has_a_page(name):
    """Each bundled network loads into a page, its sample editor included (a
    many-to-one target, one vector for the last step, crashed it)."""
    session, limits = new_session(name)
    text = page.page_html(session, limits, actions.bundled_names())
    assert "input of sample 1" in text and "target of sample 1" in text
    assert session.message is None or session.message[0] == "info"


def test_a_many_to_one_target_is_edited_at_its_last_step():
    session, limits = new_session("long-range-elman")
    sample = session.net.samples[0]
    steps = len(sample["input"])
    assert actions.is_last_step_target(sample["target"])
    text = page.editor_html(session, limits)
    assert f'data-field="t:{steps - 1}:0"' in text and "at the last step only" in text
    old = sample["target"][0]
    actions.act(session, "edit", {"field": f"t:{steps - 1}:0", "value": "0.25"}, limits)
    assert session.message[0] == "info" and session.net.samples[0]["target"][0] == 0.25
    assert f"t1[{steps}] of sample 1 = 0.25 (was {old!r})" in session.message[1]
    actions.act(session, "edit", {"field": "t:0:0", "value": "1"}, limits)
    assert session.message == ("error", f"sample 1 has a target at its last step ({steps}) "
                                        "only")


def test_a_dead_worker_is_restarted_once_and_frees_only_its_places():
    """Every request that saw the worker die asks for a restart with the executor
    it used: the first restarts it (and frees that worker's places), the others
    find a live worker there and leave it (and the sessions made on it) alone."""
    from neuronsim.serve.workers import Workers

    workers = Workers(Limits(max_sessions=10), 0)
    workers.setup = (Limits(), None, None, os.getpid())
    broken = workers.executors[0]
    before = [workers.directory.new() for _ in range(3)]
    try:
        assert workers.restart(0, broken) is True
        assert len(workers.directory) == 0 and workers.executors[0] is not broken
        fresh = workers.executors[0]
        after = workers.directory.new()
        assert workers.restart(0, broken) is False          # a second request, same death
        assert workers.executors[0] is fresh and workers.directory.find(after[0]) == 0
        assert all(sid not in workers.directory._where for sid, _ in before)
    finally:
        workers.shutdown()
