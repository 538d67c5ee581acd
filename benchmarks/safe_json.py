"""What the intake's JSON checks cost (knowledge.safe_json.loads versus json.loads) on 1 MB bodies, the default
CASEWORKER_MAX_BODY_BYTES: a typical body (long text), the worst case for the depth scan (only brackets), and
many short strings (the cleaning walk).

    .venv/bin/python benchmarks/safe_json.py

Prints the median milliseconds of 5 runs of each parser per body.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable
from typing import Any

from knowledge import safe_json

MB = 1_000_000


def _bodies() -> dict[str, str]:
    text = "The password reset email never arrives. " * (MB // 42)
    brackets = "[" + ",".join(["[]"] * (MB // 3)) + "]"
    strings = json.dumps({"items": [f"tag-{n}" for n in range(MB // 12)]})
    return {
        "one long text": json.dumps({"ticket": {"id": "1", "subject": "s", "description": text}}),
        "only brackets": brackets,
        "many short strings": strings,
    }


def _median_ms(parse: Callable[[str], Any], body: str) -> float:
    runs = []
    for _ in range(5):
        started = time.perf_counter()
        parse(body)
        runs.append((time.perf_counter() - started) * 1000)
    return statistics.median(runs)


def main() -> None:
    print(f"{'body (about 1 MB)':<22}{'json.loads ms':>15}{'safe_json.loads ms':>20}")
    for name, body in _bodies().items():
        print(f"{name:<22}{_median_ms(json.loads, body):>15.1f}{_median_ms(safe_json.loads, body):>20.1f}")


if __name__ == "__main__":
    main()
