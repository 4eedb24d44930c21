"""The xml2arrow mapping of a transaction list's rows, and a file's rows read ahead with it.

Neither needs pandas, GX or the readers: a command imports this first and starts the read (on a
thread, the GIL released) before it imports the rest (`columnar.read_ahead`); the Arrow reader then
takes the rows read (`columnar.parse_file`).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from paydag.formats.columnar import (
    HEAD,
    CannotServe,
    as_utf8,
    compile_mapping,
    read_ahead,
    root_element,
    text_field,
)
from paydag.formats.settlement.layout import LAYOUTS, Layout
from paydag.formats.xml import FormatError


@lru_cache(maxsize=16)
def rows_parser(layout: Layout, extra: tuple[str, ...]) -> Any:
    """An xml2arrow parser for the rows: every body currency a boundary (`<body>`, its ordinal among
    the root's body currencies), every row attribute a nullable text column."""
    body = f"/{layout.root}/{layout.body}"
    return compile_mapping(f"settlement-v{layout.version}", [
        {"name": "bodies", "xml_path": f"/{layout.root}", "levels": ["body"], "fields": []},
        {"name": "rows", "xml_path": body, "levels": ["body", "row"],
         "fields": [text_field(a, f"{body}/{layout.row}/@{a}") for a in (*layout.columns, *extra)]},
    ], trim_text=False)  # fmt: skip


def read_rows_ahead(path: Path) -> bool:
    """Start reading the rows of the file at `path` if its head is a transaction list's in UTF-8
    (whether it is sound is the reader's to say); whether a read was started."""
    try:
        with path.open("rb") as f:
            head = f.read(HEAD)
        if as_utf8(head, path.name, []) is not head:
            return False  # to be transcoded first: the reader reads it in memory
        local, _, _ = root_element(head, path.name)
    except (OSError, FormatError, CannotServe):
        return False
    layout = next((lo for lo in LAYOUTS if lo.root == local), None)
    if layout is None:
        return False
    read_ahead(rows_parser(layout, ()), path)
    return True
