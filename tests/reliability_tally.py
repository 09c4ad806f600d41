"""Counts of the reliability tests (issue 10), printed at the end of the pytest session.

The reliability tests add to these counters as they go: fuzzed inputs tried, interruptions
and faults injected, runs lost after a resume, tracebacks a user would have seen.  The
tests themselves assert that no run is lost and no traceback is seen; the summary line
makes the counts visible in any pytest run that includes them, e.g.::

    python -m pytest -q tests/test_reliability_input.py tests/test_reliability_model.py tests/test_reliability_faults.py

    reliability: 824 fuzz examples (input; 8 through the real CLI in subprocesses), 57 model examples,
    40 interruptions and faults injected (sigint 10, sigkill 7, ...), 0 runs lost, 0 tracebacks seen by a user
"""

from __future__ import annotations

from collections import Counter

import pytest

TALLY: Counter[str] = Counter()
"""fuzz_examples, cli_subprocesses, model_examples, sigint, sigkill, worker_deaths,
dask_worker_kills, disk_full, fs_faults, runs_lost, user_tracebacks."""

TRACEBACKS: list[str] = []
"""The texts that held a traceback (printed at the end of the session, to fix them)."""

FAULT_KEYS = ("sigint", "sigkill", "worker_deaths", "dask_worker_kills", "disk_full", "fs_faults")
PLUGIN_NAME = "ptce-reliability-tally"


def count_traceback(text: str) -> None:
    """Count a traceback in what a user would see (stderr of the command line)."""
    if "Traceback (most recent call last)" in text:
        TALLY["user_tracebacks"] += 1
        TRACEBACKS.append(text)


class _Reporter:
    def pytest_terminal_summary(self, terminalreporter) -> None:  # noqa: ANN001 (pytest hook)
        if not TALLY:
            return
        faults = sum(TALLY[k] for k in FAULT_KEYS)
        detail = ", ".join(f"{k} {TALLY[k]}" for k in FAULT_KEYS if TALLY[k])
        terminalreporter.write_line(
            f"reliability: {TALLY['fuzz_examples']} fuzz examples (input; {TALLY['cli_subprocesses']} through the real CLI "
            f"in subprocesses), {TALLY['model_examples']} model examples, {faults} interruptions and faults injected"
            f"{f' ({detail})' if detail else ''}, {TALLY['runs_lost']} runs lost, {TALLY['user_tracebacks']} tracebacks seen by a user"
        )
        for text in TRACEBACKS:
            terminalreporter.write_line("reliability: a user would have seen this traceback:\n" + text)


@pytest.fixture(scope="session", autouse=False)
def reliability_tally(request) -> Counter[str]:
    """Registers the summary line once per session (used autouse by the reliability modules)."""
    manager = request.config.pluginmanager
    if not manager.has_plugin(PLUGIN_NAME):
        manager.register(_Reporter(), PLUGIN_NAME)
    return TALLY
