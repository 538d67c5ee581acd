"""CPU time of each triage graph node on long ticket bodies (10 KB, 100 KB, 1 MB), per body shape.

    .venv/bin/python benchmarks/long_ticket.py [--sizes 10000,100000,1000000] [--repeat 3] [--budget 30]

Local mode on the bundled sample company. Each node runs alone (prepare, retrieve, classify, decide,
draft, escalate, record; draft and escalate both), timed with process CPU time, so other processes on
the machine do not move the figures. A node still running after `--budget` seconds of CPU is
stopped and printed as ">budget" (how the code before the bounded windows looked on 1 MB bodies).
tests/test_long_ticket.py asserts a generous bound on the same nodes; this prints the real figures.
Figures are means over `--repeat` runs: the process CPU clock may tick in 4 ms steps on a VM. The
first row is a short ticket, for scale.
"""

from __future__ import annotations

import argparse
import signal
import tempfile
import time
from pathlib import Path
from types import FrameType
from typing import Any

from langgraph.runtime import Runtime

from agent import nodes
from agent.state import TriageContext
from caseworker.demo import sample_dir
from config.components import Components
from config.settings import Settings
from knowledge.importers import read_tickets
from knowledge.kb_importer import read_kb
from knowledge.schemas import Ticket

NODES = ("prepare", "retrieve", "classify", "decide", "draft", "escalate", "record")
UNITS = {
    "one line, no full stop": "the export keeps failing and nothing works ",
    "short lines": "the export fails again after the update.\n",
    "'tried' repeated": "tried ",
    "HTML on one line": "<div><p>Hello <b>team</b>, the export &amp; import fail</p></div>",
    "quoted lines": "> On Monday the team wrote: please try the export again\n",
}


class _OverBudget(Exception):
    pass


def _over(_signum: int, _frame: FrameType | None) -> None:
    raise _OverBudget


def _body(shape: str, size: int) -> str:
    if shape == "greeting + blanks":
        return "Hi" + " " * (size - 3) + "x"
    unit = UNITS[shape]
    return (unit * (size // len(unit) + 1))[:size]


def run_nodes(ticket: Ticket, ctx: TriageContext, budget_s: float) -> dict[str, float | str]:
    """CPU seconds per node; ">budget" for a node stopped at the budget, "-" for those not run after it."""
    runtime = Runtime(context=ctx)
    state: dict[str, Any] = {"ticket": ticket}
    used: dict[str, float | str] = dict.fromkeys(NODES, "-")
    steps = {
        "prepare": nodes.prepare,
        "retrieve": nodes.retrieve,
        "classify": nodes.classify,
        "decide": nodes.decide_action,
        "draft": nodes.draft,
        "escalate": nodes.escalate,
        "record": nodes.record,
    }
    updates: dict[str, dict[str, Any]] = {}
    for name, node in steps.items():
        if name == "record":
            state.update(updates["escalate" if nodes.route_after_decision(state) == "escalate" else "draft"])
        started = time.process_time()
        signal.setitimer(signal.ITIMER_PROF, budget_s)
        try:
            updates[name] = node(state, runtime)
        except _OverBudget:
            used[name] = ">budget"
            return used
        finally:
            signal.setitimer(signal.ITIMER_PROF, 0)
        used[name] = time.process_time() - started
        if name not in ("draft", "escalate"):
            state.update(updates[name])
    return used


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10000,100000,1000000", help="body sizes in characters, comma-separated")
    parser.add_argument("--repeat", type=int, default=3, help="runs per body; the figures are means")
    parser.add_argument("--budget", type=float, default=30.0, help="CPU seconds before a node is stopped")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    signal.signal(signal.SIGPROF, _over)

    samples = sample_dir()
    with tempfile.TemporaryDirectory() as tmp:
        workspace = Components(Settings(data_dir=Path(tmp)))
        workspace.install_taxonomy(samples / "taxonomy.toml")
        workspace.ingest.tickets(read_tickets(samples / "history.jsonl").tickets)
        workspace.ingest.kb(read_kb(samples / "kb").articles)
        workspace.train()
        ctx = workspace.context()
        run_nodes(Ticket(id="warm-up", subject="Login", body="I cannot log in."), ctx, args.budget)

        print(f"CPU ms per node (stopped at {args.budget:.0f} s of CPU: '>budget')")
        print(f"{'shape':24} {'size':>9} " + " ".join(f"{n:>9}" for n in NODES) + f" {'total':>9}")
        short = "The export button does nothing since the update. I already cleared the cache. Please help!"
        rows = [("short ticket", len(short), short)]
        rows += [(shape, size, _body(shape, size)) for shape in [*UNITS, "greeting + blanks"] for size in sizes]
        for shape, size, body in rows:
            ticket = Ticket(id=f"bench-{shape[:8]}-{size}", subject="Export broken", body=body)
            runs = [run_nodes(ticket, ctx, args.budget) for _ in range(args.repeat)]
            cells = []
            for name in NODES:
                values = [run[name] for run in runs]
                stopped = next((v for v in values if isinstance(v, str)), None)
                cells.append(stopped or f"{sum(values) / len(values) * 1000:.1f}")  # type: ignore[arg-type]
            done = [float(c) for c in cells if c[0].isdigit()]
            total = f"{sum(done):.1f}" if len(done) == len(NODES) else "-"
            print(f"{shape:24} {size:>9,} " + " ".join(f"{c:>9}" for c in cells) + f" {total:>9}", flush=True)


if __name__ == "__main__":
    main()
