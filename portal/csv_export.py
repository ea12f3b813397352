"""Writing CSV that spreadsheets open safely: no cell can start a formula (CSV injection)."""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable
from typing import Any, Protocol

# Excel, LibreOffice and Google Sheets start a formula (or a DDE call) with these; tab and carriage
# return are there because some programs strip them and then see the next character.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"^-?[0-9]+(?:[.,][0-9]+)?$")


class _Writable(Protocol):
    def write(self, text: str, /) -> Any: ...


def safe_cell(value: Any) -> Any:
    """`value`, with text that a spreadsheet would run as a formula prefixed by an apostrophe.

    Plain numbers (-12.50) stay numbers: they start with a minus sign but are not formulas.
    """
    if not isinstance(value, str) or not value.startswith(FORMULA_STARTS) or _NUMBER.match(value):
        return value
    return "'" + value


class SafeWriter:
    """csv.writer whose every cell goes through safe_cell: the one way the portal writes CSV."""

    def __init__(self, out: _Writable, **options: Any) -> None:
        self._writer = csv.writer(out, **options)

    def writerow(self, row: Iterable[Any]) -> Any:
        return self._writer.writerow([safe_cell(cell) for cell in row])

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for row in rows:
            self.writerow(row)
