"""The SFTP payment channel against a real OpenSSH server on loopback: upload to the outbox (found by its
senderReference before a second upload), return files listed and fetched from the inbox and moved to
the archive only when acknowledged; its failures in the provider error hierarchy."""

from __future__ import annotations

import pytest

from paydag.providers.channel import SendMode
from paydag.providers.errors import ProviderError, ProviderUnavailable
from paydag.providers.sftp import SftpChannel
from paydag.storage.sftp import SftpCredentials, SftpLocation


def channel(server, credentials: SftpCredentials | None = None) -> SftpChannel:
    for folder in ("outbox", "inbox"):
        server.local(f"bank/{folder}").mkdir(parents=True, exist_ok=True)
    return SftpChannel(SftpLocation.parse(server.url("bank")), credentials or server.credentials)


def upload(c: SftpChannel, data: bytes = b"<Document/>") -> str:
    return c.upload(data, "PD7.xml", sender_reference="PD7", company_id="demo-0001", document_type="pain.001",
                    send_mode=SendMode.TEST)  # fmt: skip


def test_an_upload_is_found_by_its_sender_reference_and_not_written_twice(sftp_server) -> None:
    c = channel(sftp_server)
    try:
        assert c.find_by_sender_reference("PD7", "demo-0001") is None
        file_id = upload(c)
        assert file_id == "PD7.xml"
        found = c.find_by_sender_reference("PD7", "demo-0001")
        assert found is not None and found.id == "PD7.xml"
        assert upload(c) == "PD7.xml"  # the same bytes again: a no-op
        assert [p.name for p in sftp_server.local("bank/outbox").iterdir()] == ["PD7.xml"]
        assert c.status(file_id).state == "WAITING"
        (sftp_server.local("bank/outbox") / "PD7.xml").unlink()  # the bank takes it
        assert c.status(file_id).state == "TAKEN"
        assert c.remote_name("payables.xml", "PD8") == "PD8-payables.xml"
    finally:
        c.close()


def test_return_files_leave_the_inbox_only_when_acknowledged(sftp_server) -> None:
    c = channel(sftp_server)
    inbox = sftp_server.local("bank/inbox")
    (inbox / "pain002-PD7.xml").write_bytes(b"<status/>")
    (inbox / "camt054-1.xml").write_bytes(b"<booked/>")
    try:
        listed = c.list_received("demo-0001")
        assert sorted(d.name for d in listed) == ["camt054-1.xml", "pain002-PD7.xml"]
        assert not any(d.fetched for d in listed)
        assert c.download("pain002-PD7.xml") == b"<status/>"
        assert sorted(p.name for p in inbox.iterdir()) == [
            "camt054-1.xml",
            "pain002-PD7.xml",
        ]  # fetched, still there
        c.acknowledge(["pain002-PD7.xml"])
        c.acknowledge(["pain002-PD7.xml"])  # again (a rerun): nothing left to move, nothing moved twice
        assert [d.name for d in c.list_received("demo-0001")] == ["camt054-1.xml"]
        assert (sftp_server.local("bank/archive") / "pain002-PD7.xml").read_bytes() == b"<status/>"
    finally:
        c.close()


def test_a_server_gone_is_unavailable_and_a_wrong_host_key_refused(sftp_server, tmp_path) -> None:
    good = channel(sftp_server)
    upload(good)
    stranger = SftpCredentials(sftp_server.key_file.read_text(), "")
    with pytest.raises(ProviderError, match="known_hosts"):
        channel(sftp_server, stranger).list_received("demo-0001")
    sftp_server.stop()
    with pytest.raises(ProviderUnavailable):
        good.list_received("demo-0001")  # the kept connection dropped
    with pytest.raises(ProviderUnavailable):
        good.list_received("demo-0001")  # and cannot be opened again
