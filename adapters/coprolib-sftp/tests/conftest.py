"""Fixtures: a real OpenSSH sshd on 127.0.0.1 (``sshd_server``, tests only)."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from sshd_server import LocalSshd, sshd_available


@pytest.fixture
def sshd(tmp_path: Path) -> Iterator[LocalSshd]:
    """A started sshd with its own host key, client key and drop folder."""
    if not sshd_available():
        message = (
            "OpenSSH's sshd is not installed (apt-get install openssh-server); .ci/run installs it"
        )
        if os.environ.get("CI") or os.environ.get("COPROLIB_REQUIRE_SSHD"):
            pytest.fail(message)
        pytest.skip(message)
    with LocalSshd(tmp_path / "sshd") as server:
        yield server
