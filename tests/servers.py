"""Real uvicorn servers for tests: an ASGI app on a free 127.0.0.1 port, in a background thread."""

import contextlib
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import uvicorn


@contextlib.contextmanager
def running(app):
    """Serve `app` until the block ends; yields its base URL, http://127.0.0.1:PORT."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))  # bound here, so no other process can take the port first
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


def start_serve(model, *options) -> tuple[subprocess.Popen, str]:
    """`econalign serve MODEL`, as a user starts it, on a free 127.0.0.1 port; returns the process, once it
    answers, and its base URL http://127.0.0.1:PORT. The caller stops the process."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([str(Path(sys.executable).parent / "econalign"), "serve", "--model", str(model),
                             "--port", str(port), *options], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        assert proc.poll() is None, proc.stderr.read()
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}/v1/models", timeout=1).status_code == 200:
                return proc, url
        if time.monotonic() > deadline:
            proc.kill()
            raise AssertionError("econalign serve did not start")
        time.sleep(0.2)
