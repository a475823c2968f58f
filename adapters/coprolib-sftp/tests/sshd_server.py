"""A real OpenSSH server on 127.0.0.1 for the tests (Debian's ``openssh-server``), never shipped.

It runs ``/usr/sbin/sshd -D`` with its own ``sshd_config``, a fresh Ed25519 host key and one
authorized client key, all in a temporary folder, on free high ports:

* ``port``: the normal SFTP service (``internal-sftp``);
* ``read_only_port``: the same account, but ``internal-sftp -R`` (every write is refused with
  SSH_FX_PERMISSION_DENIED, as a folder without write permission is).

The account is the one running the tests (root in CI containers: key-only login, which is
OpenSSH's default ``PermitRootLogin prohibit-password``).
"""

from __future__ import annotations

import contextlib
import getpass
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Self

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

SSHD = shutil.which("sshd") or "/usr/sbin/sshd"


def sshd_available() -> bool:
    return Path(SSHD).is_file() and os.access(SSHD, os.X_OK)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def new_key() -> tuple[str, str]:
    """A fresh Ed25519 key: (OpenSSH private key text, public key line)."""
    key = ed25519.Ed25519PrivateKey.generate()
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption(),
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
        .decode()
    )
    return private, public


class LocalSshd:
    """``sshd`` started in ``folder``; ``drop`` is the folder shares are written to."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.drop = folder / "inbox"
        self.drop.mkdir()
        self.user = getpass.getuser()
        host_private, self.host_public = new_key()
        self.client_private, client_public = new_key()
        self.host_key_file = folder / "ssh_host_ed25519_key"
        self.host_key_file.write_text(host_private)
        self.host_key_file.chmod(0o600)
        (folder / "authorized_keys").write_text(client_public + "\n")
        (folder / "authorized_keys").chmod(0o600)
        self.port = free_port()
        self.read_only_port = free_port()
        self.config_file = folder / "sshd_config"
        self.config_file.write_text(
            "\n".join(
                [
                    f"Port {self.port}",
                    f"Port {self.read_only_port}",
                    "ListenAddress 127.0.0.1",
                    f"HostKey {self.host_key_file}",
                    f"PidFile {folder / 'sshd.pid'}",
                    f"AuthorizedKeysFile {folder / 'authorized_keys'}",
                    "StrictModes no",
                    "PubkeyAuthentication yes",
                    "PasswordAuthentication no",
                    "KbdInteractiveAuthentication no",
                    "PermitRootLogin prohibit-password",
                    "UsePAM no",
                    f"AllowUsers {self.user}",
                    "Subsystem sftp internal-sftp",
                    "LogLevel VERBOSE",
                    f"Match LocalPort {self.read_only_port}",
                    "    ForceCommand internal-sftp -R",
                    "",
                ]
            )
        )
        self.log = folder / "sshd.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> Self:
        if os.geteuid() == 0:
            Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # privilege separation folder
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [SSHD, "-D", "-e", "-f", str(self.config_file)],
                stdout=log,
                stderr=log,
                stdin=subprocess.DEVNULL,
            )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"sshd exited: {self.log.read_text()[-2000:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("sshd did not start listening within 10 s")

    def children(self) -> list[int]:
        """The per-connection ``sshd`` processes this server started (from /proc)."""
        if self.process is None:
            return []
        found: list[int] = []
        parents = {self.process.pid}
        for _ in range(3):
            for stat_file in Path("/proc").glob("[0-9]*/stat"):
                try:
                    fields = stat_file.read_text().rsplit(")", 1)[1].split()
                except OSError:
                    continue
                pid = int(stat_file.parent.name)
                if int(fields[1]) in parents and pid not in found:
                    found.append(pid)
            parents |= set(found)
        return found

    def stop(self) -> None:
        """Stop listening and end every open session, as a server going down does."""
        for pid in self.children():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        self.process = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
