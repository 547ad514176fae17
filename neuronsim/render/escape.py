"""Escaping text that comes from users, one function per output format.

Network names, student answers, labels read from a CSV and file names are
text from users.  Before such text goes into a document it is escaped for
that document's format, so that it shows as the characters typed and never
acts as markup or as a command:

- :func:`latex_text`: LaTeX text mode.  Every special character (``\\ { } $ &
  # ^ _ % ~``) becomes its printed form, so no command (``\\input``,
  ``\\write18``) passes through.
- :func:`markdown_cell`: a cell of a Markdown table.  ``|`` would end the
  cell and a newline the row; ``<`` and ``&`` would start HTML.
- :func:`terminal_text`: plain text for a terminal.  Control characters
  (escape sequences start with ESC) and the invisible Unicode controls
  that reorder text are shown as visible escapes such as ``\\x1b``.
- HTML and SVG use :func:`html.escape` (neuronsim.classroom.report_html,
  neuronsim.render.draw).

:func:`escape_for` picks one by format name.
"""

import re

_LATEX = {
    "\\": r"\textbackslash{}", "{": r"\{", "}": r"\}", "$": r"\$", "&": r"\&",
    "#": r"\#", "^": r"\^{}", "_": r"\_", "%": r"\%", "~": r"\~{}",
    "<": r"\textless{}", ">": r"\textgreater{}", "|": r"\textbar{}", "\n": " ", "\r": " ",
}
# The patterns of LaTeX and Markdown: re compiles them on first use and keeps them (not
# at import: a plain-text command never uses them).
_LATEX_PATTERN = "|".join(re.escape(c) for c in _LATEX)


def latex_text(text):
    """``text`` for LaTeX text mode: specials escaped, newlines as spaces, no
    control characters (``latex_text(r"\\input{x}")`` is
    ``\\textbackslash{}input\\{x\\}``)."""
    return re.sub(_LATEX_PATTERN, lambda m: _LATEX[m.group(0)],
                  terminal_text(str(text), keep="\n"))


_MARKDOWN = {"|": r"\|", "\\": "\\\\", "<": "&lt;", ">": "&gt;", "&": "&amp;",
             "`": r"\`", "\n": " ", "\r": " "}
_MARKDOWN_PATTERN = "|".join(re.escape(c) for c in _MARKDOWN)


def markdown_cell(text):
    """``text`` for one cell of a Markdown table: ``|`` escaped, newlines as
    spaces, ``<`` ``>`` ``&`` as entities, control characters made visible."""
    return re.sub(_MARKDOWN_PATTERN, lambda m: _MARKDOWN[m.group(0)],
                            terminal_text(str(text), keep="\n\r"))


# C0 and C1 controls and DEL; and the Unicode marks that reorder or hide text
# (bidirectional overrides and isolates, zero-width characters).  None of them is
# printable (str.isprintable), so text of printable characters has none: terminal_text
# returns it as it is, and re compiles the pattern only for text that may have one
# (compiling it costs about a millisecond of every command's start-up).
_CONTROL = "[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]"


def terminal_text(text, keep=""):
    """``text`` with every control character shown as a visible escape
    (ESC as ``\\x1b``, a newline as ``\\n``); characters in ``keep`` (e.g.
    ``"\\n"`` for multi-line output) stay as they are."""
    text = str(text)
    rest = text          # the text without the characters kept
    for char in keep:
        rest = rest.replace(char, "")
    if rest.isprintable():   # no control character in it (see _CONTROL)
        return text

    def visible(match):
        char = match.group(0)
        if char in keep:
            return char
        code = ord(char)
        if char == "\n":
            return "\\n"
        if char == "\t":
            return "\\t"
        if char == "\r":
            return "\\r"
        return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"

    return re.sub(_CONTROL, visible, text)


def terminal_output(text):
    """A whole plain-text output for a terminal: lines and tabs kept, every
    other control character made visible (see :func:`terminal_text`)."""
    return terminal_text(text, keep="\n\t")


def html_text(text):
    """Text for HTML: :func:`html.escape` (``& < > " '`` as character references);
    the ``html`` module is imported on first use, off the plain-text path."""
    import html

    return html.escape(text)


ESCAPES = {
    "latex": latex_text,
    "markdown": markdown_cell,
    "html": html_text,
    "plain": terminal_text,
    "text": terminal_text,
}


def escape_for(format):
    """The escaping function of ``format``: latex, markdown, html or plain/text."""
    try:
        return ESCAPES[format]
    except KeyError:
        raise ValueError(f"unknown format {format!r} (known: {', '.join(ESCAPES)})") from None
