"""Both kinds of ``Store`` for tests that run over each: open, reopen as a restart does, abandon as
a crash does, and close everything opened.

"Reopen" (a clean exit and a new process) hands a ``MemoryStore`` over as the same object and
closes a ``SqliteStore`` and opens its file again; "crash" (``kill -9``) abandons a ``SqliteStore``
without committing first.

    @pytest.fixture(params=STORE_KINDS)
    def stores(request, tmp_path):
        with Stores(request.param, tmp_path) as made:
            yield made
"""

from __future__ import annotations

from pathlib import Path
from typing import Union

from mqttclient import MemoryStore, SqliteStore

AnyStore = Union[MemoryStore, SqliteStore]
STORE_KINDS = ("memory", "sqlite")

__all__ = ["STORE_KINDS", "AnyStore", "Stores"]


class Stores:
    """Opens and reopens one kind of store (``"memory"`` or ``"sqlite"``, the latter as
    ``directory/session.db``); closes everything it opened."""

    def __init__(self, kind: str, directory: Path) -> None:
        self.kind = kind
        self.path = directory / "session.db"
        self.opened: list[AnyStore] = []

    def open(self) -> AnyStore:
        store: AnyStore = MemoryStore() if self.kind == "memory" else SqliteStore(self.path)
        self.opened.append(store)
        return store

    def reopen(self, store: AnyStore) -> AnyStore:
        """What a clean exit and a new process see."""
        store.close()
        if isinstance(store, MemoryStore):
            return store
        again = SqliteStore(self.path)
        self.opened.append(again)
        return again

    restart = reopen

    def crash(self, store: AnyStore) -> AnyStore:
        """What ``kill -9`` leaves: committed changes only (a MemoryStore keeps everything)."""
        if isinstance(store, SqliteStore):
            conn, store._conn = store._conn, None
            assert conn is not None
            conn.close()
        return self.reopen(store)

    def close_all(self) -> None:
        for store in self.opened:
            store.close()

    def __enter__(self) -> Stores:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close_all()
