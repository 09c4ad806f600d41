"""Preload of the worker processes of the local Dask cluster that ``ptce batch --executor
dask`` starts (``LocalCluster(preload=[...])``, see simulation.runner._open_executor).

A terminal sends Ctrl-C to its whole foreground process group, Dask's worker processes
included.  Each of them runs under asyncio.run, whose SIGINT handler would stop the
worker with a KeyboardInterrupt traceback on the user's screen while the driver is still
finishing the tasks that are running.  As the process pool's workers do (runner's
_ignore_sigint), a Dask worker ignores Ctrl-C: the driver decides what to stop and
closes the cluster itself.  Dask runs ``dask_setup`` in the worker's main thread when
the worker starts (https://distributed.dask.org/en/stable/plugins.html, preloads)."""

from __future__ import annotations

import logging
import signal
from typing import Any


def dask_setup(worker: Any) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def quiet() -> None:
    """Run on each worker (``Client.run``) just before the driver closes the local cluster
    after a Ctrl-C: the workers' tasks are cancelled and the scheduler goes down under them,
    which Dask logs as warnings and errors with tracebacks (a cancelled task, a heartbeat to
    a scheduler already closed); the batch has said what it kept, so they are not shown."""
    logging.disable(logging.CRITICAL)
