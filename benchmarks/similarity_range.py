"""Where each embedder's cosine similarities fall, and the thresholds that keep the policy's meaning.

e5 similarities crowd into a narrow high band (related and unrelated texts alike score 0.7-0.9), MiniLM's
spread from about 0 to 1, so a threshold tuned for one means something else for the other. On the sample
company (345 resolved tickets, 39 articles) this prints, per embedder, percentiles of each history ticket's
best similarity to another ticket (the novelty signal) and to a KB chunk (the grounding signal), and the e5
value at the percentile where MiniLM's threshold sits (quantile matching), plus the best KB similarity of
the 48 in-scope non-English tickets of tests/crosslingual_tickets.py: the sources of the e5 defaults in
config/settings.py (EMBEDDER_THRESHOLDS).

    .venv/bin/python benchmarks/similarity_range.py
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from caseworker.demo import sample_dir
from config.components import Components
from config.settings import EMBEDDER_THRESHOLDS, Settings
from knowledge.importers import read_tickets
from knowledge.kb_importer import read_kb
from knowledge.schemas import Ticket
from knowledge.text import ticket_model_text
from tests.crosslingual_tickets import CROSSLINGUAL_TICKETS

PERCENTILES = (5, 25, 50, 75, 95)


def signals(embedder: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(best other-ticket similarity, best KB similarity) for every sample history ticket, and the best KB
    similarity of each de/es/fr/pt ticket of tests/crosslingual_tickets.py (in scope, other language)."""
    with tempfile.TemporaryDirectory() as tmp:
        ws = Components(Settings(data_dir=Path(tmp), embedder=embedder))  # type: ignore[arg-type]
        ws.ingest.tickets(read_tickets(sample_dir() / "history.jsonl").tickets)
        ws.ingest.kb(read_kb(sample_dir() / "kb").articles)
        novelty, grounding = [], []
        for tenant, ticket_id, vector in ws.store.ticket_embeddings():
            novelty.append(ws.store.similar_tickets(vector, tenant, 1, exclude_id=ticket_id)[0].score)
            grounding.append(ws.store.search_kb(vector, tenant, 1)[0].score)
        texts = [ticket_model_text(Ticket(id=f"x{i}", subject=s, body=b)) for i, (_, _, s, b) in
                 enumerate(CROSSLINGUAL_TICKETS)]  # fmt: skip
        crosslingual = [ws.store.search_kb(v, "default", 1)[0].score for v in ws.embedder.embed(texts)]
        return np.array(novelty), np.array(grounding), np.array(crosslingual)


def main() -> None:
    measured = {name: signals(name) for name in ("minilm", "e5-small")}
    print("| embedder | signal | " + " | ".join(f"p{p}" for p in PERCENTILES) + " |")
    print("|---|---|" + "---|" * len(PERCENTILES))
    for name, (novelty, grounding, crosslingual) in measured.items():
        for signal, values in (("best ticket", novelty), ("best KB chunk", grounding),
                               ("best KB chunk, de/es/fr/pt tickets", crosslingual)):  # fmt: skip
            cells = " | ".join(f"{np.percentile(values, p):.3f}" for p in PERCENTILES)
            print(f"| {name} | {signal} | {cells} |")
    base = EMBEDDER_THRESHOLDS["minilm"]
    for index, (setting, value) in enumerate((("novelty_similarity", base.novelty_similarity),
                                               ("strong_kb_match", base.strong_kb_match))):  # fmt: skip
        share = float(np.mean(measured["minilm"][index] < value))
        mapped = float(np.quantile(measured["e5-small"][index], share))
        print(f"{setting}: MiniLM {value} = p{100 * share:.1f} of its signal -> e5-small {mapped:.3f} "
              f"(default now {getattr(EMBEDDER_THRESHOLDS['e5-small'], setting)})")  # fmt: skip


if __name__ == "__main__":
    main()
