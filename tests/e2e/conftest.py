"""The browser tests run in one Playwright run (``test_dashboard.py``), so pytest's ``--durations`` sees
their time as the setup of the first; each records its own (``browser_duration_s``) and the summary
lists the slowest of them as Playwright timed them."""

from __future__ import annotations

import pytest

#: The property each browser test records: its duration in Playwright, in seconds.
BROWSER_DURATION = "browser_duration_s"
SLOWEST = 15


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    timed = [
        (float(value), report.nodeid)
        for outcome in ("passed", "failed")
        for report in terminalreporter.stats.get(outcome, [])
        if report.when == "call"
        for name, value in report.user_properties
        if name == BROWSER_DURATION
    ]
    if not timed:
        return
    terminalreporter.write_sep("=", f"slowest {min(SLOWEST, len(timed))} browser tests (Playwright's time)")
    for seconds, nodeid in sorted(timed, reverse=True)[:SLOWEST]:
        terminalreporter.write_line(f"{seconds:7.2f}s {nodeid}")
