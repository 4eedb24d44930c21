"""SFTP against a real OpenSSH server on loopback (tests/sftp_server.py): a file written once under a
temporary name and renamed, host keys checked, key authentication only, an inbox listed, fetched and
archived only when told its files are durable."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from paydag.storage import done_with, fetch_input, inbox_files
from paydag.storage.sftp import (
    SftpCredentials,
    SftpError,
    SftpFolder,
    SftpLocation,
    SftpRefused,
    SftpUnreachable,
)


def folder(server, name: str = "") -> SftpFolder:
    (server.local(name)).mkdir(parents=True, exist_ok=True)
    return SftpFolder(SftpLocation.parse(server.url(name)), server.credentials, timeout=5)


def test_a_file_is_written_once_under_a_temporary_name_and_renamed(sftp_server) -> None:
    with folder(sftp_server, "outbox") as remote:
        assert remote.write_once("PD1.xml", b"<Document/>") is True
        assert (sftp_server.local("outbox") / "PD1.xml").read_bytes() == b"<Document/>"
        assert [p.name for p in sftp_server.local("outbox").iterdir()] == ["PD1.xml"]  # no temporary left
        assert remote.write_once("PD1.xml", b"<Document/>") is False  # a rerun: found, not written again
        with pytest.raises(SftpError, match="already holds other bytes"):
            remote.write_once("PD1.xml", b"<Other/>")
        # a crash between the temporary write and the rename leaves a hidden part: never listed, overwritten
        (sftp_server.local("outbox") / ".PD2.xml.part").write_bytes(b"<Docu")
        assert [f.name for f in remote.files()] == ["PD1.xml"]
        assert remote.write_once("PD2.xml", b"<Document>2</Document>") is True
        assert (sftp_server.local("outbox") / "PD2.xml").read_bytes() == b"<Document>2</Document>"


def test_an_unknown_host_key_is_refused_not_learned(sftp_server, tmp_path: Path) -> None:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp_path / "other")], check=True)
    kind, key = (tmp_path / "other.pub").read_text().split()[:2]
    wrong = SftpCredentials(
        sftp_server.key_file.read_text(), f"[127.0.0.1]:{sftp_server.port} {kind} {key}\n"
    )
    with pytest.raises(SftpRefused, match=r"BadHostKey|host key"):
        SftpFolder(SftpLocation.parse(sftp_server.url()), wrong, timeout=5)
    unknown = SftpCredentials(sftp_server.key_file.read_text(), "")
    with pytest.raises(SftpRefused, match="not in known_hosts"):
        SftpFolder(SftpLocation.parse(sftp_server.url()), unknown, timeout=5)
    with pytest.raises(SftpRefused, match="not in known_hosts"):  # and it was not learned meanwhile
        SftpFolder(SftpLocation.parse(sftp_server.url()), unknown, timeout=5)


def test_only_our_key_is_let_in(sftp_server, tmp_path: Path) -> None:
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp_path / "stranger")], check=True
    )
    stranger = SftpCredentials((tmp_path / "stranger").read_text(), sftp_server.known_hosts_file.read_text())
    with pytest.raises(SftpRefused, match="Authentication"):
        SftpFolder(SftpLocation.parse(sftp_server.url()), stranger, timeout=5)
    assert stranger.private_key.splitlines()[1] not in repr(stranger)  # the key is never printed


def test_a_server_that_is_gone_is_unreachable(sftp_server) -> None:
    location = SftpLocation.parse(sftp_server.url())
    sftp_server.stop()
    with pytest.raises(SftpUnreachable):
        SftpFolder(location, sftp_server.credentials, timeout=5)


def test_an_inbox_is_listed_fetched_and_archived_once_durable(sftp_server, tmp_path: Path) -> None:
    inbox = sftp_server.local("settlement")
    inbox.mkdir()
    (inbox / "TL-1.xml").write_bytes(b"<one/>")
    (inbox / "TL-2.xml").write_bytes(b"<two/>")
    (inbox / ".TL-3.xml.part").write_bytes(b"<thr")  # still being written by the sender
    url = sftp_server.url("settlement")
    found = dict(inbox_files(url, sftp_server.credentials))
    assert found == {f"{url}/TL-1.xml": b"<one/>", f"{url}/TL-2.xml": b"<two/>"}
    local = fetch_input(f"{url}/TL-1.xml", tmp_path, sftp_server.credentials)
    assert local.read_bytes() == b"<one/>"
    moved = done_with(f"{url}/TL-1.xml", sftp_server.credentials)
    assert moved == f"{url}/archive/TL-1.xml"
    assert sorted(p.name for p in inbox.iterdir()) == [".TL-3.xml.part", "TL-2.xml", "archive"]
    assert (inbox / "archive" / "TL-1.xml").read_bytes() == b"<one/>"
    assert dict(inbox_files(url, sftp_server.credentials)) == {f"{url}/TL-2.xml": b"<two/>"}


def test_credentials_come_from_the_environment(sftp_server, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in sftp_server.env.items():
        monkeypatch.setenv(name, value)
    sftp_server.local("in").mkdir()
    (sftp_server.local("in") / "a.xml").write_bytes(b"<a/>")
    assert inbox_files(sftp_server.url("in")) == [(sftp_server.url("in") + "/a.xml", b"<a/>")]
    monkeypatch.delenv("PAYDAG_SFTP_KEY_FILE")
    with pytest.raises(SftpError, match="PAYDAG_SFTP_KEY_FILE"):
        inbox_files(sftp_server.url("in"))


def test_a_url_with_a_password_is_refused() -> None:
    with pytest.raises(SftpError, match="no password"):
        SftpLocation.parse("sftp://bank:secret@sftp.example.se/out")
