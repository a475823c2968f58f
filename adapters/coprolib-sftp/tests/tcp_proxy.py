"""A TCP relay on 127.0.0.1 that can cut or stall a connection, to put transport faults between
the adapter and a real sshd (tests only)."""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
from typing import Self


class FaultProxy:
    """Relays ``127.0.0.1:port`` to ``127.0.0.1:target``.

    ``cut_after``: reset both sides once this many bytes have gone upstream on a connection.
    ``stall``: stop relaying (the connection stays open and silent).
    """

    def __init__(self, target: int) -> None:
        self.target = target
        self.cut_after: int | None = None
        #: Per new connection, in order, a ``cut_after`` to use (then ``cut_after`` again).
        self.plan: list[int | None] = []
        self.stall = False
        self.cuts = 0
        self._server = socket.socket()
        self._server.bind(("127.0.0.1", 0))
        self._server.listen(8)
        self.port = int(self._server.getsockname()[1])
        self._sockets: list[socket.socket] = []
        self._closed = False

    def start(self) -> Self:
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target))
            self._sockets += [client, upstream]
            sent = [0]
            cut = self.plan.pop(0) if self.plan else self.cut_after
            threading.Thread(
                target=self._pump, args=(client, upstream, sent, True, cut), daemon=True
            ).start()
            threading.Thread(
                target=self._pump, args=(upstream, client, sent, False, None), daemon=True
            ).start()

    def _pump(
        self, src: socket.socket, dst: socket.socket, sent: list[int], up: bool, cut: int | None
    ) -> None:
        while True:
            try:
                data = src.recv(4096)
            except OSError:
                break
            if not data:
                break
            while self.stall and not self._closed:
                threading.Event().wait(0.05)
            if up:
                sent[0] += len(data)
                if cut is not None and sent[0] > cut:
                    self.cuts += 1
                    self._reset(src, dst)
                    return
            try:
                dst.sendall(data)
            except OSError:
                break
        with contextlib.suppress(OSError):
            dst.shutdown(socket.SHUT_WR)

    def _reset(self, *socks: socket.socket) -> None:
        for sock in socks:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                sock.close()

    def stop(self) -> None:
        self._closed = True
        self.stall = False
        self._server.close()
        self._reset(*self._sockets)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
