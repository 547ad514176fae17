"""Running someone else's code: their backprop function and the module it lives in.

An exception raised inside the user's function, or while Python runs their
module, is *their* error, not a neuronsim input error: :class:`UserCodeError`
says so and names their function, the file and line where it was raised
(the innermost frame of their code in the traceback) and the exception.
The command line prints it and exits with status 2.

A shape error there (numpy's "matmul: ... mismatch in its core dimension",
torch's "mat1 and mat2 shapes cannot be multiplied") gets a hint with the
layout neuronsim hands over, since its classic cause is W where Wᵀ belongs.
"""

import inspect
import os
import sysconfig
import traceback

SHAPE_WORDS = ("shape", "dimension", "aligned", "broadcast", "size of tensor", "mat1 and mat2")


class UserCodeError(Exception):
    """An exception raised by the user's code.

    ``what`` names their code ("function backprop" or "module mycode"),
    ``filename`` and ``line`` the place it was raised, ``exception`` the
    original exception and ``hint`` extra advice (or "").
    """

    def __init__(self, what, filename, line, exception, hint=""):
        self.what = what
        self.filename = filename
        self.line = line
        self.exception = exception
        self.hint = hint
        place = filename if line is None else f"{filename}, line {line}"
        text = f"{what} ({place}) raised {type(exception).__name__}: {exception}"
        super().__init__(text + (f"\n{hint}" if hint else ""))


def _outside_user_code(filename):
    """True for frames of neuronsim itself, the standard library and installed packages."""
    if not filename or filename.startswith("<"):
        return True
    path = os.path.abspath(filename)
    package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    if path.startswith(package + os.sep):
        return True
    if "site-packages" in path.split(os.sep) or "dist-packages" in path.split(os.sep):
        return True
    stdlib = sysconfig.get_paths().get("stdlib")
    return bool(stdlib) and path.startswith(os.path.abspath(stdlib) + os.sep)


def where_raised(exception, fallback_file=None, fallback_line=None):
    """(file, line) of the innermost frame of user code in the exception's traceback."""
    if isinstance(exception, SyntaxError) and exception.filename:
        return exception.filename, exception.lineno
    frames = traceback.extract_tb(exception.__traceback__)
    for frame in reversed(frames):
        if not _outside_user_code(frame.filename):
            return frame.filename, frame.lineno
    return fallback_file or "?", fallback_line


def function_name(function):
    """The name a user knows their function by (``backprop``, ``Model.backprop``)."""
    return (getattr(function, "__qualname__", None) or getattr(function, "__name__", None)
            or repr(function))


def looks_like_shape_error(exception):
    text = str(exception).lower()
    return isinstance(exception, (ValueError, RuntimeError, IndexError)) and \
        any(word in text for word in SHAPE_WORDS)


def call_user_function(function, args, shape_hint=""):
    """``function(*args)``; an exception inside it becomes a :class:`UserCodeError`.

    ``shape_hint`` is added to the message when the exception is a shape error.
    """
    try:
        return function(*args)
    except Exception as exc:  # anything their code raises is theirs to see
        try:
            source = inspect.getsourcefile(function)
            first = inspect.getsourcelines(function)[1]
        except (TypeError, OSError):
            source, first = None, None
        filename, line = where_raised(exc, source, first)
        hint = shape_hint if shape_hint and looks_like_shape_error(exc) else ""
        raise UserCodeError(f"your function {function_name(function)}", filename, line, exc,
                            hint) from exc


def run_user_module(load, module_name, filename=None):
    """``load()`` (which imports or executes the user's module); an exception
    raised by their module's code becomes a :class:`UserCodeError`.

    A module that is not found at all is not their code's error: that
    ModuleNotFoundError is re-raised for the caller to report.
    """
    try:
        return load()
    except ModuleNotFoundError as exc:
        if exc.name is not None and (module_name == exc.name
                                     or module_name.startswith(exc.name + ".")):
            raise
        filename, line = where_raised(exc, filename)
        raise UserCodeError(f"importing your module {module_name}", filename, line,
                            exc) from exc
    except Exception as exc:  # SyntaxError, NameError, ... in their module
        filename, line = where_raised(exc, filename)
        raise UserCodeError(f"importing your module {module_name}", filename, line,
                            exc) from exc
    except SystemExit as exc:  # a script that calls sys.exit() at import
        raise UserCodeError(f"importing your module {module_name}", filename or "?", None,
                            exc) from None


def shape_hint(shapes):
    """The advice added to a shape error raised inside the user's function."""
    listed = ", ".join(f"{name} {tuple(shape)}" for name, shape in shapes)
    return ("neuronsim: a shape error in backprop code is most often W where Wᵀ belongs "
            "(code backward_transposed).  With one sample per row, as X is given: "
            "Z = A_prev Wᵀ + b forward, Δ⁽ˡ⁾ = (Δ⁽ˡ⁺¹⁾ W⁽ˡ⁺¹⁾) ⊙ g'(Z⁽ˡ⁾) backward "
            "(W, not Wᵀ: column form δ = Wᵀ δ_next), dW = Δᵀ A_prev / m, db = Δ summed "
            f"over the samples (axis 0).  Shapes here: {listed}.")
