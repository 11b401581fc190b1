"""The "factory fixture" shape shared by the test suite: a fixture hands the test a ``make(...)``
function and, after the test, closes everything ``make`` built, in the order it was built.

    @pytest.fixture
    def relay_factory():
        yield from closing_factory(lambda port: RecordingRelay(("127.0.0.1", port)))

It owns no servers or clients itself; whatever ``build`` returns must be closable (``close()``
by default, or the ``close`` function given).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Callable, Optional, TypeVar

T = TypeVar("T")

__all__ = ["closing_factory"]


def _close(thing: Any) -> None:
    thing.close()


def closing_factory(
    build: Callable[..., T],
    close: Callable[[T], None] = _close,
    start: Optional[Callable[[T], Any]] = None,
) -> Iterator[Callable[..., T]]:
    """Yield ``make(*args, **kwargs)``: it calls ``build``, remembers the result, then calls
    ``start`` on it (when given; remembered first, so one that fails to start is still closed).
    When resumed after the test, ``close`` every result, oldest first. Use with ``yield from``
    in a pytest fixture."""
    made: list[T] = []

    def make(*args: Any, **kwargs: Any) -> T:
        thing = build(*args, **kwargs)
        made.append(thing)
        if start is not None:
            start(thing)
        return thing

    yield make
    for thing in made:
        close(thing)
