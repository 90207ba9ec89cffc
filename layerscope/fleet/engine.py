"""Where the layers are read: this machine's thread pool (the default), or a dask.distributed cluster.

dask is an optional extra, imported only when a scheduler is named, so the
single-machine path loads none of it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Iterator

from ..errors import UsageError

MISSING = "--scheduler needs the dask extra: pip install 'layerscope[dask]'"
LOCAL = ("processes", "threads")


def scheduler_address(scheduler: str | None) -> str | None:
    """What to run on: ``scheduler`` as given; when None, ``DASK_SCHEDULER_ADDRESS`` (as dask
    itself reads it); ``""`` or neither: None (this machine)."""
    if scheduler is None:
        scheduler = os.environ.get("DASK_SCHEDULER_ADDRESS", "")
    scheduler = scheduler.strip()
    if scheduler and scheduler not in LOCAL and "://" not in scheduler:
        raise UsageError(f"--scheduler {scheduler!r}: expected processes, threads or tcp://HOST:PORT")
    return scheduler or None


@contextlib.contextmanager
def open_engine(scheduler: str | None = None, *, jobs: int | None = None,
                progress: bool | None = False) -> Iterator[object | None]:
    """A dask ``Client`` for ``scheduler`` (see :func:`scheduler_address`), or None: run here.

    ``processes``/``threads``: a LocalCluster of worker processes (one thread each) or of
    threads in this process, ``jobs`` of them (default: dask's, one per CPU); with
    ``progress``, its dashboard link goes to stderr. ``tcp://HOST:PORT``: a running
    scheduler. Dask missing: a UsageError (exit 2)."""
    address = scheduler_address(scheduler)
    if address is None:
        yield None
        return
    try:
        import dask  # noqa: F401
        import distributed
    except ImportError:
        raise UsageError(MISSING) from None
    if address in LOCAL:
        processes = address == "processes"
        size = {"n_workers": jobs, "threads_per_worker": 1} if processes else {"n_workers": 1, "threads_per_worker": jobs}
        with distributed.LocalCluster(processes=processes, dashboard_address=":0", silence_logs=logging.ERROR,
                                      **{k: v for k, v in size.items() if v is not None}) as cluster, \
                distributed.Client(cluster) as client:
            if progress or (progress is None and sys.stderr.isatty()):
                print(f"layerscope: dask dashboard: {client.dashboard_link}", file=sys.stderr)
            yield client
        return
    try:
        client = distributed.Client(address, timeout="30s")
    except OSError as e:
        raise UsageError(f"--scheduler {address}: cannot connect: {e}") from None
    with client:
        yield client
