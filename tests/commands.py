"""Run the `econalign` command as a child process forked from the test worker.

A forked child is a process of its own, as `subprocess.run([econalign, ...])` starts: its own standard
streams (files here), exit code, environment and signal dispositions, and a traceback printed by the
interpreter's handler if one escapes. What it does not pay is the start-up: torch, transformers, pandas
and scipy are already imported in the worker, 2–5 s a call on this machine. A call falls back to a real
subprocess when forking could change what the command sees: an environment that differs in a variable
an imported library has already read, or a torch that may run OpenMP threads (not fork-safe).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

ECONALIGN = Path(sys.executable).parent / "econalign"
# read when econalign calls for them, not when a library is imported: a forked child sees them changed
READ_AT_CALL_TIME = ("ECONALIGN_",)


def econalign(*args, env: dict | None = None, timeout: float = 600, **popen) -> subprocess.CompletedProcess:
    """`econalign ARGS` with its output captured as text; `env` replaces the environment as in subprocess.run."""
    args = [str(a) for a in args]
    if popen or not forkable(env):
        return subprocess.run([str(ECONALIGN), *args], capture_output=True, text=True, timeout=timeout, env=env,
                              **popen)
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        pid = os.fork()
        if pid == 0:
            run_child(args, env, out.fileno(), err.fileno())  # never returns
        code = wait(pid, timeout, args)
        return subprocess.CompletedProcess([str(ECONALIGN), *args], code, read(out), read(err))


def forkable(env: dict | None) -> bool:
    if "torch" in sys.modules and sys.modules["torch"].get_num_threads() != 1:
        return False
    changed = set() if env is None else {k for k in env.keys() ^ os.environ.keys()} | {
        k for k in env.keys() & os.environ.keys() if env[k] != os.environ[k]}
    return all(k.startswith(READ_AT_CALL_TIME) for k in changed)


def run_child(args: list[str], env: dict | None, out: int, err: int) -> None:
    code = 1
    try:
        devnull = os.open(os.devnull, os.O_RDONLY)
        for fd, target in ((devnull, 0), (out, 1), (err, 2)):
            os.dup2(fd, target)
        sys.stdin = open(0, closefd=False)
        sys.stdout = open(1, "w", buffering=1, closefd=False)
        sys.stderr = open(2, "w", buffering=1, closefd=False)
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, signal.default_int_handler if sig == signal.SIGINT else signal.SIG_DFL)
        if env is not None:
            os.environ.clear()
            os.environ.update(env)
        sys.argv = [str(ECONALIGN), *args]
        from econalign.cli import main

        main()
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        if not isinstance(exc.code, int | None):
            print(exc.code, file=sys.stderr)
    except KeyboardInterrupt:
        code = 130
    except BaseException:
        traceback.print_exc()
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)  # no atexit handlers or buffers of the worker's own (its execnet channel) run twice


def wait(pid: int, timeout: float, args: list[str]) -> int:
    deadline = time.monotonic() + timeout
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            raise subprocess.TimeoutExpired([str(ECONALIGN), *args], timeout)
        time.sleep(0.01)


def read(file) -> str:
    file.seek(0)
    return file.read().decode()
