"""The one renderer (neuronsim.render.tables.render_records): every kind of record, in every
format, through one driver; the older entry points give the same bytes; what a kind of
record cannot show is refused in one line; a fixed bias is marked in its row of every
plain update table (feed-forward, sequence, gated, batch)."""

import json

import pytest

from neuronsim import Network
from neuronsim.files.bundled import example_path
from neuronsim.render import tables
from neuronsim.render.tables import (
    FORMATS,
    document,
    notes,
    render_batches,
    render_record,
    render_records,
    render_sequence_batches,
    render_sequences,
    render_step,
    render_trace,
)
from neuronsim.trace import Tracer
from neuronsim.trace.recurrent import render_sequence


def feed_forward_steps(batches=False):
    net = Network.from_spec(example_path("mazur"))
    tracer = Tracer(batches=batches).attach(net)
    x, t = net.samples[0]["input"], net.samples[0]["target"]
    if batches:
        net.forward_pass(x)
        net.back_prop(t)
        net.forward_pass(x)
        net.back_prop(t)
        net.update_weights(0.5)
        return tracer.batches
    net.step(x, t, 0.5)
    net.step(x, t, 0.5)
    return tracer.steps


def gated_spec(update_biases=True):
    return {"inputs": 1, "loss": "half_sse", "update_biases": update_biases, "layers": [
        {"type": "lstm", "size": 1, "init": "uniform", "seed": 3},
        {"type": "recurrent", "activation": "tanh", "size": 1, "init": "uniform", "seed": 4},
        {"activation": "linear", "size": 1, "init": "uniform", "seed": 5}],
        "samples": [{"input": [[1], [0]], "target": [[0.5], [0.2]]}]}


def sequences(spec=None, batches=False):
    net = Network.from_spec(spec or example_path("rnn"))
    tracer = Tracer(batches=batches).attach(net)
    x, t = net.samples[0]["input"], net.samples[0]["target"]
    if batches:
        net.forward_pass(x)
        net.back_prop(t)
        net.update_weights(0.1)
        return tracer.batches
    net.step(x, t, 0.1)
    return tracer.sequences


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_the_older_entry_points_are_the_driver(fmt):
    steps, batches = feed_forward_steps(), feed_forward_steps(batches=True)
    seqs, seq_batches = sequences(), sequences(batches=True)
    assert render_trace(steps, fmt) == render_records(steps, fmt)
    assert render_trace(steps, fmt, bias_as_weight=True) == \
        render_records(steps, fmt, bias_as_weight=True)
    assert render_batches(batches, fmt) == render_records(batches, fmt)
    assert render_sequences(seqs, fmt, times=[1]) == render_records(seqs, fmt, times=[1])
    assert render_sequence_batches(seq_batches, fmt) == render_records(seq_batches, fmt)


def test_one_record_of_any_kind():
    step, seq = feed_forward_steps()[0], sequences()[0]
    batch, seq_batch = feed_forward_steps(batches=True)[0], sequences(batches=True)[0]
    assert render_record(step, "html", title="This step") == \
        render_step(step, "html", title="This step")
    assert render_record(seq, "markdown", times=[2], layers={1}) == \
        render_sequence(seq, "markdown", times=[2], layers={1})
    assert render_record(batch).startswith("Batch step 1: 2 samples")
    # a batch of sequences: each sequence's tables per time step, then the batch's sums
    text = render_record(seq_batch)
    assert "Sequence" not in text.split("\n")[0] and "T = " in text
    assert "Accumulated gradient" in text
    # the records are the whole of the document; the notes come before them
    assert render_records([step]) == "\n\n".join(notes(step) + [render_record(step)]) + "\n"
    assert render_records([seq]) == "\n\n".join(notes(seq) + [render_record(seq)]) + "\n"


def test_notes_without_records():
    """No record: the notes of the kind the caller names (a tracer knows its network's)."""
    assert render_records([]) == notes()[0] + "\n"
    time_note = notes(sequences=True)[1]
    assert time_note.startswith("Time steps t = 1..T")
    assert render_records([], sequences=True) == "\n\n".join(notes(sequences=True)) + "\n"
    assert render_sequences([]) == render_records([], sequences=True)
    assert len(notes(sequences()[0])) == 2
    assert len(notes(feed_forward_steps()[0])) == 1


def test_a_kind_refuses_what_it_cannot_show():
    steps, seqs = feed_forward_steps(), sequences()
    with pytest.raises(ValueError, match="^times: a feed-forward step has no time steps$"):
        render_records(steps, times=[1])
    with pytest.raises(ValueError, match="^bias_as_weight: not for the per-time-step"):
        render_records(seqs, bias_as_weight=True)
    with pytest.raises(ValueError, match="^unknown section 'updates'"):
        render_records(seqs, sections=("updates",))
    with pytest.raises(ValueError, match="^unknown format 'pdf'"):
        render_records(steps, "pdf")
    with pytest.raises(ValueError, match="^time step 9: the sequence has steps 1 to 4$"):
        render_records(seqs, times=[9])


def test_the_tracer_renders_through_the_driver():
    net = Network.from_spec(example_path("rnn"))
    tracer = Tracer(batches=True).attach(net)
    x, t = net.samples[0]["input"], net.samples[0]["target"]
    net.step(x, t, 0.1)
    assert tracer.render(times=[1]) == render_records(tracer.sequences, times=[1])
    assert tracer.render_batches(format="latex") == render_records(tracer.batches, "latex")


def test_document_wraps_html_and_latex_only():
    assert document("x", "plain") == "x" and document("x", "markdown") == "x"
    assert document("x", "html", title="t") == tables.html_document("x", title="t")
    assert document("x", "latex") == tables.latex_document("x")


def _update_rows(text, labels):
    """The rows of the plain update table whose first cell is one of ``labels``."""
    part = text[text.index("Update"):]
    return [line for line in part.split("\n") if line.split(" ")[0] in labels]


@pytest.mark.parametrize("update_biases", [True, False])
def test_a_fixed_bias_is_marked_in_its_row_for_every_kind(update_biases):
    """Feed-forward, dense/Elman and LSTM biases alike: "(fixed)" after each fixed bias's
    new value, in the header "(biases fixed)", and no weight is ever marked."""
    spec = gated_spec(update_biases)
    (seq,) = sequences(spec)
    text = render_record(seq)
    table = text[text.index("Update after the whole sequence"):]
    header = next(line for line in table.split("\n") if line.startswith("parameter"))
    assert header.endswith("(biases fixed)") is not update_biases
    rows = [line for line in table.split("\n")[3:] if line.strip()]
    fixed = [row for row in rows if row.endswith("(fixed)")]
    biases = [row for row in rows if row.startswith(("b", "a"))]   # b, b_x, b_h; not a[0]
    if update_biases:
        assert fixed == []
    else:
        # the LSTM's 4 gates x (b_x, b_h), the Elman b and the dense b
        assert len(fixed) == 4 * 2 + 2 and all(row.startswith("b") for row in fixed)
        assert set(fixed) <= set(biases)
    with open(example_path("mazur"), encoding="utf-8") as f:
        ff = json.load(f)
    ff["update_biases"] = update_biases
    net = Network.from_spec(ff)
    tracer = Tracer().attach(net)
    net.step(ff["samples"][0]["input"], ff["samples"][0]["target"], 0.5)
    ff_text = render_record(tracer.steps[0])
    ff_fixed = [line for line in ff_text.split("\n") if line.endswith("(fixed)")]
    assert len(ff_fixed) == (0 if update_biases else 4)
    assert all(line.startswith("b") for line in ff_fixed)


def test_a_feed_forward_trace_does_not_load_the_sequence_tables():
    """The per-time-step sections and the LSTM/GRU lines load when a sequence is
    rendered, not on `neuronsim trace` of a feed-forward network (start-up time)."""
    import subprocess
    import sys

    code = ("import contextlib, io, sys; from neuronsim.cli.main import main\n"
            "with contextlib.redirect_stdout(io.StringIO()): status = main(['trace', 'mazur'])\n"
            "print(status, sorted(m for m in ('neuronsim.render.sequence_tables', "
            "'neuronsim.render.gated_lines', 'neuronsim.trace.recurrent') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "0 []"
