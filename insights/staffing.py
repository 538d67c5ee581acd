"""Erlang C: how many agents an hour needs so that a share of its tickets get a first response in time.

Tickets arrive at rate λ per hour (the forecast), each takes `handle_minutes` of an agent's time, so the
offered load is A = λ · handle / 60 erlangs. With N > A agents the chance a ticket waits at all is
C(N, A) = N·B / (N − A·(1 − B)), B the Erlang B blocking probability (computed by its stable recursion
B(0) = 1, B(n) = A·B(n−1) / (n + A·B(n−1))), and the share answered within T minutes is
SL = 1 − C · exp(−(N − A) · T / handle). The staff needed is the least N with SL ≥ the target.
"""

from __future__ import annotations

import math

from pydantic import BaseModel, Field


class StaffingPolicy(BaseModel):
    #: Minutes of agent time one ticket takes (measured or configured).
    handle_minutes: float = Field(default=12.0, gt=0)
    #: The first-response target: this share of tickets answered within `answer_within_minutes`.
    service_level: float = Field(default=0.8, gt=0, lt=1)
    answer_within_minutes: float = Field(default=60.0, gt=0)
    #: Agents stay available only this share of their time (breaks, meetings, other work).
    occupancy_cap: float = Field(default=1.0, gt=0, le=1)


def erlang_c(agents: int, load: float) -> float:
    """The probability that a ticket waits (all `agents` busy) under `load` erlangs; 1 when agents ≤ load."""
    if load <= 0:
        return 0.0
    if agents <= load:
        return 1.0
    blocking = 1.0
    for n in range(1, agents + 1):
        blocking = load * blocking / (n + load * blocking)
    return agents * blocking / (agents - load * (1 - blocking))


def service_level(agents: int, load: float, handle_minutes: float, within_minutes: float) -> float:
    """The share of tickets answered within `within_minutes`."""
    if load <= 0:
        return 1.0
    if agents <= load:
        return 0.0
    return 1 - erlang_c(agents, load) * math.exp(-(agents - load) * within_minutes / handle_minutes)


def agents_needed(per_hour: float, policy: StaffingPolicy) -> int:
    """The least number of agents meeting the policy's service level for `per_hour` arrivals (0 for none)."""
    load = max(0.0, per_hour) * policy.handle_minutes / 60
    if load == 0:
        return 0
    agents = max(1, math.floor(load) + 1)
    while service_level(agents, load, policy.handle_minutes, policy.answer_within_minutes) < policy.service_level:
        agents += 1
    return max(agents, math.ceil(load / policy.occupancy_cap))
