"""A stand-in gateway for the CLI's tests: a tiny http.server in a thread that answers what a
test says (`answer`) and records every request it was asked (`asked`)."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

from cortex_kit.embedded import free_port


@dataclass
class Asked:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-case names
    raw: bytes

    @property
    def body(self) -> Any:
        """The body as JSON (None when empty)."""
        return json.loads(self.raw) if self.raw else None


Answer = tuple[int, Any]


@dataclass
class FakeGateway:
    url: str
    answer: Callable[[Asked], Answer] = lambda _asked: (404, {"code": "route_not_found"})
    asked: list[Asked] = field(default_factory=list)


@contextmanager
def serve_fake_gateway() -> Iterator[FakeGateway]:
    port = free_port()
    fake = FakeGateway(f"http://127.0.0.1:{port}")

    class Handler(http.server.BaseHTTPRequestHandler):
        def _serve(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            split = urlsplit(self.path)
            asked = Asked(
                self.command,
                split.path,
                parse_qs(split.query),
                {k.lower(): v for k, v in self.headers.items()},
                self.rfile.read(length) if length else b"",
            )
            fake.asked.append(asked)
            status, body = fake.answer(asked)
            data = json.dumps(body).encode()
            self.send_response(status)
            media = "application/json" if status < 400 else "application/problem+json"
            self.send_header("content-type", media)
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = _serve

        def log_message(self, *_args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
