"""Arrival times of the UCI "Incident management process enriched event log" (read in place from
../shared/data; each incident counted once, at its `opened_at`). Shared by the insights benchmarks."""

from __future__ import annotations

import csv
import io
import zipfile
from datetime import UTC, datetime
from pathlib import Path

UCI_ZIP = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "uci_incident_log" / "incident_event_log.zip"
#: The dense period (24.4k of the 24.9k incidents); the rest of the file is sparse.
DENSE_START = datetime(2016, 2, 29, tzinfo=UTC)
DENSE_END = datetime(2016, 6, 1, tzinfo=UTC)  # through 2016-05-31


def opened_times(path: Path = UCI_ZIP, start: datetime = DENSE_START, end: datetime = DENSE_END) -> list[datetime]:
    """Each incident's `opened_at` (day/month/year hour:minute, taken as UTC) inside [start, end), sorted."""
    if not path.exists():
        raise SystemExit(f"skipped: {path} is absent (the UCI incident log lives in ../shared/data)")
    seen: dict[str, datetime] = {}
    with zipfile.ZipFile(path) as archive, archive.open(archive.namelist()[0]) as raw:
        for row in csv.DictReader(io.TextIOWrapper(raw, "utf-8")):
            number = row["number"]
            if number in seen or not row["opened_at"]:
                continue
            seen[number] = datetime.strptime(row["opened_at"], "%d/%m/%Y %H:%M").replace(tzinfo=UTC)
    return sorted(at for at in seen.values() if start <= at < end)
