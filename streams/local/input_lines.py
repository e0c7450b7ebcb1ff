"""An input file as event lines, the same way for `dana-wf run` and the Python entry point."""

from __future__ import annotations

from pathlib import Path

# a byte-order mark at the start of the file (Excel's and Notepad's "UTF-8 with BOM") is the file's encoding
# mark, not a character of the first event: utf-8-sig drops it there and is UTF-8 everywhere else
INPUT_ENCODING = "utf-8-sig"


def read_input_lines(path: Path) -> list[str]:
    """The input's lines. Split on newlines only (str.splitlines would also cut at U+2028, which a JSON
    string may hold); bytes that are not UTF-8 survive as surrogate escapes, so admission sends that
    one line to dlq with the reason instead of the whole run failing."""
    text = path.read_bytes().decode(INPUT_ENCODING, "surrogateescape")
    lines = [line.removesuffix("\r") for line in text.split("\n")]
    if lines[-1] == "":  # the end of the last line, not a blank line of its own (blank lines go to dlq)
        lines.pop()
    return lines
