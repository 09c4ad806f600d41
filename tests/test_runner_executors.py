"""Same seeds, same results: every executor and every chunking gives the same batch, run by run."""

from __future__ import annotations

import concurrent.futures as cf

import pandas as pd
import pytest

from simulation.runner import load_results, run_batch

from .test_runner import REGIMES_X_SHOCKS, batch_file, tree_digest


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("executors")
    path = batch_file(tmp, REGIMES_X_SHOCKS.replace('["none", "cut"]', '["cut"]'))  # twins added by the runner
    assert run_batch(path, executor="serial", out=tmp / "serial").success
    return path, load_results(tmp / "serial")


def assert_same_batch(a, b):
    pd.testing.assert_frame_equal(a.design, b.design, check_exact=True)
    pd.testing.assert_frame_equal(a.outcomes, b.outcomes, check_exact=True)
    pd.testing.assert_frame_equal(a.timeseries, b.timeseries, check_exact=True)
    assert {k: v for k, v in tree_digest(a.path).items() if k.startswith("networks/")} == {
        k: v for k, v in tree_digest(b.path).items() if k.startswith("networks/")
    }


def test_processes_give_the_serial_results(reference, tmp_path):
    path, serial = reference
    summary = run_batch(path, executor="processes", workers=2, out=tmp_path / "p")
    assert summary.success and summary.executor == "processes (2 workers)"
    res = load_results(tmp_path / "p")
    assert len(res.outcomes) == 12 and res.outcomes["ess_employment_fte__resistance"].notna().sum() == 6
    assert_same_batch(serial, res)


def test_dask_local_cluster_gives_the_serial_results(reference, tmp_path):
    pytest.importorskip("dask.distributed", reason="the [dask] extra is part of [test]")
    path, serial = reference
    summary = run_batch(path, executor="dask", workers=2, out=tmp_path / "d", chunk_runs=2)
    assert summary.success and summary.executor.startswith("dask on a local cluster")
    assert_same_batch(serial, load_results(tmp_path / "d"))


def test_any_executor_and_any_chunking_give_the_serial_results(reference, tmp_path):
    """A caller's own concurrent.futures executor (left open), tasks of one group each,
    finishing in any order."""
    path, serial = reference
    with cf.ThreadPoolExecutor(max_workers=3) as pool:
        summary = run_batch(path, executor=pool, out=tmp_path / "t", chunk_runs=1)
        assert pool.submit(sum, [1, 2]).result() == 3  # still usable: the runner did not shut it down
    assert summary.success and len(load_results(tmp_path / "t").manifest["parts"]) == 6
    assert_same_batch(serial, load_results(tmp_path / "t"))


def test_a_cancelled_dask_task_logs_no_traceback_other_errors_still_do(caplog):
    """After Ctrl-C the driver cancels the tasks not yet started; Dask's executor callback
    then raises FutureCancelledError on the client's loop and tornado logs it with its
    traceback. The dask executor filters those records out of tornado's error logger (and
    only those) while the batch runs."""
    import concurrent.futures as cf
    import logging

    from simulation.runner import TORNADO_ERROR_LOGGER, _CancelledCallbackFilter

    log = logging.getLogger(TORNADO_ERROR_LOGGER)
    drop = _CancelledCallbackFilter()
    log.addFilter(drop)
    try:
        with caplog.at_level(logging.ERROR, logger=TORNADO_ERROR_LOGGER):
            for exc in (cf.CancelledError("run_group_task cancelled"), RuntimeError("a real failure")):
                try:
                    raise exc
                except Exception:
                    log.exception("Exception in callback")
    finally:
        log.removeFilter(drop)
    assert [r.exc_info[1].__class__ for r in caplog.records] == [RuntimeError]


def test_the_dask_executor_filters_cancelled_callbacks_while_it_is_open():
    pytest.importorskip("dask.distributed", reason="the [dask] extra is part of [test]")
    import logging

    from simulation.runner import TORNADO_ERROR_LOGGER, _CancelledCallbackFilter, _open_executor

    def filtering() -> bool:
        return any(isinstance(f, _CancelledCallbackFilter) for f in logging.getLogger(TORNADO_ERROR_LOGGER).filters)

    assert not filtering()
    _pool, _n, close, _desc = _open_executor("dask", 1, None)
    try:
        assert filtering()
    finally:
        close(True)
    assert not filtering()
