"""A real OpenSSH server on loopback for the SFTP tests: Debian's sshd started on a free port with a host
key of its own, our client key in its authorized keys, SFTP only (internal-sftp), the user chroot'ed
into the test's folder when the tests run as root (as on CI; sshd needs root to chroot)."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from paydag.cli.demo.stack import free_port
from paydag.storage.sftp import SftpCredentials

SSHD = Path("/usr/sbin/sshd")


@dataclass
class SftpServer:
    port: int
    user: str
    root: Path  # the local folder the server's `/data` is
    remote_root: str  # how the client names it
    key_file: Path
    known_hosts_file: Path
    process: subprocess.Popen[bytes]

    def url(self, folder: str = "") -> str:
        path = f"{self.remote_root}/{folder}".rstrip("/")
        return f"sftp://{self.user}@127.0.0.1:{self.port}{path}"

    def local(self, folder: str = "") -> Path:
        return self.root / folder

    @property
    def credentials(self) -> SftpCredentials:
        return SftpCredentials(self.key_file.read_text(), self.known_hosts_file.read_text())

    @property
    def env(self) -> dict[str, str]:
        return {
            "PAYDAG_SFTP_KEY_FILE": str(self.key_file),
            "PAYDAG_SFTP_KNOWN_HOSTS": str(self.known_hosts_file),
        }

    def stop(self) -> None:
        """The server gone: the listener and every session it forked (OpenSSH leaves sessions running
        when only the listener stops), so open connections drop too."""
        import psutil

        if self.process.poll() is None:
            for child in psutil.Process(self.process.pid).children(recursive=True):
                child.kill()
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=10)


def _wait_listening(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"sshd exited with {process.returncode}: {log.read_text()[-2000:]}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"sshd did not listen on {port}: {log.read_text()[-2000:]}")


def start_sftp_server(work: Path) -> Iterator[SftpServer]:
    """Start sshd for one test; stop it and remove its folders afterwards."""
    root_user = os.geteuid() == 0
    # A chroot's every path component must be root's and writable by no one else: not under /tmp.
    base = Path(tempfile.mkdtemp(prefix="paydag-sftp-", dir=Path.home() if root_user else work))
    base.chmod(0o755)
    try:
        keys = base / "keys"
        keys.mkdir()
        for name in ("host_key", "client_key"):
            subprocess.run(
                ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(keys / name)], check=True
            )
        (keys / "authorized_keys").write_text((keys / "client_key.pub").read_text())
        jail = base / "jail"
        (jail / "data").mkdir(parents=True)
        jail.chmod(0o755)
        port = free_port()
        user = os.environ.get("USER") or (
            "root" if root_user else subprocess.check_output(["id", "-un"], text=True).strip()
        )
        config = base / "sshd_config"
        lines = [
            f"Port {port}", "ListenAddress 127.0.0.1", f"HostKey {keys / 'host_key'}", f"PidFile {base / 'sshd.pid'}",
            f"AuthorizedKeysFile {keys / 'authorized_keys'}", "PasswordAuthentication no", "KbdInteractiveAuthentication no",
            "PubkeyAuthentication yes", "PermitRootLogin prohibit-password", "UsePAM no", "StrictModes no",
            "Subsystem sftp internal-sftp", "ForceCommand internal-sftp", "AllowTcpForwarding no", "X11Forwarding no",
        ]  # fmt: skip
        if root_user:
            lines.append(f"ChrootDirectory {jail}")
        config.write_text("\n".join(lines) + "\n")
        Path("/run/sshd").mkdir(exist_ok=True) if root_user else None  # its privilege separation folder
        log = base / "sshd.log"
        process = subprocess.Popen([str(SSHD), "-D", "-f", str(config), "-E", str(log)])
        _wait_listening(port, process, log)
        host_key = (keys / "host_key.pub").read_text().split()
        known_hosts = base / "known_hosts"
        known_hosts.write_text(f"[127.0.0.1]:{port} {host_key[0]} {host_key[1]}\n")
        server = SftpServer(port, user, jail / "data", "/data" if root_user else str(jail / "data"),
                            keys / "client_key", known_hosts, process)  # fmt: skip
        try:
            yield server
        finally:
            server.stop()
    finally:
        shutil.rmtree(base, ignore_errors=True)
