"""Writing files so that nothing a user saved is ever half-written.

Text goes to a temporary file in the destination's folder, is flushed to
disk, and then renamed over the destination in one step (``os.replace`` is
atomic on POSIX and Windows).  If anything fails, the old file is untouched
and the temporary file is removed.
"""

import os


def atomic_write_text(path, text, encoding="utf-8"):
    """Write ``text`` to ``path`` atomically; a character the encoding cannot
    write is a ValueError naming the file and the position."""
    try:
        data = text.encode(encoding)
    except UnicodeEncodeError as exc:
        raise ValueError(f"{os.fspath(path)}: cannot write character {exc.object[exc.start]!r} "
                         f"at position {exc.start} as {encoding}; nothing was written") from None
    atomic_write_bytes(path, data)


def atomic_write_bytes(path, data):
    """Write ``data`` to ``path`` atomically (temporary file, fsync, rename).

    A symbolic link is followed (the file it points to is replaced), an
    existing file keeps its permissions, and a destination that is not a
    regular file (``/dev/null``, ``/dev/stdout``, a pipe) is written to
    directly: there is no half-written file to fear, and renaming over a
    device would replace it.
    """
    path = os.fspath(path)
    target = os.path.realpath(path)
    if os.path.exists(target) and not os.path.isfile(target):
        try:
            with open(target, "wb") as handle:
                handle.write(data)
        except OSError as exc:
            raise OSError(f"{path}: cannot write ({exc.strerror or exc})") from None
        return
    import tempfile   # here, not at the top: the commands that only print start quicker

    folder = os.path.dirname(target)
    try:
        fd, tmp = tempfile.mkstemp(prefix=".neuronsim-", suffix=".tmp", dir=folder)
    except OSError as exc:
        # Name the file the user asked for, not the temporary one.
        raise OSError(f"{path}: cannot write ({exc.strerror or exc})") from None
    try:
        os.chmod(tmp, _mode_for(target))
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(exc, OSError):
            # disk full, quota, a read-only folder: name the user's file, not the
            # temporary one; the old file (if any) is untouched
            raise OSError(f"{path}: cannot write ({exc.strerror or exc}); the file is "
                          "unchanged") from None
        raise


def _mode_for(target):
    """The existing file's permissions, or the usual ones for a new file (0666 less umask)."""
    try:
        return os.stat(target).st_mode & 0o7777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask
