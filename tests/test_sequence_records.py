"""The sequence records are plain :class:`~neuronsim.trace.records.Record` objects, as the
feed-forward ones: SequenceRecord, LayerSeries, NeuronSeries (trace/sequence.py),
UnitSeries and GateSeries (trace/gated.py); the network's own step values of an LSTM
or GRU unit (LSTMStep, GRUStep, GateStep in core/) are plain classes with ``__slots__``
as NeuronStep is.  They were dataclasses: every one keeps the dataclass's parameters,
defaults, field order, ``repr`` (byte for byte, checked against dataclass twins of the
old classes below and against digests of main's reprs before the change) and ``==``;
they pickle and copy, and ``as_dict()`` turns a whole sequence, or a batch of them,
into dicts and lists that ``json.dumps`` writes.  Elman, LSTM and GRU sequences,
online and with ``batches=True``, full and truncated BPTT, with and without an
optimizer.  ``neuronsim trace`` of a sequence network no longer imports dataclasses.
"""

import copy
import dataclasses
import hashlib
import json
import os
import pickle
from dataclasses import dataclass, field

import pytest

from neuronsim import Network
from neuronsim.core.gates import GateStep
from neuronsim.core.gru import GRUStep
from neuronsim.core.lstm import LSTMStep
from neuronsim.core.through_time import NeuronStep, StepValues
from neuronsim.files.bundled import example_path
from neuronsim.trace import Tracer
from neuronsim.trace.gated import GateSeries, UnitSeries
from neuronsim.trace.records import Record
from neuronsim.trace.sequence import LayerSeries, NeuronSeries, SequenceRecord

GOLDEN_INPUTS = os.path.join(os.path.dirname(__file__), "golden", "inputs")


# ---------------------------------------------------------------- traced sequences
def _spec(name):
    """The network of each case (a dict, or a file's path)."""
    if name in ("elman", "elman-truncated"):
        return example_path("rnn-parity")
    if name == "stack":
        # dense -> recurrent (learned a[0]) -> dense, one step without a target, an optimizer
        # with a penalty and clipping (every field of the update records filled in)
        return {"inputs": 2, "loss": "half_sse", "learning_rate": 0.4, "layers": [
            {"activation": "tanh", "weights": [[0.5, -0.2], [0.1, 0.3], [0.2, 0.2]],
             "biases": [0.1, 0.0, -0.1]},
            {"type": "recurrent", "activation": "tanh", "size": 2, "init": "uniform",
             "seed": 3, "learn_initial_state": True, "initial_state": [0.2, -0.3]},
            {"activation": "sigmoid", "size": 2, "init": "uniform", "seed": 5}],
            "optimizer": {"name": "sgd", "momentum": 0.5}, "penalty": {"l2": 0.01},
            "clip": {"max_norm": 1.0},
            "samples": [
                {"input": [[1, 0], [0, 1], [1, 1]], "target": [[1, 0], None, [0, 1]]},
                {"input": [[1, 1], [0, 0], [0.5, -1]], "target": [[0, 0], [1, 1], [0.5, 0.5]]}]}
    if name in ("lstm", "lstm-truncated"):
        return os.path.join(GOLDEN_INPUTS, "tiny-lstm-adam.json")
    if name in ("gru", "gru-truncated"):
        return os.path.join(GOLDEN_INPUTS, "tiny-gru.json")
    # dense -> LSTM (learned h0, c0) -> GRU (learned h0) -> Elman -> dense, with Adam
    return {"inputs": 2, "loss": "half_sse", "step_loss": "mean", "learning_rate": 0.2,
            "optimizer": {"name": "adam"}, "layers": [
                {"activation": "tanh", "size": 3, "init": "uniform", "seed": 1},
                {"type": "lstm", "size": 2, "init": "uniform", "seed": 2,
                 "learn_initial_state": True, "initial_state": [0.1, -0.2],
                 "initial_cell": [0.3, 0.05]},
                {"type": "gru", "size": 2, "init": "uniform", "seed": 3,
                 "learn_initial_state": True},
                {"type": "recurrent", "activation": "tanh", "size": 2, "init": "uniform",
                 "seed": 4},
                {"activation": "linear", "size": 1, "init": "uniform", "seed": 5}],
            "samples": [{"input": [[1, 0], [0, 1], [1, 1], [0.5, -1]],
                         "target": [[1], None, [0], [0.5]]},
                        {"input": [[1, 1], [0, 0], [-1, 0.5]], "target": [1]}]}


NAMES = ("elman", "elman-truncated", "stack", "lstm", "lstm-truncated", "gru", "gru-truncated",
         "gated-stack")


def traced(name, batches):
    """Two sequences of the case traced: online (``batches=False``, two updates), or as one
    batch of two with ``batches=True``.  Returns the tracer."""
    net = Network.from_spec(_spec(name))
    if name.endswith("-truncated"):
        net.truncation = 2
    samples = net.samples[:2]
    tracer = Tracer(batches=batches).attach(net)
    net.train(samples, epochs=1, batch_size=2 if batches else 1, shuffle=False)
    tracer.flush()
    return tracer


def records_of(tracer):
    """Every record a tracer kept: its sequences, then its batches."""
    return list(tracer.sequences) + list(tracer.batches)


def each_record(value):
    """Every Record and step value in ``value`` (and in the records it holds), outermost first."""
    if isinstance(value, (Record, StepValues)):
        yield value
        names = value._fields if isinstance(value, Record) else value.__slots__
        for name in names:
            yield from each_record(getattr(value, name))
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from each_record(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from each_record(item)


CASES = [(name, batches) for name in NAMES for batches in (False, True)]


@pytest.fixture(scope="module", params=CASES, ids=[f"{n}-{'batches' if b else 'online'}"
                                                   for n, b in CASES])
def case(request):
    name, batches = request.param
    return request.param, records_of(traced(name, batches))


# ---------------------------------------------------------------- repr as on main
#: sha256 of "\n".join(repr(record) for record in records_of(traced(name, batches))) with
#: the dataclasses of main before this change (the reprs are 10-130 kB each)
MAIN_REPRS = {
    ("elman", False): "4ab58c9e5b292c8f5cb76eaaacaa6e80c5df0404c50a599fe79ba3be0778c2ba",
    ("elman", True): "b479089681f0276de7a416aef922f0601453a425935b69f2a61bd04044b44bcd",
    ("elman-truncated", False): "3545bfdfa293fa1dbdf0901dda8898d5075a0f735caac55a129d0f1bb2d8d426",
    ("elman-truncated", True): "7200dd5a316ca9a0dbd4a090ccbd94af23871223af54a8f5c139e3136fe82c82",
    ("stack", False): "d60a1329c841d8055760d33de9cdecb403c56594a94ca27c289c3440891d7a30",
    ("stack", True): "6cc0adbb8efde176f4b2225270aba4b704e1734afcc1837b42cb510310a98cf2",
    ("lstm", False): "51692966fd9f0c72e9a085ebeed852e3c00151f45f163ee802073f6384923c76",
    ("lstm", True): "65eb2ca61ae92af12529be172f943e562b481a01e176c9fcba0ad1b6d9f13d92",
    ("lstm-truncated", False): "03ee9cc1c1da6162a625b879aaf89d34f0fbb8cedbf0085707a19ba4a9f6d288",
    ("lstm-truncated", True): "749b895a74c4a609910deb4508ecef7524f0be47de5429c43281302bd13aaddd",
    ("gru", False): "a54d4818e23de03d42ec5b5bb4b5a984e79a559461bedad6ad26b4e1ee9ae389",
    ("gru", True): "477526fd15428b8e6e395706137dd4e8aa03401f88bfdddb6a124f3ea3ea877d",
    ("gru-truncated", False): "6499eeee00c6b7b511e920df278aae309cdfd0af86658414e2431374115f7795",
    ("gru-truncated", True): "91976d65b562ad2190d12b6b0502297f7a8dcb1b0e22e99c7b910f2028187345",
    ("gated-stack", False): "5956a1cd01c77ee2418b98475ab470eb23820e040bf6a061795d316e46d53c0e",
    ("gated-stack", True): "fb8c574249ec8cf1066b8a6f1c43f0dd540eaf1d04bd2a34ca022b519362d7b6",
}


def test_the_reprs_are_mains(case):
    """Byte for byte the reprs the dataclasses gave (the same numbers, the same text)."""
    key, records = case
    text = "\n".join(repr(record) for record in records)
    assert hashlib.sha256(text.encode()).hexdigest() == MAIN_REPRS[key]


# ---------------------------------------------------------------- dataclass twins
# The classes as they were on main, field for field (names, order, defaults): the plain
# classes must take the same arguments and print the same text.
@dataclass
class NeuronSeriesTwin:
    layer: int
    neuron: int
    weights: list
    bias: object
    steps: list
    recurrent_weights: list = None
    weight_totals: list = None
    recurrent_totals: list = None
    bias_total: object = None
    batch_weight_grads: list = None
    batch_recurrent_grads: list = None
    batch_bias_grad: object = None
    new_weights: list = None
    new_recurrent_weights: list = None
    new_bias: object = None
    applied: dict = None
    penalty: dict = None
    state_before: dict = None
    state_after: dict = None


@dataclass
class LayerSeriesTwin:
    layer: int
    kind: str
    activation: str
    neurons: list
    states: list = None
    learn_initial_state: bool = False
    initial_state_grad: list = None
    old_initial_state: list = None
    batch_initial_state_grad: list = None
    new_initial_state: list = None
    applied_initial_state_grad: list = None
    state_before: dict = None
    state_after: dict = None
    initial_grads: dict = None
    old_initials: dict = None
    batch_initial_grads: dict = None
    new_initials: dict = None
    applied_initials: dict = None


@dataclass
class SequenceRecordTwin:
    index: int
    inputs: list
    activations: list
    loss_name: str
    step_loss: str
    layers: list
    outputs: list
    paired_output: bool = False
    targets: list = None
    step_losses: list = None
    loss: object = None
    truncation: object = None
    learning_rate: object = None
    batch_size: int = None
    reduction: str = "mean"
    update_biases: bool = True
    updated: bool = False
    activation_params: list = field(default_factory=list)
    rule: object = None


@dataclass
class GateSeriesTwin:
    gate: str
    activation: str
    weights: list
    recurrent_weights: list
    bias_ih: object
    bias_hh: object
    weight_totals: list = None
    recurrent_totals: list = None
    bias_ih_total: object = None
    bias_hh_total: object = None
    batch_grads: dict = None
    new: dict = None
    applied: dict = None
    penalty: dict = None
    state_before: dict = None
    state_after: dict = None


@dataclass
class UnitSeriesTwin:
    layer: int
    neuron: int
    kind: str
    steps: list
    gates: dict


@dataclass(slots=True)
class NeuronStepTwin:
    inputs: list
    z: object
    output: object
    derivative: object
    previous: list = None
    output_grad: object = None
    delta: object = None
    output_path: object = None
    recurrent_path: object = None
    delta_parts: list = None


@dataclass(slots=True)
class GateStepTwin:
    z: object
    output: object
    derivative: object
    hidden_part: object = None
    output_grad: object = None
    delta: object = None
    hidden_delta: object = None
    delta_parts: list = None


@dataclass(slots=True)
class LSTMStepTwin:
    inputs: list
    previous: list
    previous_cell: object
    gates: dict
    cell: object
    cell_tanh: object
    cell_derivative: object
    output: object
    output_path: object = None
    recurrent_path: object = None
    output_grad: object = None
    cell_path: object = None
    cell_grad: object = None
    cell_grad_parts: list = None


@dataclass(slots=True)
class GRUStepTwin:
    inputs: list
    previous: list
    gates: dict
    output: object
    output_path: object = None
    recurrent_path: object = None
    output_grad: object = None
    output_grad_parts: list = None


TWINS = {NeuronSeries: NeuronSeriesTwin, LayerSeries: LayerSeriesTwin,
         SequenceRecord: SequenceRecordTwin, GateSeries: GateSeriesTwin,
         UnitSeries: UnitSeriesTwin, GateStep: GateStepTwin, LSTMStep: LSTMStepTwin,
         GRUStep: GRUStepTwin, NeuronStep: NeuronStepTwin}


@pytest.mark.parametrize("cls", list(TWINS), ids=lambda cls: cls.__name__)
def test_the_same_fields_parameters_and_defaults(cls):
    """Fields in the dataclass's order; ``__init__`` takes the same parameters with the
    same defaults (a list default, ``field(default_factory=list)``, is None: a fresh list)."""
    import inspect

    twin = TWINS[cls]
    fields = tuple(f.name for f in dataclasses.fields(twin))
    assert (cls.__slots__ if issubclass(cls, StepValues) else cls._fields) == fields
    ours = inspect.signature(cls).parameters
    theirs = inspect.signature(twin).parameters
    assert list(ours) == list(theirs)
    for name, parameter in theirs.items():
        default = parameter.default
        if twin is SequenceRecordTwin and name == "activation_params":
            assert ours[name].default is None
            continue
        assert ours[name].default == default and ours[name].kind == parameter.kind


def twin_of(value):
    """``value`` with every record of this module's classes made again as its dataclass twin."""
    if type(value) in TWINS:
        cls = type(value)
        names = cls.__slots__ if issubclass(cls, StepValues) else cls._fields
        return TWINS[cls](**{name: twin_of(getattr(value, name)) for name in names})
    if isinstance(value, Record):   # the feed-forward ones inside: BatchRecord, ParameterRecord
        twin = dataclasses.make_dataclass(type(value).__qualname__, value._fields)
        return twin(**{name: twin_of(getattr(value, name)) for name in value._fields})
    if isinstance(value, list):
        return [twin_of(item) for item in value]
    if isinstance(value, tuple):
        return tuple(twin_of(item) for item in value)
    if isinstance(value, dict):
        return {key: twin_of(item) for key, item in value.items()}
    return value


def test_repr_and_as_dict_as_the_dataclass_twins(case):
    """Every record, and every record inside it, prints as its dataclass twin (the twin's
    class name without "Twin"); ``as_dict()`` is ``dataclasses.asdict`` of the twin, with
    tuples as lists (through JSON)."""
    _, records = case
    for outer in records:
        for record in each_record(outer):
            twin = twin_of(record)
            expected = repr(twin)
            for cls, twin_cls in TWINS.items():
                expected = expected.replace(f"{twin_cls.__qualname__}(", f"{cls.__qualname__}(")
            assert repr(record) == expected
        assert json.loads(json.dumps(outer.as_dict())) == json.loads(
            json.dumps(dataclasses.asdict(twin_of(outer))))


# ---------------------------------------------------------------- ==, pickle, copies
def test_equal_to_copies_and_pickles_and_only_to_them(case):
    _, records = case
    for record in records:
        copied = copy.deepcopy(record)
        assert copied == record and copied is not record
        for protocol in range(2, pickle.HIGHEST_PROTOCOL + 1):
            again = pickle.loads(pickle.dumps(record, protocol))
            assert again == record and repr(again) == repr(record)
        assert copy.copy(record) == record
        assert record != twin_of(record) and record != record.as_dict()
        with pytest.raises(TypeError):
            hash(record)
    for record in records:
        inner = list(each_record(record))
        for value in inner:
            assert copy.deepcopy(value) == value
            assert pickle.loads(pickle.dumps(value)) == value
            with pytest.raises(TypeError):
                hash(value)


def test_a_changed_value_anywhere_makes_records_unequal(case):
    """== compares every field, down to one gate's z at one step."""
    _, records = case
    sequence = records[0]
    gated = [series for series in sequence.layers if series.is_gated]
    changed = copy.deepcopy(sequence)
    if gated:
        step = changed.layers[gated[0].layer].neurons[0].steps[-1]
        step.gates[next(iter(step.gates))].z += 1.0
    else:
        changed.layers[-1].neurons[0].steps[0].z += 1.0
    assert changed != sequence
    changed = copy.deepcopy(sequence)
    changed.layers[-1].neurons[0].state_after = {"x": 1}   # a NeuronSeries in every case
    assert changed != sequence
    changed = copy.deepcopy(sequence)
    changed.loss_name = "other"
    assert changed != sequence


def test_the_network_step_values_as_the_dataclasses_were():
    """By position and by name with their defaults, repr as the dataclass's, == by value,
    unhashable, nothing but their slots, copies equal and apart."""
    gate = GateStep(0.5, 0.625, 0.234375, hidden_part=0.25)
    assert repr(gate) == ("GateStep(z=0.5, output=0.625, derivative=0.234375, hidden_part=0.25, "
                          "output_grad=None, delta=None, hidden_delta=None, delta_parts=None)")
    assert repr(gate) == repr(GateStepTwin(0.5, 0.625, 0.234375, hidden_part=0.25)).replace(
        "GateStepTwin", "GateStep")
    lstm = LSTMStep([1.0], [0.0, 0.5], 0.25, {"input": gate}, 0.5, 0.46, 0.78, 0.3, cell_grad=2.0)
    assert lstm == LSTMStep(inputs=[1.0], previous=[0.0, 0.5], previous_cell=0.25,
                            gates={"input": GateStep(0.5, 0.625, 0.234375, 0.25)}, cell=0.5,
                            cell_tanh=0.46, cell_derivative=0.78, output=0.3, cell_grad=2.0)
    gru = GRUStep([1.0], [0.0], {"new": gate}, 0.75, output_grad_parts=[0.5])
    assert repr(gru) == repr(GRUStepTwin([1.0], [0.0], {"new": GateStepTwin(
        0.5, 0.625, 0.234375, 0.25)}, 0.75, output_grad_parts=[0.5])).replace("Twin", "")
    for value in (gate, lstm, gru):
        same = copy.deepcopy(value)
        assert same == value and same is not value
        assert pickle.loads(pickle.dumps(value)) == value
        same.output = -1.0
        assert same != value and value != (value.output,)
        with pytest.raises(TypeError):
            hash(value)
        with pytest.raises(AttributeError):
            value.other = 1
    assert gate != GateStepTwin(0.5, 0.625, 0.234375, 0.25)


# ---------------------------------------------------------------- as_dict and JSON
def test_as_dict_holds_the_records_numbers_and_goes_through_json(case):
    """Every field by name, down to each step's values and each gate's; tuples become
    lists; ``json.dumps`` writes it and reads back the same dicts."""
    (name, batches), records = case
    for record in records:
        plain = record.as_dict()
        assert json.loads(json.dumps(plain)) == plain
    sequence = records[0]
    plain = sequence.as_dict()
    assert list(plain) == list(SequenceRecord._fields)
    assert plain["loss"] == sequence.loss and plain["inputs"] == sequence.inputs
    for series, layer in zip(sequence.layers, plain["layers"]):
        assert list(layer) == list(LayerSeries._fields)
        for unit, neuron in zip(series.neurons, layer["neurons"]):
            assert list(neuron) == list(type(unit)._fields)
            for step, values in zip(unit.steps, neuron["steps"]):
                assert list(values) == list(type(step).__slots__)
                assert values["output"] == step.output
                if series.is_gated:
                    for gate, gate_values in values["gates"].items():
                        assert gate_values == {name: getattr(step.gates[gate], name)
                                               for name in GateStep.__slots__}
                else:
                    assert values["delta"] == step.delta and values["inputs"] == step.inputs
    if batches:
        batch = records[-1].as_dict()
        assert len(batch["samples"]) == 2 and batch["samples"][0] == records[0].as_dict()
        assert batch["parameters"][0]["total"] == records[-1].parameters[0].total
    if name in ("stack", "lstm", "gated-stack") and not batches:
        assert plain["rule"]["optimizer"] == sequence.rule.optimizer


def test_the_module_docstring_example_runs():
    import doctest

    import neuronsim.trace.sequence

    result = doctest.testmod(neuronsim.trace.sequence, optionflags=doctest.ELLIPSIS)
    assert result.attempted >= 10 and result.failed == 0


# ---------------------------------------------------------------- start-up
@pytest.mark.parametrize("arguments", [["rnn-parity"], ["rnn-parity", "--batch-size", "2"],
                                       ["long-range-lstm"],
                                       [os.path.join(GOLDEN_INPUTS, "tiny-gru.json")]])
def test_trace_of_a_sequence_network_imports_no_dataclasses(arguments):
    """`neuronsim trace` of an Elman, LSTM or GRU network loads neither dataclasses
    (with inspect and ast) nor copy, nor trace/walk.py (the stepper's).  Modules that
    python's own start-up already loaded do not count."""
    from catalogue import modules_a_command_loads

    assert modules_a_command_loads(["trace"] + arguments, [
        "dataclasses", "inspect", "ast", "copy", "neuronsim.trace.walk"], timeout=60) == (0, [])
