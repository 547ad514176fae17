"""Reading a user's file: one function for every file neuronsim reads.

Network files, answer sheets (CSV) and arrays (.npy, .npz) are all read by
:func:`read_file_bytes`, which

- refuses anything that is not a regular file (a folder, a FIFO, a device
  such as ``/dev/zero``): those can block forever or never end;
- reads at most ``limit`` bytes (``MAX_FILE_BYTES`` unless a smaller limit
  is given) and refuses a larger file before reading it, and again if it
  grew while being read;
- names the file in every error, as a :class:`~neuronsim.core.errors.SpecError`.

:func:`read_text_file` adds UTF-8 decoding; :func:`load_arrays` reads an
.npy or .npz file without pickles, checking the array sizes (also of the
members of a compressed .npz, before they are decompressed) and refusing
complex and object arrays.

numpy and ``zipfile`` are imported by :func:`load_arrays`, the one function that
needs them, so that reading a network file stays quick to start.
"""

import io
import os
import stat

from ..core.errors import SpecError

# No file neuronsim reads may be larger than this (a network of the largest
# allowed size, MAX_PARAMETERS numbers written with all 17 digits, fits).
MAX_FILE_BYTES = 512 * 1024 * 1024

NPY_MAGIC = b"\x93NUMPY"
ZIP_MAGIC = b"PK\x03\x04"
EMPTY_ZIP = b"PK\x05\x06"


def read_file_bytes(path, limit=MAX_FILE_BYTES, what="file"):
    """The bytes of the regular file ``path``, at most ``limit`` of them.

    Opened without blocking (a FIFO would otherwise wait for a writer), then
    checked with ``fstat`` on the open file itself, so that what is checked
    is what is read.
    """
    path = os.fspath(path)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        raise SpecError(f"{path}: cannot read ({exc.strerror or exc})") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise SpecError(f"{path}: not a regular file ({_kind(info.st_mode)}); "
                            f"give the path of a {what}")
        if info.st_size > limit:
            raise SpecError(f"{path}: the file is {info.st_size:,} bytes; the limit for a "
                            f"{what} is {limit:,}")
        with os.fdopen(fd, "rb", closefd=False) as handle:
            data = handle.read(limit + 1)
    except OSError as exc:
        raise SpecError(f"{path}: cannot read ({exc.strerror or exc})") from None
    finally:
        os.close(fd)
    if len(data) > limit:
        raise SpecError(f"{path}: the file is more than {limit:,} bytes (the limit for a "
                        f"{what})")
    return data


def _kind(mode):
    """What a non-regular file is, in words."""
    for test, name in ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a named pipe"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                       (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return name
    return "not a plain file"


def read_text_file(path, limit=MAX_FILE_BYTES, what="file", encoding="utf-8"):
    """The text of ``path`` (UTF-8, a byte-order mark allowed with "utf-8-sig")."""
    data = read_file_bytes(path, limit, what)
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise SpecError(f"{path}: not UTF-8 text (byte {exc.start}): not a text file, and "
                        f"the {what} must be UTF-8 text") from None


# ---------------------------------------------------------------- arrays
ARRAY_SUFFIXES = {"npy": "an .npy file (one array)", "npz": "an .npz archive (named arrays)"}
MAX_ARRAYS = 10_000


def array_file_kind(data):
    """"npy", "npz" or None, from the first bytes of a file."""
    if data.startswith(NPY_MAGIC):
        return "npy"
    if data.startswith((ZIP_MAGIC, EMPTY_ZIP)):
        return "npz"
    return None


def load_arrays(path, expect="npz", limit=MAX_FILE_BYTES):
    """The arrays of an .npz (``expect="npz"``: a dict name -> array) or the
    array of an .npy file (``expect="npy"``), read without pickles.

    The file is read by :func:`read_file_bytes` (its size limit applies), and
    each array's size is checked from its header before its data is read (or
    decompressed), so that a small compressed file cannot unpack to
    gigabytes.  Complex and object arrays are refused: neuronsim compares
    real numbers.
    """
    import zipfile

    import numpy as np

    if expect not in ARRAY_SUFFIXES:
        raise ValueError(f"expect must be 'npy' or 'npz', got {expect!r}")
    data = read_file_bytes(path, limit, what=ARRAY_SUFFIXES[expect].split(" (")[0][3:])
    kind = array_file_kind(data)
    if kind is None:
        raise SpecError(f"{path}: not {ARRAY_SUFFIXES[expect]}: it does not start like "
                        "one (numpy.save writes .npy, numpy.savez writes .npz)")
    if kind != expect:
        raise SpecError(f"{path}: this is {ARRAY_SUFFIXES[kind]}, but {ARRAY_SUFFIXES[expect]} "
                        "is expected here")
    if kind == "npy":
        return _read_npy(io.BytesIO(data), f"{path}", limit, np)
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise SpecError(f"{path}: not a readable .npz archive ({exc})") from None
    if len(members) > MAX_ARRAYS:
        raise SpecError(f"{path}: {len(members):,} arrays; at most {MAX_ARRAYS:,} are read")
    arrays, total = {}, 0
    for member in members:
        name = member.filename
        if not name.endswith(".npy"):
            raise SpecError(f"{path}: the member {_short(name)} is not an .npy array")
        where = f"{path}[{_short(name[:-4])}]"
        try:
            with archive.open(member) as stream:
                array = _read_npy(stream, where, limit - total, np)
        except (zipfile.BadZipFile, OSError, EOFError, RuntimeError) as exc:
            raise SpecError(f"{where}: cannot be read from the archive ({exc})") from None
        total += array.nbytes
        arrays[name[:-4]] = array
    return arrays


def _read_npy(stream, where, limit, np):
    """One array from an .npy stream, its header checked before its data is read."""
    from numpy.lib import format as npy

    try:
        version = npy.read_magic(stream)
        if version == (1, 0):
            shape, fortran, dtype = npy.read_array_header_1_0(stream)
        elif version in ((2, 0), (3, 0)):
            shape, fortran, dtype = npy.read_array_header_2_0(stream)
        else:
            raise ValueError(f"unknown .npy version {version}")
    except (ValueError, EOFError, OSError, SyntaxError) as exc:
        raise SpecError(f"{where}: not a valid .npy array ({_short(str(exc), 80)})") from None
    if dtype.hasobject:
        raise SpecError(f"{where}: holds Python objects; only arrays of real numbers are read "
                        "(save them with numpy.save of a float or int array)")
    if dtype.kind == "c":
        raise SpecError(f"{where}: complex numbers ({dtype}); only real numbers are compared")
    if dtype.kind not in "biuf":
        raise SpecError(f"{where}: an array of {dtype}; only numbers are read")
    count = 1
    for n in shape:
        count *= n
    if count * dtype.itemsize > limit:
        raise SpecError(f"{where}: an array of shape {shape} ({count * dtype.itemsize:,} "
                        f"bytes) is larger than the limit of {max(limit, 0):,} bytes")
    stream_bytes = stream.read(count * dtype.itemsize + 1)
    if len(stream_bytes) < count * dtype.itemsize:
        raise SpecError(f"{where}: the file ends before the array's {count:,} values "
                        "(truncated?)")
    array = np.frombuffer(stream_bytes[:count * dtype.itemsize], dtype=dtype)
    array = array.reshape(shape[::-1]).transpose() if fortran else array.reshape(shape)
    return array.copy()


def _short(text, most=40):
    text = repr(text)
    return text if len(text) <= most else text[:most - 3] + "..."
