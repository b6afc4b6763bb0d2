"""Files that are never half-written, and directories with one writer.

Atomic files: write to a temporary name of this process's own in the same directory, fsync, then
rename. ``DirLock``: an OS lock held while a process writes a run or dataset directory."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

from visuomotor.errors import VisuomotorError


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """``data`` to ``path`` all or nothing: a reader sees the old file or the new one, never a part; two
    writers never share a temporary file; a failed write leaves no temporary file behind."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}.tmp"
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as e:  # a full disk, a read-only directory...: one line naming the file
        tmp.unlink(missing_ok=True)
        kept = f"; the previous {path.name} is intact" if path.exists() else ""
        raise VisuomotorError(f"cannot write {path}: {e.strerror or e} ({len(data):,} bytes to write){kept}") from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode())


LOCK_NAME = ".lock"


class DirLock:
    """One writer per directory: an exclusive OS lock (``flock``) on ``<dir>/.lock`` while a process
    trains, resumes or collects into it. The OS releases it when the process ends, however it ends
    (``kill -9`` included), so a lock is never stale; the file holds the holder's pid for the error."""

    def __init__(self, directory: Path, what: str = "run dir"):
        self.dir, self.what, self.fd = Path(directory), what, None

    def __enter__(self) -> DirLock:
        import fcntl

        self.dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.dir / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise VisuomotorError(f"{self.what} {self.dir} is in use by process {holder} (a train, resume or collect "
                                  f"writing into it); wait for it to end, or stop it, then try again") from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self.fd = fd
        return self

    def __exit__(self, *exc) -> None:
        if self.fd is not None:
            os.close(self.fd)  # (closing releases the lock)
            self.fd = None


def remove_stale_temps(directory: Path, subdirs: tuple[str, ...] = ()) -> list[Path]:
    """Remove the temporary files (``.<name>.<pid>-<id>.tmp``) a killed writer left in ``directory`` and
    its ``subdirs``; call it while holding the directory's ``DirLock`` (no other writer is then alive).
    Each is the unfinished copy of a file whose previous version, if any, is intact. Returns them."""
    removed = []
    for d in (Path(directory), *(Path(directory) / s for s in subdirs)):
        if d.is_dir():
            for p in d.iterdir():
                if p.name.startswith(".") and p.name.endswith(".tmp") and p.is_file():
                    p.unlink(missing_ok=True)
                    removed.append(p)
    return removed


def is_empty(directory: Path) -> bool:
    """Whether a directory holds nothing but its lock file."""
    return not any(p.name != LOCK_NAME for p in Path(directory).iterdir())
