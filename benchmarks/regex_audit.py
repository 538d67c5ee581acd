"""Hunt for super-linear regular expressions in the project (catastrophic backtracking).

    .venv/bin/python benchmarks/regex_audit.py [--size 2000] [--show 15]

Imports every module under the project's packages, collects each compiled pattern held at module
level (alone or inside a tuple, list or dict), and runs `finditer` over pumped inputs at two sizes:
generic pumps (spaces, letters, digits, punctuation, markup) and pumps built from the pattern's own
literal words ("hi" + spaces + "x" for a greeting rule). A linear pattern costs about 4x when the
input grows 4x, a quadratic one about 16x. The screen uses the wall clock (fast, but noisy on a busy
machine); every pattern that grew over 8x there is measured again on process CPU time, repeated
until steady, at 4x the size, and flagged only if it grows over 8x again. Patterns written
inline (`re.sub(r"...", ...)`) are not collected: review those by hand (`grep -rn "re\\." `).
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import re
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

PACKAGES = ("agent", "knowledge", "tools", "service", "finetune", "evals", "caseworker", "prompts")
_GENERIC_UNITS = (" ", "\t", "a", "A", "1", "a ", "A ", "1 ", "-", "- ", ".", "a.", "1.", ",", "1,", "%", "#", ":")
_GENERIC_UNITS += ("0:", "x=", "<a", "</", "<", "!", "?", "'", "é", "Ab", "a-", "/a", "sk-", "\n", "\n ", "> ", ">")
_GENERIC_UNITS += ("-----BEGIN RSA PRIVATE KEY-----\n", "1,000", "a@b.", "secret")
#: Starts that put a line rule in play before the pump: a heading, a signature, a tag, a name.
_GENERIC_PREFIXES = ("", "\n", "# x", "--", "<", "> ", "a@", "?", "Regards, Bob", "Best", "hi", "password")
_CUTOFF_S = 2.0


class _TooSlow(Exception):
    pass


Pump = tuple[str, str, str]  # prefix, repeated unit, suffix that makes the match fail at the end


@dataclass
class Finding:
    name: str
    pattern: re.Pattern[str]
    screen_ratio: float
    pump: Pump
    confirmed_ratio: float | None = None
    large_ms: float = 0.0


def _patterns() -> Iterator[tuple[str, re.Pattern[str]]]:
    seen: set[int] = set()
    root = Path(__file__).resolve().parent.parent
    for package in PACKAGES:
        if not (root / package).is_dir():
            continue
        modules = [package] + [
            f"{package}.{info.name}"
            for info in pkgutil.walk_packages([str(root / package)])
            if not info.name.startswith("_")
        ]
        for module_name in modules:
            try:
                module = importlib.import_module(module_name)
            except Exception:  # an optional import failing must not stop the audit
                continue
            for attr, value in vars(module).items():
                if isinstance(value, dict):
                    found = [(f"[{key!r}]", item) for key, item in value.items()]
                elif isinstance(value, (tuple, list)):
                    found = [(f"[{i}]", item) for i, item in enumerate(value)]
                else:
                    found = [("", value)]
                for suffix, item in found:
                    if isinstance(item, re.Pattern) and isinstance(item.pattern, str) and id(item) not in seen:
                        seen.add(id(item))
                        yield f"{module_name}.{attr}{suffix}", item


def _pumps(pattern: re.Pattern[str]) -> list[tuple[str, str, str]]:
    """(prefix, unit, suffix) triples: the unit repeats; the suffix makes the match fail at the end."""
    words = list(dict.fromkeys(re.findall(r"[A-Za-zÀ-ÿ]{2,}", pattern.pattern)))[:30]
    units = list(_GENERIC_UNITS) + [w + " " for w in words] + words
    prefixes = list(_GENERIC_PREFIXES) + [w + " " for w in words[:12]] + [w for w in words[:12]]
    return [(p, u, s) for p in prefixes for u in units for s in ("\x00", "1")]


def _cost(pattern: re.Pattern[str], text: str) -> float:
    """Best of three wall-clock runs (the process CPU clock ticks too coarsely on some VMs); a run
    past the CPU cutoff is stopped and costs infinity."""
    best = float("inf")
    for _ in range(3):
        signal.setitimer(signal.ITIMER_PROF, _CUTOFF_S)
        started = time.perf_counter()
        try:
            for _ in pattern.finditer(text):
                pass
        except _TooSlow:
            return float("inf")
        finally:
            signal.setitimer(signal.ITIMER_PROF, 0)
        best = min(best, time.perf_counter() - started)
    return best


def _text(pump: Pump, size: int) -> str:
    prefix, unit, suffix = pump
    return prefix + unit * max(1, size // len(unit)) + suffix


def screen(pattern: re.Pattern[str], size: int) -> tuple[float, Pump]:
    """The pump whose wall-clock cost grows most from size/4 to size characters (fast, noisy)."""
    worst: tuple[float, Pump] = (0.0, ("", " ", "\x00"))
    for pump in _pumps(pattern):
        small = _cost(pattern, _text(pump, size // 4))
        if small == float("inf"):
            return float("inf"), pump
        large = _cost(pattern, _text(pump, size))
        ratio = large / max(small, 1e-5)
        if large > 0.002 and ratio > worst[0]:
            worst = (ratio, pump)
    return worst


def _steady_cost(pattern: re.Pattern[str], text: str, floor_s: float = 0.2) -> float:
    """Process CPU seconds per run, repeated until `floor_s` of CPU has passed: steady on a busy machine."""
    runs, started = 0, time.process_time()
    while (used := time.process_time() - started) < floor_s:
        if _cost(pattern, text) == float("inf"):
            return float("inf")
        runs += 1
    return used / runs


def confirm(finding: Finding, size: int) -> None:
    """The CPU-time growth of the screened pump from `size` to 4 x `size` characters."""
    small = _steady_cost(finding.pattern, _text(finding.pump, size))
    large = _steady_cost(finding.pattern, _text(finding.pump, 4 * size))
    finding.confirmed_ratio = large / max(small, 1e-9) if small != float("inf") else float("inf")
    finding.large_ms = large * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=2000, help="characters in the larger screening input")
    parser.add_argument("--show", type=int, default=15, help="rows to print, worst first")
    args = parser.parse_args()

    def _raise(*_: object) -> None:
        raise _TooSlow

    signal.signal(signal.SIGPROF, _raise)
    findings = [Finding(name, pattern, *screen(pattern, args.size)) for name, pattern in _patterns()]
    suspects = [f for f in findings if f.screen_ratio > 8]
    for finding in suspects:
        confirm(finding, args.size)
    flagged = [f for f in suspects if (f.confirmed_ratio or 0) > 8]
    findings.sort(key=lambda f: (f.confirmed_ratio or 0, f.screen_ratio), reverse=True)
    print(
        f"{len(findings)} patterns screened at {args.size} chars; {len(suspects)} grew over 8x on the wall clock, "
        f"{len(flagged)} confirmed on CPU time ({args.size} -> {4 * args.size} chars; linear is about 4x)"
    )
    for f in findings[: args.show]:
        mark = "FLAG" if f in flagged else "    "
        confirmed = f"{f.confirmed_ratio:7.1f}x {f.large_ms:8.2f} ms" if f.confirmed_ratio is not None else " " * 20
        sample = repr(f.pump[0] + f.pump[1] * 3 + f.pump[2])
        print(f"{mark} screen {f.screen_ratio:7.1f}x  cpu {confirmed}  {f.name}  e.g. {sample[:50]}")


if __name__ == "__main__":
    main()
