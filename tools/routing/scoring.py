"""How well each person fits one ticket: the skill match from their recency-weighted resolution history
(their words, tickets like this they resolved, label values they resolved, their recent activity) and
declared skills, and their recent speed. Pure functions over a TenantProfiles; no roster, load or policy here.

The history part combines four distributions over people, all recency-weighted, as a weighted
geometric mean (a product of experts: a person must fit on every count, and one strong signal
cannot carry someone who has not resolved anything lately):

* **text** — the linear text model over recently active people (tools.routing.text_model);
* **knn** — the `k` resolved tickets most similar to this one (embeddings) vote for their resolver
  with `weight × similarity^sharpness` ("who resolved tickets like this, lately");
* **labels** — for each skill value of the ticket (queue, category, type, each tag/component), the
  share of its recent resolutions each person made;
* **activity** — each person's share of all recent resolutions (who is around at all).

A component with no evidence for this ticket (no tags; no text model) falls back to `activity`.
`skill_match` is the combination relative to the best-fitting person (1.0 = the best fit).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from tools.routing.profiles import TenantProfiles

#: A declared skill matching the ticket counts at most like this share of the best history fit.
DECLARED_SKILL_CREDIT = 0.8
#: Resolutions after which a person's history, not their declared skills, speaks for them.
HISTORY_FOR_FULL_TRUST = 20


class SkillWeights(BaseModel):
    """The weight of each kind of evidence in the skill match, and how kNN and the text model are read."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    text: float = Field(default=1.0, ge=0)
    knn: float = Field(default=0.5, ge=0)
    labels: float = Field(default=0.5, ge=0)
    activity: float = Field(default=0.5, ge=0)
    k: int = Field(default=50, ge=1, le=1000)
    sharpness: float = Field(default=1.0, ge=0)
    #: Softmax temperature applied to the text model's decision values.
    temperature: float = Field(default=5.0, gt=0)


#: Floor under each distribution before the logarithm: "no evidence" is weak, not impossible.
_FLOOR = 1e-3


def _normalised(values: np.ndarray) -> np.ndarray | None:
    total = float(values.sum())
    return values / total if total > 0 else None


def knn_distribution(profiles: TenantProfiles, embedding: np.ndarray, k: int, sharpness: float) -> np.ndarray | None:
    if profiles.embeddings.shape[0] == 0:
        return None
    sims = profiles.embeddings @ np.asarray(embedding, dtype=np.float32).reshape(-1)
    k = min(k, sims.shape[0])
    top = np.argpartition(-sims, k - 1)[:k]
    votes = profiles.weight[top] * np.power(np.clip(sims[top], 0.0, None), sharpness)
    dist = np.bincount(profiles.owner[top], weights=votes, minlength=len(profiles.names))
    return _normalised(dist.astype(np.float64))


def label_distribution(profiles: TenantProfiles, skills: Mapping[str, Sequence[str]]) -> np.ndarray | None:
    """Mean over the ticket's skill values of each value's per-person share of recent resolutions."""
    parts = []
    for name, values in skills.items():
        known = profiles.label_weights.get(name, {})
        for value in values:
            owners = known.get(value)
            if not owners:
                continue
            dist = np.zeros(len(profiles.names))
            dist[list(owners)] = list(owners.values())
            if (normal := _normalised(dist)) is not None:
                parts.append(normal)
    return np.mean(parts, axis=0) if parts else None


def history_fit(
    profiles: TenantProfiles,
    embedding: np.ndarray | None,
    skills: Mapping[str, Sequence[str]],
    weights: SkillWeights = SkillWeights(),
    text: str | None = None,
) -> dict[str, float]:
    """Each profiled person's fit from history, relative to the best (the best is 1.0)."""
    n = len(profiles.names)
    activity = _normalised(profiles.activity)
    if activity is None:
        return {}
    model = profiles.text_model
    components = [
        (weights.text, model.distribution(text, n, weights.temperature) if model is not None and text else None),
        (
            weights.knn,
            None if embedding is None else knn_distribution(profiles, embedding, weights.k, weights.sharpness),
        ),
        (weights.labels, label_distribution(profiles, skills)),
        (weights.activity, activity),
    ]
    total = sum(w for w, _ in components if w > 0)
    if total <= 0:
        return {}
    log_fit = sum(w * np.log(_FLOOR + (d if d is not None else activity)) for w, d in components if w > 0) / total
    relative = np.exp(log_fit - log_fit.max())
    return {name: float(relative[i]) for i, name in enumerate(profiles.names)}


def skill_match(
    history: float, resolved: int, declared: Sequence[str], ticket_skills: Mapping[str, Sequence[str]]
) -> float:
    """History fit, or a declared skill that matches the ticket for people with little history."""
    wanted = {value.lower() for values in ticket_skills.values() for value in values}
    matches = any(skill.lower() in wanted for skill in declared)
    trust = min(resolved / HISTORY_FOR_FULL_TRUST, 1.0)
    return float(max(history, DECLARED_SKILL_CREDIT * (1 - trust) if matches else 0.0))


def recent_speed(profiles: TenantProfiles | None, agent_id: str) -> float:
    """0.5 at the tenant's median time to resolve, towards 1 when faster, towards 0 when slower."""
    if profiles is None or profiles.tenant_median_hours is None:
        return 0.5
    profile = profiles.agents.get(agent_id)
    if profile is None or profile.recent_median_hours is None:
        return 0.5
    typical = max(profiles.tenant_median_hours, 0.01)
    return typical / (typical + max(profile.recent_median_hours, 0.0))
