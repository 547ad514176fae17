"""Streamed traces hold exactly what an in-memory tracer records, in flat memory."""

import csv
import io
import json
import math
import tracemalloc

import pytest
from catalogue import (
    MAZUR_SAMPLE,
    XOR_SAMPLES,
    mazur,
    random_network,
    random_samples,
    xor,
)

from neuronsim.trace import Tracer
from neuronsim.trace.stream import (
    NEURON_LISTS,
    NEURON_SCALARS,
    StreamTracer,
    stream_tracer,
)


def reference_steps(make_net, samples, **train):
    """The steps an in-memory Tracer keeps for the same training run."""
    net = make_net()
    tracer = Tracer().attach(net)
    net.train(samples, **train)
    tracer.flush()
    return tracer.steps


def streamed_jsonl(make_net, samples, **options):
    net = make_net()
    buffer = io.StringIO()
    train = options.pop("train")
    with StreamTracer(buffer, format="jsonl", **options) as tracer:
        tracer.attach(net)
        net.train(samples, **train)
    return [json.loads(line) for line in buffer.getvalue().splitlines()]


TRAIN = dict(epochs=2, learning_rate=0.5, batch_size=2, seed=3)


def test_jsonl_equals_in_memory_records():
    steps = reference_steps(xor, XOR_SAMPLES, **TRAIN)
    lines = streamed_jsonl(xor, XOR_SAMPLES, train=dict(TRAIN))
    assert len(lines) == len(steps) == 8
    for line, step in zip(lines, steps):
        assert line["step"] == step.index
        assert line["input"] == step.input and line["target"] == step.target
        assert line["loss"] == step.loss and line["updated"] == step.updated
        assert line["batch_size"] == step.batch_size
        records = step.neurons()
        assert [(n["layer"], n["neuron"]) for n in line["neurons"]] == \
            [(r.layer, r.neuron) for r in records]
        for written, record in zip(line["neurons"], records):
            for field in NEURON_SCALARS + NEURON_LISTS:
                assert written[field] == getattr(record, field), field


def test_update_fields_only_on_the_step_that_ends_a_batch():
    lines = streamed_jsonl(xor, XOR_SAMPLES, train=dict(TRAIN, epochs=1, shuffle=False))
    assert [line["updated"] for line in lines] == [False, True, False, True]
    assert lines[0]["neurons"][0]["new_weights"] is None
    assert lines[1]["neurons"][0]["new_weights"] is not None


def test_csv_rows_equal_in_memory_records():
    steps = reference_steps(xor, XOR_SAMPLES, **TRAIN)
    net = xor()
    buffer = io.StringIO()
    with StreamTracer(buffer, format="csv") as tracer:
        tracer.attach(net)
        net.train(XOR_SAMPLES, **TRAIN)
    rows = list(csv.DictReader(io.StringIO(buffer.getvalue())))
    records = [(step, r) for step in steps for r in step.neurons()]
    assert len(rows) == len(records) == 8 * 3
    for row, (step, record) in zip(rows, records):
        assert (int(row["step"]), int(row["layer"]), int(row["neuron"])) == \
            (step.index, record.layer, record.neuron)
        assert float(row["loss"]) == step.loss
        for field in NEURON_SCALARS:
            value = getattr(record, field)
            assert (row[field] == "") if value is None else (float(row[field]) == value), field
        for field in NEURON_LISTS:
            value = getattr(record, field)
            cell = row[field]
            assert (cell == "") if value is None else ([float(v) for v in cell.split()] == value)


def test_layer_and_neuron_filters():
    lines = streamed_jsonl(lambda: random_network([3, 4, 2], "tanh", "sigmoid", "half_sse", 5),
                           random_samples(3, 2, "sigmoid", "half_sse", 3, 5),
                           layers=[0], neurons=[1, 3], train=dict(epochs=1, learning_rate=0.1))
    assert len(lines) == 3
    for line in lines:
        assert [(n["layer"], n["neuron"]) for n in line["neurons"]] == [(0, 1), (0, 3)]


def test_without_weights_the_lists_are_left_out(tmp_path):
    path = tmp_path / "trace.csv"
    net = mazur()
    with stream_tracer(path, weights=False) as tracer:   # format from the suffix
        tracer.attach(net)
        net.step(*MAZUR_SAMPLE, learning_rate=0.5)
    header, *rows = path.read_text().splitlines()
    assert header.split(",") == ["step", "layer", "neuron", "loss", *NEURON_SCALARS]
    assert len(rows) == 4
    first = dict(zip(header.split(","), rows[0].split(",")))
    assert float(first["z"]) == 0.3775 and first["new_bias"] == "0.35"  # Mazur's biases stay fixed


def test_non_finite_numbers_are_written_as_text():
    net = mazur()
    buffer = io.StringIO()
    with StreamTracer(buffer) as tracer:
        tracer.attach(net)
        net.layers[1].neurons[0].bias = math.inf
        net.forward_pass(MAZUR_SAMPLE[0])
    line = json.loads(buffer.getvalue())       # strict JSON: no bare NaN or Infinity
    record = line["neurons"][2]
    assert record["bias"] == "inf" and record["z"] == "inf" and record["output"] == 1.0


def test_unknown_format_is_refused():
    with pytest.raises(ValueError, match="unknown trace format 'xml'"):
        StreamTracer(io.StringIO(), format="xml")


def test_same_seed_same_bytes(tmp_path):
    texts = []
    for run in range(2):
        path = tmp_path / f"run{run}.jsonl"
        net = random_network([4, 5, 3], "relu", "softmax", "cross_entropy", 11)
        with stream_tracer(path) as tracer:
            tracer.attach(net)
            net.train(random_samples(4, 3, "softmax", "cross_entropy", 6, 11), epochs=2,
                      learning_rate=0.3, batch_size=3, seed=8)
        texts.append(path.read_bytes())
    assert texts[0] == texts[1] and len(texts[0]) > 1000


def peak_after(steps, tracer_factory, sizes=(16, 8, 3)):
    """tracemalloc peak (bytes) over ``steps`` online steps with the given tracer attached."""
    net = random_network(list(sizes), "tanh", "sigmoid", "half_sse", 2)
    samples = random_samples(sizes[0], sizes[-1], "sigmoid", "half_sse", 4, 2)
    tracemalloc.start()
    try:
        tracer = tracer_factory()
        tracer.attach(net)
        for i in range(steps):
            net.step(*samples[i % len(samples)], learning_rate=0.1)
        peak = tracemalloc.get_traced_memory()[1]
        if hasattr(tracer, "close"):
            tracer.close()
    finally:
        tracemalloc.stop()
    return peak


@pytest.mark.parametrize("format", ["jsonl", "csv"])
def test_peak_memory_is_flat(tmp_path, format):
    """Ten times the steps, (almost) the same peak."""
    def streaming():
        return StreamTracer(tmp_path / f"trace.{format}", format=format)

    short, long = peak_after(10, streaming), peak_after(100, streaming)
    assert long < short * 1.2 + 10_000, (short, long)


def test_a_keeping_tracer_grows():
    """The control for the test above: the same measurement sees growth when there is some."""
    short, long = peak_after(10, Tracer), peak_after(100, Tracer)
    assert long > short * 3, (short, long)
