"""The fault-injection tier: tests that kill and break things on purpose (the job, backend workers,
Redis, the disk, the model hub, the dataset download) and check that nothing is lost and every
answer is clear. Each records what it did in the session's ledger (``tests.helpers.faults``), printed
at the end and written to ``artifacts/faults/``."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers.faults import FaultLedger, FaultRecorder

_LEDGER = FaultLedger()
_REPORT = Path(__file__).resolve().parents[2] / "artifacts" / "faults"


@pytest.fixture
def faults(request: pytest.FixtureRequest) -> FaultRecorder:
    """Record the faults this test injects (``faults.record(...)``) in the session's table."""
    return FaultRecorder(_LEDGER, request.node.name)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not _LEDGER.records:
        return
    _LEDGER.write(_REPORT)
    terminalreporter.section("faults injected")
    terminalreporter.write_line(_LEDGER.table())
    terminalreporter.write_line(f"(written to {_REPORT / 'report.md'})")
