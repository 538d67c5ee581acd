"""How well does the article a draft would cite match, for right versus wrong articles? (run on demand)

    .venv/bin/caseworker demo --data-dir /tmp/demo        # builds the sample company's data dir
    .venv/bin/python benchmarks/grounding_threshold.py --data-dir /tmp/demo

For every labelled history ticket of the bundled sample company it retrieves the top-k KB articles the
way the graph does (one best chunk per article) and records two scores:

- right: the best article whose category is the ticket's labelled category, when it is in the top k
  (what a draft grounded in the ticket's category would cite);
- wrong: the top article when its category differs from the label (what grounding in "the best
  article, whatever it is about" would cite).

It prints their distributions, by language, and for each candidate `grounding_min_similarity` how many
right articles a draft keeps and how many wrong ones it lets through.

Then the whole rule (agent/grounding.py: article of the predicted category, similarity threshold,
category-confidence check) on out-of-fold predictions: the local model is trained on 4/5 of the history
and predicts the other 1/5, five times, so no ticket is judged by a model that saw its label. For each
threshold and minimum confidence it counts drafts grounded on a right category, drafts grounded on a
wrong category (the article answers another question), and holding replies.

With the demo's results file it also lists, for each incoming ticket, the predicted category, its
confidence and the grounding score.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from agent.grounding import ground  # noqa: E402
from agent.local_model import LocalModel  # noqa: E402
from agent.policy import PolicyConfig  # noqa: E402
from agent.schemas import Evidence, FieldPrediction, KBHit  # noqa: E402
from agent.text import detect_language  # noqa: E402
from caseworker.demo import sample_dir  # noqa: E402
from config.components import Components  # noqa: E402
from config.settings import Settings  # noqa: E402
from knowledge.importers import read_tickets  # noqa: E402
from knowledge.text import model_text  # noqa: E402

THRESHOLDS = (0.25, 0.30, 0.35, 0.40, 0.42, 0.45, 0.50, 0.55)
MIN_CONFIDENCES = (0.0, 0.5, 0.7)
FOLDS = 5


def _summary(name: str, scores: list[float]) -> str:
    if not scores:
        return f"{name:>14}: none"
    a = np.asarray(scores)
    p = np.percentile(a, [5, 25, 50, 75, 95])
    return (
        f"{name:>14}: n={len(a):3d} min={a.min():.3f} p5={p[0]:.3f} p25={p[1]:.3f} median={p[2]:.3f} "
        f"p75={p[3]:.3f} p95={p[4]:.3f} max={a.max():.3f}"
    )


def history_scores(workspace: Components, k: int) -> tuple[dict[str, list[float]], dict[str, list[float]], int]:
    right: dict[str, list[float]] = {}
    wrong: dict[str, list[float]] = {}
    missing = 0
    retriever = workspace.context().retriever
    for ticket in read_tickets(sample_dir() / "history.jsonl").tickets:
        label = ticket.labels.get("category")
        if not label:
            continue
        text = model_text(ticket.subject, ticket.body)
        language = ticket.language or detect_language(text)[0]
        hits = retriever.search_kb(text, ticket.tenant, k)
        same = next((h for h in hits if h.category == label), None)
        if same is None:
            missing += 1
        else:
            right.setdefault(language, []).append(same.score)
        if hits and hits[0].category != label:
            wrong.setdefault(language, []).append(hits[0].score)
    return right, wrong, missing


def out_of_fold(workspace: Components, k: int) -> list[tuple[str, FieldPrediction, Evidence]]:
    """(true category, out-of-fold predicted category, retrieved KB evidence) per labelled history ticket."""
    tickets = [t for t in read_tickets(sample_dir() / "history.jsonl").tickets if t.labels.get("category")]
    stored = {(tenant, tid): vector for tenant, tid, vector in workspace.store.ticket_embeddings()}
    texts = [model_text(t.subject, t.body) for t in tickets]
    E = np.vstack([stored[(t.tenant, t.id)] for t in tickets])
    retriever = workspace.context().retriever
    rows: list[tuple[str, FieldPrediction, Evidence]] = []
    order = np.random.default_rng(0).permutation(len(tickets))
    for fold in range(FOLDS):
        test = order[fold::FOLDS]
        train = np.setdiff1d(order, test)
        model = LocalModel.train(
            [texts[i] for i in train], E[train], {"category": [tickets[i].labels["category"] for i in train]}
        )
        guesses = model.predict([texts[i] for i in test], E[test])
        for i, guess in zip(test, guesses, strict=True):
            hits = retriever.best_chunk_per_article(E[i], tickets[i].tenant, k)
            evidence = Evidence(
                kb_articles=[
                    KBHit(article_id=h.article_id, chunk_id=h.chunk_id, title=h.title, score=h.score, excerpt="",
                          category=h.category)
                    for h in hits
                ],
                novelty=0.0,
                novel=False,
            )  # fmt: skip
            g = guess["category"]
            rows.append((tickets[i].labels["category"], FieldPrediction.of(g.value, g.confidence, "local"), evidence))
    return rows


def rule_table(rows: list[tuple[str, FieldPrediction, Evidence]]) -> None:
    right_pred = sum(truth == p.value for truth, p, _ in rows)
    print(f"\nWhole rule on out-of-fold predictions ({len(rows)} tickets, category right for {right_pred}):")
    # Before agent/grounding.py a draft cited the predicted category's article, else the closest one.
    old = [
        (e.kb_articles and next((a for a in e.kb_articles if a.category == p.value), e.kb_articles[0]))
        for _, p, e in rows
    ]
    old_right = sum(bool(a) and a.category == truth for a, (truth, _, _) in zip(old, rows, strict=True))
    print(
        f"  old rule (no threshold, fallback to the closest article): {old_right} cite an article of the "
        f"right category, {sum(bool(a) for a in old) - old_right} of a wrong one"
    )
    print("threshold min_conf  grounded_right  grounded_wrong  holding")
    for t in THRESHOLDS:
        for c in MIN_CONFIDENCES:
            policy = PolicyConfig(grounding_min_similarity=t, grounding_min_confidence=c)
            good = bad = holding = 0
            for truth, prediction, evidence in rows:
                if ground(evidence, prediction, policy).article is None:
                    holding += 1
                elif prediction.value == truth:
                    good += 1
                else:
                    bad += 1
            print(f"  {t:.2f}     {c:.1f}     {good:4d}            {bad:4d}          {holding:4d}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, required=True, help="a data dir `caseworker demo` built")
    parser.add_argument("--k", type=int, default=3, help="KB articles retrieved per ticket (the graph's k_kb)")
    args = parser.parse_args()
    if not (args.data_dir / "chroma").exists():
        raise SystemExit(f"error: {args.data_dir} is not a demo data dir; run `caseworker demo --data-dir ...`")
    workspace = Components(Settings(data_dir=args.data_dir))
    right, wrong, missing = history_scores(workspace, args.k)
    every_right = [s for scores in right.values() for s in scores]
    every_wrong = [s for scores in wrong.values() for s in scores]
    print(f"History tickets: labelled category's article not in the top {args.k}: {missing}")
    print(_summary("right (all)", every_right))
    print(_summary("wrong (all)", every_wrong))
    for language in sorted(set(right) | set(wrong)):
        print(_summary(f"right ({language})", right.get(language, [])))
        print(_summary(f"wrong ({language})", wrong.get(language, [])))
    print("\nthreshold  right kept        wrong let through")
    for t in THRESHOLDS:
        kept = sum(s >= t for s in every_right)
        through = sum(s >= t for s in every_wrong)
        print(
            f"  {t:.2f}    {kept:3d}/{len(every_right)} ({kept / max(len(every_right), 1):6.1%})   "
            f"{through:3d}/{len(every_wrong)} ({through / max(len(every_wrong), 1):6.1%})"
        )
    rule_table(out_of_fold(workspace, args.k))
    results = args.data_dir / "demo" / "results.jsonl"
    if results.exists():
        print("\nIncoming tickets (demo results): predicted category (confidence), grounding article and score")
        for line in results.read_text(encoding="utf-8").splitlines():
            r = json.loads(line)
            category = r["classification"]["category"]
            kb = r["evidence"]["kb_articles"]
            same = next((a for a in kb if a["category"] == category["value"]), None)
            grounding = f"{same['article_id']} {same['score']:.3f}" if same else "none in top k"
            print(
                f"  {r['ticket_id']} {r['classification']['language']['value']} {category['value']:<22} "
                f"({category['confidence']:.2f})  {grounding:<16} {r['decision']['action']}"
            )


if __name__ == "__main__":
    main()
