"""What the graph's `route` step uses: the roster, live open load, the tenant's skill profiles and the policy.

A tenant's profiles are read from the history database and kept until `caseworker train` (or a retrain in any
process) stores a newer version: each lookup compares versions (one indexed query), so running services switch
without a restart, as they do for models. A tenant without a roster gets no routing (None).
"""

from __future__ import annotations

import threading

from knowledge.assignments import Assignments
from knowledge.history import History
from knowledge.roster import Roster, profiles_data, profiles_version
from tools.routing.policy import RoutingDecision, RoutingFacts, RoutingPolicy, decide_routing
from tools.routing.profiles import ProfileError, TenantProfiles


class RoutingContext:
    def __init__(self, history: History, policy: RoutingPolicy | None = None) -> None:
        self.history = history
        self.roster = Roster(history)
        self.assignments = Assignments(history)
        self.policy = policy or RoutingPolicy()
        self._profiles: dict[str, tuple[str, TenantProfiles | None]] = {}
        self._lock = threading.Lock()

    def profiles(self, tenant: str) -> TenantProfiles | None:
        version = profiles_version(self.history, tenant)
        if version is None:
            return None
        held = self._profiles.get(tenant)
        if held is not None and held[0] == version:
            return held[1]
        with self._lock:
            stored = profiles_data(self.history, tenant)
            if stored is None:
                return None
            try:
                loaded: TenantProfiles | None = TenantProfiles.from_bytes(stored[1], tenant)
            except ProfileError:
                loaded = None
            self._profiles[tenant] = (stored[0], loaded)
            return loaded

    def route(self, tenant: str, facts: RoutingFacts) -> RoutingDecision | None:
        agents = self.roster.agents(tenant)
        if not agents:
            return None
        return decide_routing(agents, self.assignments.open_load(tenant), self.profiles(tenant), facts, self.policy)
