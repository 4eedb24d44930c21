"""Files appear whole or not at all: nothing half-written under the name, no temporary left behind."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from paydag.atomic import replacing, write_once, write_replacing


def test_replacing_gives_the_name_only_when_the_block_succeeds(tmp_path: Path) -> None:
    target = tmp_path / "out" / "file.xml"
    write_replacing(target, b"first")
    with pytest.raises(RuntimeError), replacing(target) as file:
        file.write(b"half of the sec")
        raise RuntimeError("the writer died")
    assert target.read_bytes() == b"first"  # what was there is untouched
    with replacing(target) as file:
        file.write(b"second")
        assert target.read_bytes() == b"first"  # not yet under the name while it is written
    assert target.read_bytes() == b"second"
    assert [p.name for p in target.parent.iterdir()] == ["file.xml"]  # no temporary left


def test_write_once_never_overwrites(tmp_path: Path) -> None:
    target = tmp_path / "drop" / "Camt054C.xml"
    assert write_once(target, b"the first copy")
    assert not write_once(target, b"another copy")
    assert target.read_bytes() == b"the first copy"
    assert [p.name for p in target.parent.iterdir()] == ["Camt054C.xml"]


def test_a_secret_file_is_private_from_its_first_byte(tmp_path: Path) -> None:
    target = tmp_path / "token.json"
    write_replacing(target, b"{}", mode=0o600)
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
