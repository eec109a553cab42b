"""A total deadline per HTTP request: connect, TLS, headers and the whole body together.

httpx's timeouts bound each socket operation, not a request: a server that sends a byte just
inside the read timeout keeps a request alive forever. Here every socket operation the client's
transport performs is given at most the time left until the deadline of the request running on
that thread (httpx's sync client does its I/O on the calling thread), so a trickling server is cut
off at the deadline whatever phase it trickles in, on a new or a pooled connection. A read that
the deadline cuts raises httpcore's ``ReadTimeout`` (httpx's ``ReadTimeout``) and marks the
request as out of time (:func:`expired`), so the caller can tell it from an ordinary timeout.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

import httpcore
import httpx

_STATE = threading.local()  # .at: monotonic deadline of this thread's request (None: none); .hit: it was reached


@contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Run the requests of the block (on this thread) against a deadline ``seconds`` from now."""
    _STATE.at, _STATE.hit = time.monotonic() + seconds, False
    try:
        yield
    finally:
        _STATE.at = None


def expired() -> bool:
    """Whether the last deadline on this thread cut a socket operation off (or the time is up)."""
    at = getattr(_STATE, "at", None)
    return bool(getattr(_STATE, "hit", False)) or (at is not None and time.monotonic() >= at)


def _left(timeout: float | None, exc: type[Exception]) -> float | None:
    """``timeout`` shortened to what is left of this thread's deadline; ``exc`` when nothing is."""
    at = getattr(_STATE, "at", None)
    if at is None:
        return timeout
    left = at - time.monotonic()
    if left <= 0:
        _STATE.hit = True
        raise exc("the request's deadline passed")
    if timeout is None or left < timeout:
        return left
    return timeout


class _Stream(httpcore.NetworkStream):
    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        try:
            return self._inner.read(max_bytes, _left(timeout, httpcore.ReadTimeout))
        except httpcore.ReadTimeout:
            if expired():
                _STATE.hit = True
            raise

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _left(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(self, ssl_context, server_hostname: str | None = None,
                  timeout: float | None = None) -> httpcore.NetworkStream:
        return _Stream(self._inner.start_tls(ssl_context, server_hostname, _left(timeout, httpcore.ConnectTimeout)))

    def get_extra_info(self, info: str) -> object:
        return self._inner.get_extra_info(info)


class _Backend(httpcore.NetworkBackend):
    def __init__(self) -> None:
        self._inner = httpcore.SyncBackend()

    def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                    socket_options: Iterable | None = None) -> httpcore.NetworkStream:
        return _Stream(self._inner.connect_tcp(host, port, _left(timeout, httpcore.ConnectTimeout), local_address,
                                               socket_options))

    def connect_unix_socket(self, path: str, timeout: float | None = None,
                            socket_options: Iterable | None = None) -> httpcore.NetworkStream:
        return _Stream(self._inner.connect_unix_socket(path, _left(timeout, httpcore.ConnectTimeout), socket_options))

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


def transport() -> httpx.HTTPTransport:
    """An httpx transport whose every socket operation keeps to the running request's deadline.

    (httpx builds its connection pool without a way to pass a network backend, so the pool is
    replaced by an equivalent one that has ours. A proxy from the environment gets httpx's own
    transport: there the deadline is checked between body chunks only.)"""
    t = httpx.HTTPTransport()
    t._pool = httpcore.ConnectionPool(ssl_context=httpx.create_ssl_context(), max_connections=100,
                                      max_keepalive_connections=20, keepalive_expiry=5.0,
                                      network_backend=_Backend())
    return t
