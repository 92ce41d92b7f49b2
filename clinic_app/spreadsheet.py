"""Cells for CSV files a person will open in a spreadsheet program.

A spreadsheet runs a cell that starts with = + - @ (or a tab or carriage return before one) as
a formula. A program that splits the file on another separator (; | tab, or , inside a quoted
cell) starts a new cell after each of them, so the guard must hold at the start of the text and
after every separator, not only at the first character."""

import re
from typing import Any

# A formula trigger at the start or after any separator, past any spaces.
_TRIGGER = re.compile(r"(^|[;,|\t\r\n])( *)(?=[=+\-@\t\r])")


def safe_cell(value: Any) -> Any:
    """`value` with a ' before every formula trigger that could start a cell; text only
    (numbers and None pass unchanged, and they cannot start a formula)."""
    if not isinstance(value, str):
        return value
    return _TRIGGER.sub(r"\1\2'", value)
