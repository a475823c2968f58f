"""coprolib-sftp: an SFTP drop for case-management systems with no public write API
(Liquidlogic, Mosaic, Eclipse and others that import files from a folder).

Per share: ``<name>.txt`` (the document) and ``<name>.json`` (a manifest naming the document,
its SHA-256 and the whole share), each written under a temporary name and renamed into place
atomically. Retraction: ``<name>.retracted.json``, then the share's files are removed. The
server's host key is pinned in the settings and the private key comes from ``$env:NAME`` or a
key file.
"""

from __future__ import annotations

from coprolib import hookimpl
from coprolib.hookspecs import RegisterAdapter
from coprolib_sftp.adapter import SftpAdapter, SftpConfig, file_stem, fingerprint

__all__ = ["SftpAdapter", "SftpConfig", "file_stem", "fingerprint", "register_adapters"]


@hookimpl
def register_adapters(register: RegisterAdapter) -> None:
    """Register the ``sftp`` destination adapter."""
    register("sftp", SftpAdapter)
