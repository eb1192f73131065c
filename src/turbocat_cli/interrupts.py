"""Ctrl-C at any moment of a command: a clean stop, one line on stderr, never a traceback."""

from __future__ import annotations

# Only modules the interpreter has loaded before running a command: this guard is the
# first thing to run, and a Ctrl-C before it gets Python's own traceback.
import os
import signal
import sys
from contextlib import contextmanager

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (mypy knows the name)
if TYPE_CHECKING:
    from collections.abc import Callable, Coroutine, Iterator
    from typing import Any, NoReturn, TypeVar

    T = TypeVar("T")

INTERRUPTED = 130
"""The exit code of a command stopped by Ctrl-C (128 + SIGINT, as shells report it)."""
MESSAGE = "interrupted"


class _State:
    """What this process has done with Ctrl-C so far (Python runs signal handlers in the
    main thread, between two bytecodes of whatever it was doing)."""

    def __init__(self) -> None:
        self.callbacks: list[Callable[[], object]] = []
        self.stopping = False


_state = _State()


def main() -> None:
    """The ``turbocat`` command (and ``python -m turbocat_cli``).

    The first Ctrl-C stops the command cleanly (its ``finally`` blocks close what it
    opened), unless a :func:`calling` block takes it; a Ctrl-C while it stops ends the
    process at once. Either way the command ends with ``interrupted`` on stderr and exit
    130, except where the command itself says otherwise (``run`` cancels its execution,
    ``serve`` and ``worker`` stop as on SIGTERM).
    """
    signal.signal(signal.SIGINT, _on_sigint)
    try:
        from turbocat_cli.app import app  # the long imports run under the guard too

        app()
    except KeyboardInterrupt:
        _leave()
    except SystemExit as exit_:
        # Typer turns a KeyboardInterrupt inside a command into exit 130, without a word;
        # a command may also end its own way once interrupted (uvicorn's start-up: exit 3).
        if exit_.code == INTERRUPTED or (_state.stopping and exit_.code not in (0, None)):
            _leave()
        raise


@contextmanager
def calling(callback: Callable[[], object]) -> Iterator[None]:
    """While inside, the next Ctrl-C calls ``callback`` instead of stopping the command.

    It is called from a signal handler, in the main thread between two bytecodes: it must
    only schedule work (``loop.call_soon_threadsafe``, ``task.cancel``), never write to a
    stream or take a lock. Blocks nest: the innermost takes the Ctrl-C, once.
    """
    _state.callbacks.append(callback)
    try:
        yield
    finally:
        if callback in _state.callbacks:
            _state.callbacks.remove(callback)


def run_async(main: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run(main)``, where the first Ctrl-C cancels ``main`` (so its ``finally``
    blocks close what it opened, on its loop) and then leaves as ``KeyboardInterrupt``."""
    import asyncio

    async def guarded() -> T:
        task = asyncio.current_task()
        assert task is not None
        loop = asyncio.get_running_loop()
        interrupted = False

        def stop() -> None:
            nonlocal interrupted
            interrupted = _state.stopping = True
            task.cancel()
            loop.call_soon_threadsafe(lambda: None)  # wake the loop if it waits in select

        with calling(stop):
            try:
                return await main
            except asyncio.CancelledError:
                if interrupted:
                    raise KeyboardInterrupt from None
                raise

    return asyncio.run(guarded())


def _on_sigint(signum: int, frame: object) -> None:
    if _state.stopping:
        _quit_now()
    if _state.callbacks:
        _state.callbacks.pop()()
        return
    _state.stopping = True
    raise KeyboardInterrupt


def _quit_now() -> NoReturn:
    """A Ctrl-C while the command stops: the line, and out at once (nothing else runs)."""
    # os.write, not sys.stderr: the handler may have interrupted a write to sys.stderr.
    os.write(2, f"{MESSAGE}\n".encode())
    os._exit(INTERRUPTED)


def _leave() -> NoReturn:
    """The command has unwound (closed what it opened): the line, and exit 130."""
    _state.stopping = True  # from here, a Ctrl-C quits at once
    sys.stdout.flush()
    sys.stderr.write(f"{MESSAGE}\n")
    sys.stderr.flush()
    # Not sys.exit: CPython ends the process by SIGINT instead of any exit code once a
    # KeyboardInterrupt, even caught, went through an exec() of a string (dataclasses and
    # namedtuple make classes that way); and its exit handlers would wait for threads that
    # an interrupted start-up left running.
    os._exit(INTERRUPTED)
