"""Files are written whole or not at all: write to a temporary file beside the target, then rename."""

from __future__ import annotations

import contextlib
import errno
import io
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from econalign import EconalignError


def default_mode(folder: bool = False) -> int:
    """What open()/mkdir() would give under the umask; mkstemp/mkdtemp make owner-only files instead."""
    umask = os.umask(0)
    os.umask(umask)
    return (0o777 if folder else 0o666) & ~umask


def write_text(path: Path, text: str) -> None:
    write_bytes(path, text.encode("utf-8"))


def write_bytes(path: Path, data: bytes) -> None:
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, default_mode())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_dir(path: Path, fill: Callable[[Path], object]) -> None:
    """Let `fill` write a new folder beside `path`, then swap it in for the old one, if any: a reader sees
    the old folder, the new one, or for a moment none, never a half-written one."""
    path = Path(path)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    try:
        fill(tmp)
        os.chmod(tmp, default_mode(folder=True))
        if path.exists():
            old = tmp.with_name(tmp.name + ".old")
            os.replace(path, old)
            os.replace(tmp, path)
            shutil.rmtree(old)
        else:
            os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def write_json(path: Path, data) -> None:
    write_text(path, json.dumps(data, indent=2, default=float) + "\n")


def read_json(path: Path):
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise EconalignError(f"{path} does not exist") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise EconalignError(f"{path} is not valid JSON ({exc})") from None


def jsonl(records: list[dict]) -> str:
    return "".join(json.dumps(r, ensure_ascii=False, allow_nan=False) + "\n" for r in records)


def read_jsonl(path: Path) -> list[tuple[str, object]]:
    """(where, row) for each non-blank line; `where` ("FILE line N") names the line in later errors."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise EconalignError(f"cannot read {path}: {getattr(exc, 'strerror', None) or exc}") from None
    rows = []
    for number, line in enumerate(lines, 1):
        if line.strip():
            where = f"{path} line {number}"
            try:
                rows.append((where, json.loads(line)))
            except json.JSONDecodeError as exc:
                raise EconalignError(f"{where}: not valid JSON ({exc.msg})") from None
    return rows


def figure_png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    return buf.getvalue()


def save_figure(fig, path: Path) -> bytes:
    """The figure as a PNG file, written atomically; its bytes, for whoever also inlines it."""
    data = figure_png(fig)
    write_bytes(path, data)
    return data


def check_writable(path: Path) -> Path:
    """Prove that the folder `path` could be made and written, without making anything: the check before
    slow work whose outputs are only created once the inputs are known to be good."""
    path = Path(path)
    nearest = next(p for p in (path, *path.parents) if p.exists())
    with refused(path):
        if not nearest.is_dir():
            raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR))
        with tempfile.TemporaryFile(dir=nearest):
            pass
    return path


def writable_dir(path: Path) -> Path:
    """Create `path` if needed and prove we can write there, or say clearly why not."""
    path = Path(path)
    with refused(path):
        path.mkdir(parents=True, exist_ok=True)
    return check_writable(path)


@contextlib.contextmanager
def refused(path: Path):
    """An OSError inside becomes the one-line error for the output folder `path`."""
    try:
        yield
    except OSError as exc:
        raise EconalignError(f"cannot write to output folder {path}: {exc.strerror or exc}") from None
