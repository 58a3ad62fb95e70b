"""Serve the built book on 127.0.0.1 with a local Jupyter server behind its "Live code" button.

The book's pages ask ``<root>/_live/server.json`` where a kernel is (``book/_ext/live_code.py``);
this server answers it. The Jupyter server binds to 127.0.0.1 only and requires a random token,
new each time. The token is the lock: the announcement is same-origin only (no CORS header), so
a page from another origin open in the same browser cannot read it, and Jupyter's
``allow_origin`` is exactly the book's origin (never ``*``), so a browser shows no other page the
server's answers. Kernels run in the notebooks' folder, as papermill runs the pages, with this
process's environment (``EODREC_DATA`` and friends).
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import secrets
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

HOST = "127.0.0.1"
ANNOUNCEMENT = "/_live/server.json"


class ServeError(RuntimeError):
    """The book is not built, or the Jupyter server did not start."""


@dataclass(frozen=True)
class LiveBook:
    url: str  # the book, e.g. http://127.0.0.1:8000/
    jupyter_url: str  # the Jupyter server, e.g. http://127.0.0.1:8888/
    token: str


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


class _BookHandler(SimpleHTTPRequestHandler):
    """Static files of the built book, plus the announcement of the Jupyter server."""

    extensions_map = {
        **SimpleHTTPRequestHandler.extensions_map,
        ".js": "text/javascript",
        ".woff": "font/woff",
        ".woff2": "font/woff2",
    }

    def __init__(self, *args, announcement: bytes | None, **kwargs) -> None:
        self.announcement = announcement  # None: no server, the page falls back to Binder
        super().__init__(*args, **kwargs)

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        path = self.path.split("?")[0]
        if path == "/favicon.ico" and not Path(self.directory, "favicon.ico").is_file():
            # Browsers ask for it unprompted; a book without one should not log a 404.
            self.send_response(204)
            self.end_headers()
            return None
        if self.announcement is None or path != ANNOUNCEMENT:
            return super().do_GET()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Cache-Control", "no-store")
        self.send_header("Content-Length", str(len(self.announcement)))
        self.end_headers()
        self.wfile.write(self.announcement)

    def log_message(self, format: str, *args) -> None:  # requests are not news
        pass


def _start_jupyter(notebooks: Path, port: int, token: str, origin: str) -> subprocess.Popen:
    command = [
        sys.executable,
        "-m",
        "jupyter_server",
        f"--ServerApp.ip={HOST}",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--ServerApp.allow_origin={origin}",
        f"--ServerApp.root_dir={notebooks}",
        "--ServerApp.open_browser=False",
        "--ServerApp.log_level=WARN",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:  # containers (CI) often run as root
        command.append("--allow-root")
    # The token goes by environment, not argv, so other users cannot read it from `ps`.
    environment = {**os.environ, "JUPYTER_TOKEN": token}
    return subprocess.Popen(command, env=environment, stdin=subprocess.DEVNULL)


def _wait_until_up(url: str, token: str, process: subprocess.Popen, timeout_s: float) -> None:
    request = urllib.request.Request(
        f"{url}api/status", headers={"Authorization": f"token {token}"}
    )
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ServeError(f"the Jupyter server exited with status {process.returncode}")
        with contextlib.suppress(urllib.error.URLError, ConnectionError):
            with urllib.request.urlopen(request, timeout=2):
                return
        time.sleep(0.3)
    raise ServeError(f"the Jupyter server did not answer at {url} within {timeout_s:.0f} s")


@contextlib.contextmanager
def live_book(
    html: Path, notebooks: Path, port: int = 0, live: bool = True, timeout_s: float = 60
) -> Iterator[LiveBook]:
    """Serve ``html`` on 127.0.0.1:``port`` (0: any free port) and, with ``live``, a Jupyter
    server for its "Live code" button; both stop when the context ends."""
    html, notebooks = Path(html).resolve(), Path(notebooks).resolve()
    if not (html / "index.html").is_file():
        raise ServeError(f"no built book in {html}; run `make book` first")
    token = secrets.token_urlsafe(32)
    jupyter_port = free_port() if live else None
    announcement = None  # without live code the page falls back to Binder
    if jupyter_port is not None:
        announcement = json.dumps(
            {
                "baseUrl": f"http://{HOST}:{jupyter_port}/",
                "wsUrl": f"ws://{HOST}:{jupyter_port}/",
                "token": token,
                "path": "",
            }
        ).encode()
    handler = functools.partial(_BookHandler, directory=str(html), announcement=announcement)
    try:
        server = ThreadingHTTPServer((HOST, port), handler)  # bound before Jupyter starts
    except OSError as error:
        raise ServeError(f"cannot serve on {HOST}:{port} ({error.strerror}); try --port") from None
    url = f"http://{HOST}:{server.server_address[1]}/"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    process = None
    try:
        jupyter_url = ""
        if jupyter_port is not None:
            jupyter_url = f"http://{HOST}:{jupyter_port}/"
            process = _start_jupyter(notebooks, jupyter_port, token, origin=url.rstrip("/"))
            _wait_until_up(jupyter_url, token, process, timeout_s)
        thread.start()
        yield LiveBook(url=url, jupyter_url=jupyter_url, token=token)
    finally:
        if thread.is_alive():
            server.shutdown()
        server.server_close()
        if process is not None:
            process.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=10)
            if process.poll() is None:
                process.kill()
