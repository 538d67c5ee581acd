"""How routing holds up over time: skill profiles frozen at the cut (the eval's protocol) against profiles
rebuilt every --refresh-days from what was resolved by then (a deployment running `caseworker train` on a
schedule), on the Apache Hive time split.

    python benchmarks/routing_refresh.py --embedding-cache /tmp/caseworker-emb --refresh-days 30

Data: ../shared/data/apache_jira_hive/hive_bugs.csv (exits 0 with "skipped: ..." when absent). Test rows
are the `hive_routing` suite's: the newest 20 % of assigned bugs, minus those assigned to their reporter.
The schedule is evals/refresh.py's, the one `caseworker eval --refresh-days` uses: a rebuild at time t adds
the test-period bugs resolved by t (with their assignee; self-assigned ones too, as history) to the training
set; nothing resolved later is used. Each test bug is routed with the profiles of the latest rebuild at or
before its creation, through the product's code (build_profiles,
decide_routing) with the roster derived from the history (no capacity or shifts), as in the eval.
Printed: top-1/5/10 and MRR@10 for both modes, overall and per 5-month period after the cut.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from evals.datasets import DatasetSpec, TestCase, load_dataset  # noqa: E402
from evals.ranking import ranking_scores  # noqa: E402
from evals.refresh import aware, refresh_schedule, training_cut  # noqa: E402
from evals.runner import CachedEmbedder  # noqa: E402
from knowledge.embeddings import local_embedder  # noqa: E402
from knowledge.roster import Agent  # noqa: E402
from knowledge.schemas import Ticket  # noqa: E402
from knowledge.text import model_text  # noqa: E402
from tools.routing.policy import RoutingFacts, decide_routing  # noqa: E402
from tools.routing.profiles import TenantProfiles, build_profiles, skill_values  # noqa: E402

DATA = REPO.parent / "shared" / "data" / "apache_jira_hive" / "hive_bugs.csv"
MAP = ["id=key", "text=summary,description", "created_at=created", "resolved_at=resolutiondate",
       "customer_id=reporter", "tags=components", "assignee=assignee"]  # fmt: skip
PERIOD_DAYS = 150


def _profiles(history: list[Ticket], embedder: CachedEmbedder) -> TenantProfiles:
    texts = [model_text(t.subject, t.body) for t in history]
    return build_profiles("default", history, embedder.embed(texts), texts=texts)


def _rank(case: TestCase, profiles: TenantProfiles, vector: np.ndarray) -> list[str]:
    ticket = case.ticket
    facts = RoutingFacts(
        now=aware(ticket.created_at),  # type: ignore[arg-type]
        embedding=vector.tolist(), skills=skill_values(ticket), text=model_text(ticket.subject, ticket.body),
        requester=frozenset({ticket.customer.id} if ticket.customer and ticket.customer.id else ()),
    )  # fmt: skip
    roster = [Agent(id=name, name=name) for name in profiles.names]
    return decide_routing(roster, {}, profiles, facts).ranked


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--embedding-cache", type=Path, default=Path("/tmp/caseworker-embedding-cache"))
    parser.add_argument("--refresh-days", type=int, default=30)
    args = parser.parse_args()
    if not DATA.is_file():
        print(f"skipped: {DATA} is absent (see ../shared/data/README.md)")
        return
    everything = load_dataset(DatasetSpec(train=DATA, map=MAP, split="time", person_fields=["assignee"]))
    embedder = CachedEmbedder(local_embedder(2), args.embedding_cache)
    train = everything.train
    cut = training_cut(train)
    cases = [c for c in everything.test if not (c.ticket.customer and c.truth["assignee"] == c.ticket.customer.id)]
    later = everything.period  # the test period as read, with labels and resolution dates
    vectors = embedder.embed([model_text(c.ticket.subject, c.ticket.body) for c in cases])
    frozen = _profiles(train, embedder)
    ranked = {"frozen at the cut": [_rank(c, frozen, v) for c, v in zip(cases, vectors, strict=True)]}
    created = [aware(c.ticket.created_at) for c in cases]  # type: ignore[arg-type]
    refreshed: dict[int, list[str]] = {}
    sources = [c.source_id for c in cases]
    for window in refresh_schedule(cut, created, sources, later, args.refresh_days):
        current = _profiles(window.history(train), embedder)
        for i in window.rows:
            refreshed[i] = _rank(cases[i], current, vectors[i])
    ranked[f"rebuilt every {args.refresh_days} days"] = [refreshed[i] for i in range(len(cases))]
    embedder.save()
    truth = [c.truth["assignee"] for c in cases]
    periods = [int((when - cut).days // PERIOD_DAYS) for when in created]
    print(f"{len(cases)} test bugs after {cut:%Y-%m-%d}\n")
    print("| profiles | rows | top-1 | top-5 | top-10 | MRR@10 |\n|---|---|---|---|---|---|")
    groups: list[tuple[str, list[int]]] = [("all", list(range(len(cases))))]
    for p in sorted(set(periods)):
        label = f"days {p * PERIOD_DAYS}–{(p + 1) * PERIOD_DAYS}"
        groups.append((label, [i for i in range(len(cases)) if periods[i] == p]))
    for mode, lists in ranked.items():
        for label, rows in groups:
            s = ranking_scores([truth[i] for i in rows], [lists[i] for i in rows])
            print(
                f"| {mode}, {label} | {s.n} | {s.top['1']:.3f} | {s.top['5']:.3f} | {s.top['10']:.3f} | {s.mrr:.3f} |"
            )


if __name__ == "__main__":
    main()
