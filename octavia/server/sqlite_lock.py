"""The SQLite writers' lock: one per database file, shared by every process on the machine.

SQLite allows one writer at a time. Without a lock of our own, a writer that finds the
database busy sleeps in SQLite's busy handler, whose waits grow to 100 ms, and retries: with
several writers that is a p99 of hundreds of milliseconds, and a writer can lose the race
again and again. So :class:`WriterLock` queues them instead: a thread lock for the threads of
this process, then ``flock`` on ``<database>-writelock`` (beside the ``-wal`` and ``-shm``
files) for the processes of this machine (``octavia serve --workers N``, ``octavia worker``).
The kernel wakes the next waiter the moment the holder unlocks. SQLite's busy_timeout stays
the backstop for writers that bypass it (anything opening the file without this class).

The lock is taken around ``BEGIN IMMEDIATE … COMMIT`` (see ``Database.begin``), reentrantly:
nested ``begin()`` calls of one thread take it once. ``hold(wait=False)`` raises
:class:`WriterBusy` instead of waiting: an event loop tries that, and hands the write to a
thread (which waits) only when another writer holds the lock.
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

log = logging.getLogger("octavia.server")


class WriterBusy(Exception):
    """Another writer holds the lock and ``hold(wait=False)`` was asked not to wait."""


class WriterLock:
    def __init__(self, db_path: Path | None) -> None:
        self.path = None if db_path is None else db_path.with_name(db_path.name + "-writelock")
        self._thread_lock = threading.RLock()
        self._depth = 0  # nesting of this process's holder; guarded by _thread_lock
        self._fd: int | None = None
        self._pid = 0

    def _file(self) -> int | None:
        if self.path is None:
            return None
        if self._fd is None or self._pid != os.getpid():
            # After a fork the descriptor is shared with the parent, and so would be the lock
            # (flock belongs to the open file, not the process): each process opens its own.
            try:
                self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            except OSError as exc:  # e.g. a read-only directory: fall back to busy_timeout
                log.warning("SQLite writer lock %s unavailable (%s); relying on busy_timeout", self.path, exc)
                self.path = None
                return None
            self._pid = os.getpid()
        return self._fd

    @contextmanager
    def hold(self, *, wait: bool = True) -> Iterator[None]:
        if not self._thread_lock.acquire(blocking=wait):
            raise WriterBusy
        try:
            fd = self._file() if self._depth == 0 else None
            if fd is not None:
                try:  # blocks in the kernel, without the GIL (unless told not to wait)
                    fcntl.flock(fd, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    raise WriterBusy from None
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
                if fd is not None:
                    fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            self._thread_lock.release()

    def close(self) -> None:
        if self._fd is not None and self._pid == os.getpid():
            os.close(self._fd)
        self._fd = None


__all__ = ["WriterBusy", "WriterLock"]
