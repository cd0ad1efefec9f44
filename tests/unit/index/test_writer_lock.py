"""The SQLite writer lock: one writer at a time across the threads and processes of an index."""

from __future__ import annotations

import fcntl
import multiprocessing
import os
from pathlib import Path

import pytest

from openvna.index import create_index
from openvna.index.core import WriterLock, lock_file


def _held_elsewhere(path: Path) -> bool:
    """Whether another open file description of ``path`` holds its lock (asked without
    waiting, as a process that is not this one would find it)."""
    fd = os.open(path, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def test_held_from_the_outermost_enter_to_the_outermost_exit(tmp_path: Path) -> None:
    path = tmp_path / "i.sqlite.lock"
    lock = WriterLock(str(path))
    with lock:
        assert _held_elsewhere(path)
        with lock:  # a write inside a write of the same thread
            assert _held_elsewhere(path)
        assert _held_elsewhere(path)
    assert not _held_elsewhere(path)


def _child_finds_it_held(lock: WriterLock, answer: multiprocessing.connection.Connection) -> None:
    fd = lock._descriptor()  # the child's own, not the parent's (a shared one would be free)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        answer.send(True)
        return
    answer.send(False)


def test_a_forked_process_locks_a_file_of_its_own(tmp_path: Path) -> None:
    """The DIMSE processes and HTTP workers are forked: a descriptor they inherited would share
    the parent's lock instead of waiting for it."""
    lock = WriterLock(str(tmp_path / "i.sqlite.lock"))
    context = multiprocessing.get_context("fork")
    receive, send = context.Pipe(duplex=False)
    with lock:
        child = context.Process(target=_child_finds_it_held, args=(lock, send))
        child.start()
        held = receive.recv()
        child.join()
    assert held


def test_an_index_in_a_file_locks_beside_it_and_one_in_memory_does_not(tmp_path: Path) -> None:
    database = tmp_path / "i.sqlite"
    assert lock_file(str(database)) == f"{database}.lock"
    assert lock_file(":memory:") is None
    assert lock_file("file:shared?mode=memory&cache=shared") is None
    index = create_index(f"sqlite:///{database}")
    try:
        lock = index._write_lock
        assert isinstance(lock, WriterLock)
        with lock:
            assert _held_elsewhere(Path(f"{database}.lock"))
    finally:
        index.close()


@pytest.mark.parametrize("database", [":memory:", ""])
def test_an_index_in_memory_takes_the_thread_lock_only(database: str) -> None:
    lock = WriterLock(lock_file(database))
    with lock, lock:
        assert lock.path is None
