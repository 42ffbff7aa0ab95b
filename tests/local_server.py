"""A small HTTP server on a free port of 127.0.0.1, in a thread: what every local fake of a
provider's API (Telegram, Twilio, Stripe) serves from."""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import uvicorn


class LocalServer:
    """Serve one ASGI app on 127.0.0.1 until stopped."""

    def __init__(self, app: Any, name: str, **config: Any) -> None:
        self.app, self.name = app, name
        self.config = {"log_level": "warning", "lifespan": "off", "http": "h11", **config}
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> str:
        """Start serving; return the base URL once the port accepts connections."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self._server = uvicorn.Server(uvicorn.Config(self.app, **self.config))
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [sock]}, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError(f"the fake {self.name} server did not start")
            time.sleep(0.01)
        return f"http://127.0.0.1:{sock.getsockname()[1]}"

    @property
    def stopping(self) -> bool:
        """Whether the server was told to stop (long polls give up then)."""
        return self._server is not None and self._server.should_exit

    def stop(self) -> None:
        """Stop the server thread."""
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=10)
