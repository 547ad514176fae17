"""``net.widget()``: a stepper and editor of one network inside a Jupyter notebook.

Controls (ipywidgets; ``pip install "neuronsim[notebook]"``):

- a sample of the network file, or an input x and a target t typed in
  (numbers separated by commas, fractions such as 1/2 allowed; a network
  that reads sequences takes JSON lists, one entry per time step, with
  ``null`` for a step without a target);
- any parameter (every w, b, recurrent u, gate weight and bias, by its
  textbook label) set to a typed value;
- the learning rate η and the optimizer (plain gradient descent or one of
  torch.optim's, with their default options);
- the buttons Forward (``net.forward_pass(x)``), Backward (``net.back_prop(t)``),
  Update (``net.update_weights(η)``), Step (the three) and Epoch (one pass of
  ``net.train`` over the file's samples, in file order, online);
- Play (an ipywidgets ``Play``: its ▶ and ■ start and stop it): one Step per
  tick, on the file's samples in turn (the sample box moves on), or on the
  typed x and t again and again; at most ``PLAY_STEPS`` steps per press.

After every action the widget shows the diagram (:mod:`neuronsim.render.draw`,
with the values of the quantity chosen), a status line (the loss, or why an
action could not run), the loss curve (the loss over the file's samples after
each update, computed on a copy so that the diagram keeps the step's values)
and the trace tables of the step under way in HTML
(:mod:`neuronsim.render.tables`; per time step for a network that reads
sequences, gate by gate for LSTM and GRU layers).
Every number shown is the network's own, computed by the per-neuron
reference: the widget only calls the network's methods and renders their
records.

Textbook numbering in labels (the inputs are layer 1, neurons count from 1);
``net.layers[l]`` is textbook layer l + 2.
"""

import json
import math
from html import escape

from ..core import labels as lab
from ..core.errors import NeuronsimError
from ..core.gates import GatedLayer
from ..core.optimizers import OPTIMIZERS
from ..files.number_text import is_fraction_text, read_float, read_number
from ..render import draw
from ..render.numfmt import format_number

INSTALL_NOTEBOOK = 'pip install "neuronsim[notebook]"'
PLAIN = "gradient descent"      # the optimizer choice that means none
ACTIONS = ("Forward", "Backward", "Update", "Step", "Epoch")
# Steps one press of Play may run, and the milliseconds between them.
PLAY_STEPS, PLAY_INTERVAL = 500, 300
# Points kept on the loss curve (the latest ones).
MAX_CURVE_POINTS = 2000


def require_ipywidgets():
    """The ipywidgets module, or a NeuronsimError saying how to install it."""
    try:
        import ipywidgets
    except ImportError:
        raise NeuronsimError(f"net.widget() needs ipywidgets: {INSTALL_NOTEBOOK}") from None
    return ipywidgets


# ------------------------------------------------------------------ typed text
def typed_number(text, net, where):
    """A number typed by a user, in the network's numbers: decimals as a file
    reads them, "1/2" exact (bounded and finite: neuronsim.files.number_text)."""
    text = text.strip()
    value = read_number(text, where) if is_fraction_text(text) else read_float(text, where)
    try:
        return net.numbers.convert(value)
    except (ValueError, ZeroDivisionError, OverflowError, TypeError):
        raise NeuronsimError(f"{where}: expected a number or a fraction such as 1/2, "
                             f"got {text!r}") from None


def typed_vector(text, net, where, length):
    """``length`` numbers separated by commas (or spaces)."""
    parts = [p for p in text.replace(",", " ").split() if p]
    if len(parts) != length:
        raise NeuronsimError(f"{where}: expected {length} numbers, got {len(parts)}")
    return [typed_number(p, net, where) for p in parts]


def typed_sequence(text, net, where, width, targets=False):
    """A JSON list of time steps, each a list of ``width`` numbers (``null`` for
    a step without a target when ``targets``); a target may also be one list
    (the last step's)."""
    try:
        steps = json.loads(text)
    except ValueError:
        raise NeuronsimError(f"{where}: expected a JSON list of time steps such as "
                             "[[1, 0], [0, 1]]") from None
    if not isinstance(steps, list) or not steps:
        raise NeuronsimError(f"{where}: expected a non-empty list of time steps")
    if targets and all(not isinstance(s, list) and s is not None for s in steps):
        steps = [steps]             # one target: the last step's
        if len(steps[0]) != width:
            raise NeuronsimError(f"{where}: expected {width} numbers, got {len(steps[0])}")
        return [typed_number(str(v), net, where) for v in steps[0]]
    out = []
    for t, step in enumerate(steps, start=1):
        if step is None and targets:
            out.append(None)
            continue
        if not isinstance(step, list) or len(step) != width or \
                not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in step):
            raise NeuronsimError(f"{where}: time step {t}: expected a list of {width} numbers")
        out.append([typed_number(repr(float(v)), net, where) for v in step])
    return out


def number_text(value):
    """A number as a text field shows it: the shortest text that reads back as
    the same float (or the exact fraction, or the precise number's digits)."""
    return repr(value) if isinstance(value, (float, int)) else str(value)


def vector_text(values, sequence=False):
    """Numbers as the input fields show them (JSON lists for a network that
    reads sequences)."""
    if values is None:
        return ""
    if not sequence:
        return ", ".join(number_text(v) for v in values)
    if values and isinstance(values[0], (list, type(None))):
        return json.dumps([None if v is None else [float(x) for x in v] for v in values])
    return json.dumps([float(x) for x in values])


# ------------------------------------------------------------------ parameters
def parameters_of(net, convention="nielsen"):
    """Every parameter of ``net``: (textbook label, owner, attribute, index)
    where ``getattr(owner, attribute)[index]`` (or the attribute itself, for
    index None) is its value.  Dense and Elman neurons: w, b, u; LSTM/GRU gate
    neurons: w, u, b^x, b^h per gate."""
    places = []
    for l, layer in enumerate(net.layers):
        if isinstance(layer, GatedLayer):
            for gate in layer.GATES:
                for j, neuron in enumerate(layer.gates[gate]):
                    places += [(lab.gate_weight_label(l, gate, j, k, convention), neuron,
                                "weights", k) for k in range(len(neuron.weights))]
                    places += [(lab.gate_recurrent_label(l, gate, j, m), neuron,
                                "recurrent_weights", m)
                               for m in range(len(neuron.recurrent_weights))]
                    places += [(lab.gate_bias_label(l, gate, j, side, convention), neuron,
                                f"bias_{side}", None) for side in ("ih", "hh")]
            continue
        for j, neuron in enumerate(layer.neurons):
            places += [(lab.weight_label(l, j, k, convention), neuron, "weights", k)
                       for k in range(len(neuron.weights))]
            places.append((lab.bias_label(l, j, convention), neuron, "bias", None))
            if layer.is_recurrent:
                places += [(lab.recurrent_weight_label(l, j, i), neuron, "recurrent_weights", i)
                           for i in range(len(neuron.recurrent_weights))]
    return places


def value_of(place):
    _, owner, attribute, index = place
    value = getattr(owner, attribute)
    return value if index is None else value[index]


def set_value(place, value):
    """Set one parameter (a new list for list attributes: records keep the old one)."""
    _, owner, attribute, index = place
    if index is None:
        setattr(owner, attribute, value)
        return
    values = list(getattr(owner, attribute))
    values[index] = value
    setattr(owner, attribute, values)


# ------------------------------------------------------------------ the widget
class NetworkWidget:
    """The widget of one network (see the module's docstring).

    Its controls are attributes, so that a test (or a teacher's script) can
    drive it as a class would: ``input``, ``target``, ``sample``,
    ``parameter``, ``value``, ``set_button``, ``rate``, ``optimizer``,
    ``show``, ``buttons[name]`` for each of ``ACTIONS``; what it shows:
    ``diagram``, ``status`` and ``tables`` (HTML widgets).
    """

    def __init__(self, net, convention="nielsen", digits=6, width=None):
        widgets = require_ipywidgets()
        self.net = net
        self.convention = convention
        self.digits = digits
        self.width = width
        self.phase = "start"        # "start", "forward", "backward" or "updated"
        self.epochs = []            # the losses of the epochs run here
        self.places = parameters_of(net, convention)
        self.finished = None        # the last complete step's record
        self.losses = []            # (updates, loss over the file's samples) after each update
        self.updates = 0
        self.tracer = self._attach_tracer()
        layout = widgets.Layout(width="auto")
        self.sample = widgets.Dropdown(
            options=[("typed", 0)] + [(f"sample {i}", i) for i in range(1, len(net.samples) + 1)],
            value=1 if net.samples else 0, description="sample")
        self.input = widgets.Text(description="input x", layout=widgets.Layout(width="40em"))
        self.target = widgets.Text(description="target t", layout=widgets.Layout(width="40em"))
        self.parameter = widgets.Dropdown(options=[(p[0], i) for i, p in enumerate(self.places)],
                                          description="parameter")
        self.value = widgets.Text(description="value")
        self.set_button = widgets.Button(description="Set", layout=layout)
        rate = net.learning_rate
        self.rate = widgets.Text(value="" if rate is None else number_text(rate),
                                 description="η")
        self.optimizer = widgets.Dropdown(options=[PLAIN] + sorted(OPTIMIZERS),
                                          value=PLAIN if net.optimizer is None
                                          else net.optimizer.name, description="optimizer")
        self.show = widgets.Dropdown(options=[("a", "a"), ("z", "z"), ("δ", "delta")],
                                     value="a", description="neurons show")
        self.buttons = {name: widgets.Button(description=name, layout=layout)
                        for name in ACTIONS}
        self.play = widgets.Play(value=0, min=0, max=PLAY_STEPS, step=1,
                                 interval=PLAY_INTERVAL, description="Play",
                                 show_repeat=False)
        self.status = widgets.HTML()
        self.diagram = widgets.HTML()
        self.curve = widgets.HTML()
        self.tables = widgets.HTML()

        self.sample.observe(lambda change: self._choose_sample(), names="value")
        self.parameter.observe(lambda change: self._show_parameter(), names="value")
        self.set_button.on_click(lambda button: self._act(self.set_parameter))
        self.optimizer.observe(lambda change: self._act(self.choose_optimizer), names="value")
        self.show.observe(lambda change: self._redraw(), names="value")
        self.play.observe(self._tick, names="value")
        for name, button in self.buttons.items():
            button.on_click(lambda button, name=name: self._act(getattr(self, name.lower())))
        self._choose_sample()
        self._show_parameter()
        self.box = widgets.VBox([
            widgets.HTML(f"<b>{escape(repr(net))}</b> (textbook numbering: the inputs are "
                         "layer 1; net.layers[l] is layer l+2)"),
            widgets.HBox([self.sample, self.show]), self.input, self.target,
            widgets.HBox([self.parameter, self.value, self.set_button]),
            widgets.HBox([self.rate, self.optimizer]),
            widgets.HBox(list(self.buttons.values()) + [widgets.Label("Play"), self.play]),
            self.status, widgets.HBox([self.diagram, self.curve]), self.tables])
        self._say("ready: Forward, Backward and Update walk one step; Step does all three; "
                  "Play steps on and on")
        self._redraw()

    # ---------------------------------------------------------- display
    def _repr_mimebundle_(self, **options):
        return self.box._repr_mimebundle_(**options)

    def _attach_tracer(self):
        """A tracer that keeps nothing (the widget shows the step under way)."""
        from ..trace.tracer import Tracer

        return Tracer(keep=False, sink=self._finished).attach(self.net)

    def _finished(self, record):
        """The tracer's sink: a step's record, complete once its update came."""
        self.finished = record

    def close(self):
        """Detach the tracer (the network runs untraced again) and close the controls."""
        if self.tracer is not None and self.net.tracer is self.tracer:
            self.tracer.detach(self.net)
        self.box.close()

    def _say(self, text, error=False):
        colour = "#b00020" if error else "#222222"
        self.status.value = f'<p style="color:{colour}">{escape(text)}</p>'

    def _redraw(self):
        self.diagram.value = draw.svg(self.net, show=self.show.value, convention=self.convention,
                                      digits=min(self.digits, 4), width=self.width)
        self.tables.value = self._tables()
        self.curve.value = self._curve()

    def _curve(self):
        """The loss over the file's samples after each update, as SVG."""
        if not self.losses:
            return "<p>The loss curve starts at the first update.</p>"
        from .plots import loss_curves_svg

        first = self.losses[0][0]
        points = [loss for _, loss in self.losses]
        if not all(math.isfinite(v) for v in points):
            return "<p>The loss is not a finite number: training diverged.</p>"
        return loss_curves_svg([("loss over the samples", points)],
                               title=f"Loss after updates {first} to {self.updates}",
                               x_label="point (one per Step, Update or Epoch)")

    def _record_loss(self):
        """The loss over the file's samples with the new weights, on a copy (its
        forward passes would replace the step's values in the diagram)."""
        self.updates += 1
        net = self.net
        if not net.samples:
            return
        self.losses.append((self.updates, net.copy().loss_over()))
        del self.losses[:-MAX_CURVE_POINTS]

    def _sections(self):
        return {"start": (), "forward": ("forward",),
                "backward": ("forward", "loss", "backward", "gradients"),
                "updated": ("forward", "loss", "backward", "gradients", "update")}[self.phase]

    def _tables(self):
        """The trace tables of the step under way, in HTML."""
        # the step under way (the tracer finishes it at its update), or the one just updated
        record = self.finished if self.phase == "updated" else self.tracer.current
        sections = self._sections()
        if record is None or not sections:
            return "<p>No step yet: press Forward or Step.</p>"
        options = dict(format="html", digits=self.digits, convention=self.convention,
                       sections=sections)
        from ..render.tables import render_record

        return render_record(record, **options)

    # ---------------------------------------------------------- what it reads
    def _choose_sample(self):
        number = self.sample.value
        if not number:
            return
        sample = self.net.samples[number - 1]
        sequence = self.net.is_sequential
        self.input.value = vector_text(sample["input"], sequence)
        self.target.value = vector_text(sample["target"], sequence)

    def _show_parameter(self):
        if self.places:
            self.value.value = number_text(value_of(self.places[self.parameter.value]))

    def read_input(self):
        net = self.net
        if net.is_sequential:
            return typed_sequence(self.input.value, net, "input x", net.n_inputs)
        return typed_vector(self.input.value, net, "input x", net.n_inputs)

    def read_target(self):
        net = self.net
        if net.is_sequential:
            return typed_sequence(self.target.value, net, "target t", net.n_outputs, targets=True)
        return typed_vector(self.target.value, net, "target t", net.n_outputs)

    def read_rate(self):
        if not self.rate.value.strip():
            raise NeuronsimError("η: give a learning rate")
        rate = typed_number(self.rate.value, self.net, "η")
        if not rate > 0:
            raise NeuronsimError(f"η: expected a learning rate above 0, got {self.rate.value}")
        return rate

    # ---------------------------------------------------------- actions
    def _act(self, action):
        """Run ``action``; a bad value or an action out of turn becomes the status
        line, never an exception in the notebook."""
        try:
            message = action()
        except (NeuronsimError, ValueError) as error:
            self._say(str(error), error=True)
        else:
            self._say(message)
        self._redraw()

    def forward(self):
        outputs = self.net.forward_pass(self.read_input())
        self.phase = "forward"
        if self.net.is_sequential:
            outputs = outputs[-1]
            return ("forward pass: y[T] = "
                    + ", ".join(format_number(v, self.digits) for v in outputs))
        return "forward pass: output " + ", ".join(format_number(v, self.digits) for v in outputs)

    def backward(self):
        if self.phase != "forward":
            raise NeuronsimError("Backward needs a forward pass first: press Forward")
        loss = self.net.back_prop(self.read_target())
        self.phase = "backward"
        return f"back_prop: E = {format_number(loss, self.digits)} (no weight changed yet)"

    def update(self):
        if self.phase != "backward":
            raise NeuronsimError("Update needs gradients first: press Forward, then Backward")
        rate = self.read_rate()
        self.net.update_weights(rate)
        self.phase = "updated"
        self._show_parameter()
        self._record_loss()
        return f"update with η = {format_number(rate, self.digits)}: every parameter changed"

    def step(self):
        x, t, rate = self.read_input(), self.read_target(), self.read_rate()
        self.net.forward_pass(x)
        loss = self.net.back_prop(t)
        self.net.update_weights(rate)
        self.phase = "updated"
        self._show_parameter()
        self._record_loss()
        return f"step: E = {format_number(loss, self.digits)} before the update"

    def epoch(self):
        net = self.net
        if not net.samples:
            raise NeuronsimError("Epoch trains on the file's samples, and this network has none")
        rate = self.read_rate()
        tracer, net.tracer = net.tracer, None       # one epoch: no tables per step
        try:
            loss = net.train(epochs=1, learning_rate=rate, shuffle=False)[0]
        finally:
            net.tracer = tracer
        self.epochs.append(loss)
        self.phase = "start"
        self._show_parameter()
        self._record_loss()
        count = len(net.samples)
        return (f"epoch {len(self.epochs)} ({count} sample{'s' if count != 1 else ''}, "
                "online, in file "
                f"order): loss {format_number(loss, self.digits)}; press Forward or Step for "
                "a step's tables")

    def _tick(self, change):
        """One tick of Play: the next sample of the file (or the typed one again),
        then a Step.  An error stops Play, with the reason in the status line."""
        if change["new"] == 0:          # Play was reset
            return
        samples = len(self.net.samples)
        if self.sample.value and samples:
            self.sample.value = self.sample.value % samples + 1
        self._act(self.step)
        if "color:#b00020" in self.status.value:
            self.play.playing = False

    def set_parameter(self):
        if not self.places:
            raise NeuronsimError("this network has no parameters")
        place = self.places[self.parameter.value]
        value = typed_number(self.value.value, self.net, place[0])
        set_value(place, value)
        self.phase = "start"            # values computed with the old weight are stale
        return f"{place[0]} = {format_number(value, self.digits)}: press Forward or Step"

    def choose_optimizer(self):
        name = self.optimizer.value
        self.net.set_optimizer(None if name == PLAIN else name)
        return f"optimizer: {name} (default options; its state starts afresh)"


def network_widget(net, convention="nielsen", digits=6, width=None):
    """The stepper and editor of ``net`` (``net.widget()``): display it in a notebook."""
    return NetworkWidget(net, convention=convention, digits=digits, width=width)
