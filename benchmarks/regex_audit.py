"""Hunt for super-linear regular expressions in the project (catastrophic backtracking).

    .venv/bin/python benchmarks/regex_audit.py [--size 2000] [--show 15]

Imports every module under the project's packages, collects each compiled pattern held at module
level (alone or inside a tuple, list or dict), and runs `finditer` over pumped inputs at two sizes:
generic pumps (spaces, letters, digits, punctuation, markup) and pumps built from the pattern's own
literal words ("hi" + spaces + "x" for a greeting rule). It prints the worst growth ratio per
pattern; a linear pattern grows about 4x when the input grows 4x, a quadratic one about 16x. A
pattern is flagged when the larger input costs over 5 ms and grows more than 8x. Patterns written
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


@dataclass
class Finding:
    name: str
    ratio: float
    large_ms: float
    sample: str


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


def audit(pattern: re.Pattern[str], size: int) -> tuple[float, float, str]:
    worst = (0.0, 0.0, "")
    for prefix, unit, suffix in _pumps(pattern):
        small = prefix + unit * max(1, size // 4 // len(unit)) + suffix
        if _cost(pattern, small) > _CUTOFF_S / 4:
            return float("inf"), float("inf"), repr(prefix + unit * 3 + suffix)
        large = prefix + unit * max(1, size // len(unit)) + suffix
        t_small, t_large = _cost(pattern, small), _cost(pattern, large)
        ratio = t_large / max(t_small, 1e-5)
        if t_large > 0.005 and ratio > worst[0]:
            worst = (ratio, t_large, repr(prefix + unit * 3 + suffix))
    return worst


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=2000, help="characters in the larger pumped input")
    parser.add_argument("--show", type=int, default=15, help="rows to print, worst first")
    args = parser.parse_args()

    def _raise(*_: object) -> None:
        raise _TooSlow

    signal.signal(signal.SIGPROF, _raise)
    findings = []
    for name, pattern in _patterns():
        ratio, large, sample = audit(pattern, args.size)
        findings.append(Finding(name, ratio, large * 1000, sample))
    findings.sort(key=lambda f: (f.ratio, f.large_ms), reverse=True)
    flagged = [f for f in findings if f.ratio > 8 and f.large_ms > 5]
    print(f"{len(findings)} patterns audited at {args.size} chars; {len(flagged)} flagged (>8x growth for 4x input)")
    for f in findings[: args.show]:
        mark = "FLAG" if f in flagged else "    "
        print(f"{mark} {f.ratio:8.1f}x {f.large_ms:9.1f} ms  {f.name}  e.g. {f.sample[:60]}")


if __name__ == "__main__":
    main()
