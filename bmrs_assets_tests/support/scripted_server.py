"""A loopback HTTP server that answers from a script, for exercising the client's error paths."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Reply:
    status: int = 200
    body: bytes = b"[]"
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0
    cut_after: int | None = None  # send a Content-Length but only this many bytes
    # a body generated as it is sent (instead of ``body``): no Content-Length unless ``length`` says
    # one, and the body ends when the connection closes; ``chunk_delay_s`` is slept before each chunk
    chunks: Callable[[], Iterable[bytes]] | None = None
    length: int | None = None
    chunk_delay_s: float = 0.0


class ScriptedServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, script: Callable[[str, int], Reply]) -> None:
        self.script = script
        self.seen: list[tuple[float, str]] = []
        self._lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), _Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def stop(self) -> None:
        self.shutdown()
        self.server_close()


class _Handler(BaseHTTPRequestHandler):
    server: ScriptedServer

    def do_GET(self) -> None:
        with self.server._lock:
            self.server.seen.append((time.monotonic(), self.path))
            n = len(self.server.seen)
        reply = self.server.script(self.path, n)
        if reply.delay_s:
            time.sleep(reply.delay_s)
        self.send_response(reply.status)
        self.send_header("Content-Type", "application/json")
        if reply.chunks is None or reply.length is not None:
            self.send_header("Content-Length", str(len(reply.body) if reply.chunks is None else reply.length))
        for k, v in reply.headers.items():
            self.send_header(k, v)
        self.end_headers()
        if reply.chunks is not None:
            self._stream(reply)
            return
        try:
            self.wfile.write(reply.body if reply.cut_after is None else reply.body[: reply.cut_after])
        except (BrokenPipeError, ConnectionResetError):
            pass
        if reply.cut_after is not None:
            self.close_connection = True

    def _stream(self, reply: Reply) -> None:
        self.close_connection = True
        try:
            for chunk in reply.chunks():
                if reply.chunk_delay_s:
                    time.sleep(reply.chunk_delay_s)
                self.wfile.write(chunk)
                self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            pass

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        return
