"""Monte Carlo chunks on a dask.distributed cluster (the ``"dask"`` backend of :func:`trialsim.design.montecarlo.run`).

A scheduler address is checked before any connection (:func:`check_scheduler`); the first contact is bounded by
``timeout`` seconds (dask's own handshake waits without a limit, so a silent socket would hang the run); a
scheduler without a worker, one that stops answering, or one lost during the run ends it with one
``InputError``, and dask's own error logs are silenced meanwhile. Tasks are submitted a few at a time and their
results reported in task order, so the numbers are those of any other backend.

Connecting to a scheduler means trusting it: dask unpickles what the scheduler sends.
"""

from __future__ import annotations

import collections
import contextlib
import threading
import time
from collections.abc import Iterator
from typing import Any

from ..exceptions import InputError, invalid

__all__ = ["DASK_TIMEOUT", "check_scheduler", "run_on_dask"]

#: Seconds a dask scheduler has to answer, to have a worker, and to come back when it stops answering.
DASK_TIMEOUT = 30.0
#: How often (seconds) a wait for a dask result checks that the cluster is still there.
_DASK_POLL = 1.0


def check_scheduler(address: Any) -> str:
    """A dask scheduler address, checked before any connection: ``tcp://host:port`` (or ``tls://``, ``ws://``,
    ``wss://``, or a plain ``host:port``, read as tcp). Returns it with its scheme."""
    return _split_scheduler(address)[0]


def _split_scheduler(address: Any) -> tuple[str, str, int]:
    """(address with its scheme, host, port), or ``InputError``."""
    rule = "must be a dask scheduler address like tcp://host:8786"
    if not isinstance(address, str) or not 0 < len(address) <= 255 or not address.isprintable() \
            or any(c.isspace() for c in address):
        raise invalid("scheduler", rule, address)
    scheme, _, location = address.rpartition("://")
    if scheme not in ("", "tcp", "tls", "ws", "wss"):
        raise invalid("scheduler", rule + f" (tcp, tls, ws or wss, not {scheme})", address)
    host, _, port = location.rpartition(":")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host  # [::1]:8786
    if not host or "/" in location or not port.isascii() or not port.isdigit() or not 0 < int(port) < 65536:
        raise invalid("scheduler", rule + " (a host and a port)", address)
    return (address if scheme else f"tcp://{address}"), host, int(port)


def _run_async(coroutine) -> Any:
    """Run ``coroutine`` to the end on an event loop of its own (in a thread when this one already runs a loop)."""
    import asyncio

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = asyncio.run(coroutine)
        except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread
            box["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box.get("value")


def _handshake(address: str, timeout: float) -> None:
    """Connect and exchange dask's handshake within ``timeout`` seconds, or ``InputError`` naming what went wrong.

    dask's own connection waits for the other side's handshake without a time limit, so a server that accepts
    the connection and never answers would hang the run: this first contact is bounded.
    """
    import asyncio
    import socket

    from distributed.comm import connect

    address, host, port = _split_scheduler(address)
    try:  # a refused connection fails at once (dask would retry it until the timeout)
        socket.create_connection((host, port), timeout=timeout).close()
    except (TimeoutError, socket.timeout):
        raise invalid("scheduler", f"must answer within {timeout:g} s (--timeout)", address) from None
    except OSError as exc:
        raise invalid("scheduler", f"must be a dask scheduler that answers ({_reason(exc)})", address) from None

    async def contact() -> None:
        comm = await asyncio.wait_for(connect(address, timeout=timeout), timeout)
        await comm.close()

    try:
        _run_async(contact())
    except (TimeoutError, asyncio.TimeoutError):
        raise invalid("scheduler", f"must answer within {timeout:g} s (--timeout)", address) from None
    except OSError as exc:
        raise invalid("scheduler", f"must be a dask scheduler that answers ({_reason(exc)})", address) from None
    except Exception as exc:  # noqa: BLE001 - anything else: the server does not speak dask's protocol
        raise invalid("scheduler", f"must be a dask scheduler (the server there does not speak dask's protocol: "
                      f"{type(exc).__name__})", address) from None


def _reason(exc: BaseException) -> str:
    """One short line about a connection error (dask nests the system's reason in long messages)."""
    cause = exc
    while cause.__cause__ is not None:
        cause = cause.__cause__
    text = getattr(cause, "strerror", None) or str(cause).split("\n")[0] or type(cause).__name__
    return text if len(text) <= 80 else text[:77] + "..."


@contextlib.contextmanager
def _quiet_dask_logs() -> Iterator[None]:
    """dask logs a lost connection as an error with a traceback of dozens of lines; the run reports it in one."""
    import logging

    loggers = [logging.getLogger(name) for name in ["distributed", *logging.Logger.manager.loggerDict]
               if name == "distributed" or name.startswith("distributed.")]
    before = [logger.disabled for logger in loggers]  # dask sets some of their levels itself: silence them all
    for logger in loggers:
        logger.disabled = True
    try:
        yield
    finally:
        for logger, disabled in zip(loggers, before):
            logger.disabled = disabled


def run_on_dask(work, tasks, scheduler, report, timeout: float) -> None:
    try:
        from distributed import Client, get_client
    except ImportError:  # pragma: no cover - depends on the environment
        raise invalid("backend", "'dask' needs dask.distributed: pip install 'trialsim[dask]'", "dask") from None
    own = None
    with _quiet_dask_logs():
        if scheduler is not None:
            address = check_scheduler(scheduler)
            _handshake(address, timeout)
            try:
                own = client = Client(address, timeout=timeout, set_as_default=False)
            except Exception as exc:  # noqa: BLE001 - answered the handshake, yet is not a scheduler
                raise invalid("scheduler", f"must be a dask scheduler ({_reason(exc)})", scheduler) from None
        else:
            try:
                client = get_client()
            except ValueError:
                own = client = Client(processes=False, dashboard_address=None, set_as_default=False)
        try:
            _drive(client, work, tasks, report, timeout, scheduler or "the local cluster")
        finally:
            if own is not None:
                with contextlib.suppress(Exception):
                    own.close(timeout=timeout)


def _drive(client, work, tasks, report, timeout: float, where: str) -> None:
    """Submit the tasks a few at a time (the cluster's threads, twice over) and report the results in task order,
    checking while waiting that the scheduler is still there and still has a worker."""
    from concurrent.futures import CancelledError

    def lost(what: str) -> InputError:
        return invalid("scheduler", f"must stay reachable during the run ({what})", where)

    try:
        client.wait_for_workers(1, timeout=timeout)
        threads = sum(client.nthreads(callback_timeout=timeout).values())
    except (TimeoutError, OSError):
        raise invalid("scheduler", f"must have a worker (none joined within {timeout:g} s; --timeout)",
                      where) from None
    window = max(4, 2 * threads)
    pending: collections.deque = collections.deque()
    source = iter(tasks)

    def top_up() -> None:
        while len(pending) < window:
            task = next(source, None)
            if task is None:
                return
            pending.append(client.submit(work, *task, pure=False))

    try:
        top_up()
        idle_since: float | None = None
        while pending:
            try:
                part = pending[0].result(timeout=_DASK_POLL)
            except TimeoutError:
                if client.status not in ("running", "connecting"):
                    raise lost(f"the client is {client.status}") from None
                try:
                    workers = len(client.nthreads(callback_timeout=timeout))
                except (TimeoutError, OSError, CancelledError):
                    raise lost("the scheduler stopped answering") from None
                now = time.monotonic()
                idle_since = None if workers else (idle_since or now)
                if idle_since is not None and now - idle_since > timeout:
                    raise lost(f"no worker for {timeout:g} s") from None
                continue
            except (CancelledError, OSError) as exc:
                reason = getattr(exc, "reason", None) or _reason(exc)  # dask's reason: scheduler-connection-lost
                raise lost(f"the connection to the scheduler was lost: {reason}") from None
            except Exception as exc:
                if type(exc).__name__ == "KilledWorker":  # distributed.scheduler.KilledWorker
                    raise lost("workers died running a chunk, again and again") from None
                raise
            pending.popleft()
            report(part)
            top_up()
    finally:
        if pending:
            with contextlib.suppress(Exception):
                client.cancel(list(pending))
