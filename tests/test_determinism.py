"""Same seed, same bytes; and a save that fails never leaves a half-written file.

Determinism is checked on what a user keeps: the saved network file and the
trace (streamed JSON Lines and the rendered tables), within one process and
across processes with different hash seeds (set and dict order must not
leak into any number or file).
"""

import hashlib
import json
import os
import subprocess
import sys

import pytest

from neuronsim import Network, SpecError
from neuronsim.files.spec import load_network, save_spec
from neuronsim.trace import Tracer
from neuronsim.trace.stream import StreamTracer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

SPEC = {
    "inputs": 3, "seed": 5, "loss": "cross_entropy", "learning_rate": 0.4,
    "layers": [{"activation": "tanh", "size": 4, "init": "xavier"},
               {"activation": "relu", "size": 3, "init": "he", "seed": 9},
               {"activation": "softmax", "size": 3, "init": "uniform", "scale": 0.5}],
    "samples": [{"input": [0.1 * i, -0.2 * i, 0.3], "target": [int(i % 3 == j) for j in range(3)]}
                for i in range(7)],
}

# The run, as a script, so the very same code runs here and in a fresh process.
RUN = '''
import hashlib, io, sys
from neuronsim import Network
from neuronsim.trace import Tracer
from neuronsim.trace.stream import StreamTracer

def run(spec, folder):
    net = Network.from_spec(spec)
    stream = io.StringIO()
    streamer = StreamTracer(stream, layers={2, 0}, neurons={2, 1, 0})
    streamer.attach(net)
    net.train(epochs=3, batch_size=2, seed=11)
    streamer.close()
    tracer = Tracer(layers={1}).attach(net)
    net.train(epochs=1, batch_size=3, seed=12)
    path = folder + "/net.json"
    net.save(path)
    with open(path, "rb") as handle:
        saved = handle.read()
    digests = [hashlib.sha256(part).hexdigest()
               for part in (saved, stream.getvalue().encode(), tracer.render().encode())]
    return digests, len(stream.getvalue())
'''
namespace = {}
exec(RUN, namespace)
run = namespace["run"]


def test_same_seed_same_bytes_in_one_process(tmp_path):
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir(), second.mkdir()
    digests, stream_length = run(SPEC, str(first))
    assert stream_length > 10_000                      # the trace is not trivially empty
    assert run(SPEC, str(second))[0] == digests
    assert (first / "net.json").read_bytes() == (second / "net.json").read_bytes()


def test_a_different_seed_gives_different_bytes(tmp_path):
    """The control for the tests around it: the digests do see the seed."""
    digests = run(SPEC, str(tmp_path))[0]
    assert run(dict(SPEC, seed=6), str(tmp_path))[0][0] != digests[0]


@pytest.mark.parametrize("hash_seed", ["0", "4242"])
def test_same_bytes_in_another_process(tmp_path, hash_seed):
    here = run(SPEC, str(tmp_path))[0]
    spec_text = json.dumps(json.dumps(SPEC))
    script = RUN + (f"\nimport json\n"
                    f"print(json.dumps(run(json.loads({spec_text}), {str(tmp_path)!r})[0]))\n")
    env = dict(os.environ, PYTHONHASHSEED=hash_seed, PYTHONPATH=ROOT)
    result = subprocess.run([sys.executable, "-c", script], env=env, cwd=ROOT,
                            stdin=subprocess.DEVNULL,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == here


def test_saved_file_reads_back_to_the_same_network(tmp_path):
    net = Network.from_spec(SPEC)
    net.train(epochs=2, seed=3)
    net.save(tmp_path / "net.json")
    again = load_network(tmp_path / "net.json")
    assert again.to_spec() == net.to_spec()
    again.save(tmp_path / "again.json")
    assert (tmp_path / "again.json").read_bytes() == (tmp_path / "net.json").read_bytes()


# ---------------------------------------------------------------- atomic saving
class FailingFile:
    """Wraps a file; ``write`` writes half of the data, then fails like a full disk."""

    def __init__(self, handle, error):
        self.handle = handle
        self.error = error

    def write(self, data):
        self.handle.write(data[:len(data) // 2])
        self.handle.flush()
        raise self.error

    def __getattr__(self, name):
        return getattr(self.handle, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.handle.close()
        return False


@pytest.mark.parametrize("error", [OSError(28, "No space left on device"), KeyboardInterrupt()],
                         ids=["disk-full", "interrupted"])
@pytest.mark.parametrize("save", ["net.save", "save_spec"])
def test_a_failed_save_leaves_the_old_file_whole(tmp_path, monkeypatch, error, save):
    path = tmp_path / "net.json"
    old = Network.from_spec(SPEC)
    old.save(path)
    before = path.read_bytes()
    new = Network.from_spec(dict(SPEC, seed=99))
    real_fdopen = os.fdopen
    monkeypatch.setattr(os, "fdopen", lambda *a, **k: FailingFile(real_fdopen(*a, **k), error))
    with pytest.raises(type(error)):
        if save == "net.save":
            new.save(path)
        else:
            save_spec(new.to_spec(), path)
    monkeypatch.undo()
    assert path.read_bytes() == before                   # the old file, every byte of it
    assert os.listdir(tmp_path) == ["net.json"]          # and no temporary file left behind
    assert load_network(path).to_spec() == old.to_spec()


def test_a_failed_rename_leaves_no_file(tmp_path, monkeypatch):
    """Nothing existed: after a failure there is still nothing, not half a file."""
    def no_rename(source, target):
        raise OSError(13, "Permission denied")

    monkeypatch.setattr(os, "replace", no_rename)
    with pytest.raises(OSError):
        Network.from_spec(SPEC).save(tmp_path / "net.json")
    assert os.listdir(tmp_path) == []


def test_a_half_written_file_fails_to_load_with_a_clear_message(tmp_path):
    """What a non-atomic writer would leave behind is refused, naming file, line, column."""
    path = tmp_path / "net.json"
    Network.from_spec(SPEC).save(path)
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 2])
    with pytest.raises(SpecError, match=rf"^{path}:\d+:\d+: not valid JSON \("):
        load_network(path)


def test_saving_to_a_device_or_through_a_link_keeps_them(tmp_path):
    """-o /dev/null must not turn the device into a file; a link keeps pointing at its file."""
    import stat

    from neuronsim.files.atomic import atomic_write_text

    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    import threading

    received = []
    reader = threading.Thread(target=lambda: received.append(open(fifo).read()))
    reader.start()
    atomic_write_text(fifo, "through the pipe\n")
    reader.join(timeout=10)
    assert received == ["through the pipe\n"]
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)
    real = tmp_path / "real.json"
    real.write_text("old")
    os.chmod(real, 0o600)
    link = tmp_path / "link.json"
    link.symlink_to(real)
    atomic_write_text(link, "new")
    assert link.is_symlink() and real.read_text() == "new"
    assert stat.S_IMODE(os.stat(real).st_mode) == 0o600
