"""What a student of ``neuronsim serve`` can download: (text, file name, media type).

- the network file as it stands (neuronsim.files.spec, refused as
  neuronsim.files.saving refuses a network with a NaN or infinity);
- the trace of the step the page shows, in any format of ``neuronsim trace``
  (plain, markdown, latex, html: a whole document for the last two);
- the HTML walkthrough of one whole step (forward, backward, update) of the
  chosen sample with the current weights, as ``neuronsim report`` writes it
  (neuronsim.classroom.report_html).

Nothing is read from or written to the server's disk: each file is made
in memory from the session.  File names are fixed words, never user text.
"""

import json

from ..classroom.report_html import sequence_walkthrough_html, walkthrough_html
from ..core.errors import NeuronsimError
from ..files.saving import first_non_finite
from ..files.spec import spec_from_network
from ..render import draw
from ..render.tables import FORMATS, document, notes, render_record, render_records
from ..trace.walk import walk, walk_sequence
from . import actions
from .page import DIGITS, is_sequence


def network_file(session):
    net = actions.need_network(session)
    bad = first_non_finite(net)
    if bad is not None:
        where, value = bad
        raise NeuronsimError(f"not saved: {where} is {value} (a network file holds finite "
                             "numbers only)")
    text = json.dumps(spec_from_network(net), indent=2, allow_nan=False) + "\n"
    return text, "network.json", "application/json"


def trace_file(session, format):
    actions.need_network(session)
    if format not in FORMATS:
        raise NeuronsimError(f"unknown format {format!r} (known: {', '.join(FORMATS)})")
    record = session.record
    if record is None:
        raise NeuronsimError(session.refusal or "no step traced yet: press Forward or Step")
    text = document(render_records([record], format=format, digits=DIGITS), format)
    extension = {"plain": "txt", "markdown": "md", "latex": "tex", "html": "html"}[format]
    media = {"html": "text/html", "markdown": "text/markdown"}.get(format, "text/plain")
    return text, f"trace.{extension}", media


def walkthrough_file(session):
    """One whole traced step of the chosen sample with the current weights
    (the session is not changed)."""
    net = actions.need_network(session)
    pair = actions.sample_pair(net, session.sample)
    work, record, refusal = actions.trace_copy(net, pair, "updated")
    # the diagram shows the weights the walk uses (``work`` is already updated)
    shown = net.copy()
    shown.forward_pass(pair[0])
    if record is None:
        raise NeuronsimError(refusal or "nothing to walk through")
    title = f"neuronsim walkthrough: {session.name}"
    if is_sequence(record):
        computations = walk_sequence(record, format="html", digits=DIGITS)
        page = sequence_walkthrough_html(
            record, computations, title=title, note="\n".join(notes(record, digits=DIGITS)),
            diagram=draw.svg(shown), tables=render_record(record, format="html", digits=DIGITS),
            digits=DIGITS)
    else:
        computations = walk(record, format="html", digits=DIGITS)
        page = walkthrough_html(record, computations, title=title,
                                note="\n".join(notes(record, digits=DIGITS)), digits=DIGITS)
    return page, "walkthrough.html", "text/html"
