"""The fault-injection suite's ledger: what each test broke on purpose and what came of it.

Every test in ``tests/faults`` records, through the ``faults`` fixture, the faults it injected, the
requests (or runs) it made while they were in force, the failures it saw (each one a clear answer: the
test asserts so), and the data lost (which the test asserts is zero). At the end of the session the
ledger prints one table and writes it to ``artifacts/faults/report.md`` and ``report.json``: the
table docs/benchmarks.md keeps.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class FaultRecord:
    """One kind of fault as one test injected it.

    ``fault``: what was broken (a short phrase); ``injected``: how many times; ``requests``: requests,
    runs or downloads made while it was in force; ``failures_seen``: how many of those answered with an
    error (a clear one: the test checks each message); ``lost``: items of data lost (images, uploads,
    modes, checkpoints); ``produced``: what the user saw, in a few words.
    """

    test: str
    fault: str
    injected: int
    requests: int
    failures_seen: int
    lost: int
    produced: str


@dataclass
class FaultLedger:
    """The records of one session, in the order the tests made them."""

    records: list[FaultRecord] = field(default_factory=list)

    def table(self) -> str:
        """A Markdown table of every record, with a totals row."""
        header = "| fault | test | injected | requests | failures seen | data lost | what it produced |"
        lines = [header, "|---|---|---:|---:|---:|---:|---|"]
        for r in self.records:
            counts = f"{r.injected} | {r.requests} | {r.failures_seen} | {r.lost}"
            lines.append(f"| {r.fault} | `{r.test}` | {counts} | {r.produced} |")
        totals = [
            sum(getattr(r, name) for r in self.records) for name in ("injected", "requests", "failures_seen", "lost")
        ]
        lines.append(f"| **total** | {len(self.records)} records | " + " | ".join(map(str, totals)) + " | |")
        return "\n".join(lines)

    def write(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "report.md").write_text(self.table() + "\n")
        (folder / "report.json").write_text(json.dumps([asdict(r) for r in self.records], indent=2) + "\n")


@dataclass
class FaultRecorder:
    """What the ``faults`` fixture hands a test: ``record(...)`` once per kind of fault it injected."""

    ledger: FaultLedger
    test: str

    def record(self, fault: str, *, injected: int, requests: int, failures_seen: int, lost: int, produced: str) -> None:
        self.ledger.records.append(FaultRecord(self.test, fault, injected, requests, failures_seen, lost, produced))
