"""A loopback TCP proxy that can play a dead dependency: forward to the real server, or accept
and never answer (a tarpit), or refuse.

    proxy = Proxy(("127.0.0.1", 5432))       # starts as a tarpit
    url = f"postgresql://postgres@127.0.0.1:{proxy.port}/test"
    proxy.forward()                          # the database "returns"
    proxy.tarpit()                           # cut every connection; new ones hang
    proxy.close()
"""

from __future__ import annotations

import contextlib
import socket
import threading


class Proxy:
    """Accepts on 127.0.0.1:<port>; forwards to `target` only in forward mode."""

    def __init__(self, target: tuple[str, int], *, forwarding: bool = False) -> None:
        self.target = target
        self._forwarding = forwarding
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._listener.getsockname()[1])
        self._lock = threading.Lock()
        self._open: list[socket.socket] = []
        self._closed = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def forward(self) -> None:
        with self._lock:
            self._forwarding = True

    def tarpit(self) -> None:
        """New connections hang; connections open now are cut (a database that went away)."""
        with self._lock:
            self._forwarding = False
            cut, self._open = self._open, []
        for sock in cut:
            _close(sock)

    def close(self) -> None:
        self._closed.set()
        self.tarpit()
        _close(self._listener)

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                self._open.append(client)
                forwarding = self._forwarding
            if forwarding:
                threading.Thread(target=self._connect, args=(client,), daemon=True).start()
            # else: a tarpit; the socket is held open, nothing is read or sent

    def _connect(self, client: socket.socket) -> None:
        try:
            upstream = socket.create_connection(self.target, timeout=5.0)
        except OSError:
            _close(client)
            return
        upstream.settimeout(None)
        with self._lock:
            self._open.append(upstream)
        for src, dst in ((client, upstream), (upstream, client)):
            threading.Thread(target=_pump, args=(src, dst), daemon=True).start()


def _pump(src: socket.socket, dst: socket.socket) -> None:
    try:
        while data := src.recv(65536):
            dst.sendall(data)
    except OSError:
        pass
    _close(src)
    _close(dst)


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()
