"""The metrics log of a run: one JSON object per line (``metrics.jsonl``), the loop's events as they happen.

Each line is an event of ``loop.py`` (``{"kind": "step" | "eval" | "sample" | "done" | ..., "step": n,
...}``).  Lines are appended and flushed as they come, so a crash loses at most the line being written.
A resumed run first drops the lines of steps after the one it resumes from (they were computed by the
interrupted run after its last resumable checkpoint and are about to be computed again).
"""

from __future__ import annotations

import json
import math
from pathlib import Path


def _clean(value):
    """JSON has no NaN or infinity: write them as strings."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


class MetricsLog:
    def __init__(self, path: str | Path, keep_until_step: int | None = None):
        self.path = Path(path)
        self.records: list[dict] = []
        if keep_until_step is not None and self.path.exists():
            self.records = [r for r in read_metrics(self.path) if r.get("step", 0) <= keep_until_step]
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "w", encoding="utf-8") as f:
            for record in self.records:
                f.write(json.dumps(record) + "\n")
        self._file = open(self.path, "a", encoding="utf-8")

    def write(self, event: dict) -> None:
        record = {k: _clean(v) for k, v in event.items()}
        self.records.append(record)
        self._file.write(json.dumps(record) + "\n")
        self._file.flush()

    def close(self) -> None:
        self._file.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def read_metrics(path: str | Path) -> list[dict]:
    """The records of a metrics log; a torn last line (a crash mid-write) is skipped."""
    records = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return records
