"""Run the sandbox: in the foreground (`paydag sandbox`) or on a thread (tests, the demo)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import uvicorn

from sandbox.app import SandboxCredentials, create_app


class PortInUse(RuntimeError):
    """The sandbox's port is taken by another process."""


def check_free(host: str, port: int, option: str = "--port") -> None:
    """PortInUse, naming the command's option that moves it, when another process holds the port."""
    if port == 0:
        return
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as exc:
            raise PortInUse(
                f"{host}:{port} is in use ({exc.strerror}); choose another with {option}"
            ) from None


def serve(state_dir: Path, host: str = "127.0.0.1", port: int = 8900) -> None:
    check_free(host, port)
    uvicorn.run(create_app(state_dir), host=host, port=port, log_level="warning")


@contextmanager
def running_sandbox(
    state_dir: Path, host: str = "127.0.0.1", port: int = 0, credentials: SandboxCredentials | None = None
) -> Iterator[str]:
    """The sandbox on a loopback port for the duration of the block; yields its base URL."""
    check_free(host, port)
    # A request held by a latency fault is cut off at the end rather than waited for.
    config = uvicorn.Config(create_app(state_dir, credentials), host=host, port=port, log_level="warning",
                            timeout_graceful_shutdown=1)  # fmt: skip
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="paydag-sandbox", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the sandbox did not start")
        time.sleep(0.02)
    bound = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://{host}:{bound}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
