"""Each tenant's champion model for the graph, reloaded whenever another process promotes a new one.

Every lookup asks the registry which version is the tenant's champion (one indexed query) and loads
it when it differs from the one held, so `serve` and every `worker` switch between two tickets after a
promotion, a rollback or a retrain in any process, with no restart. Loaded models are kept per version
(a handful: one champion per tenant), and the load happens outside the lock's fast path only once.
"""

from __future__ import annotations

import logging
import threading

from agent.local_model import LocalModel, ModelNotTrainedError
from knowledge.model_registry import ModelRegistry

log = logging.getLogger(__name__)


class ModelProvider:
    def __init__(self, registry: ModelRegistry, embedding_model_id: str | None = None) -> None:
        self.registry = registry
        #: A champion trained on another embedding model's vectors is not served (its features would be noise).
        self.embedding_model_id = embedding_model_id
        self._loaded: dict[str, LocalModel] = {}  # tenant -> the model held for it
        self._lock = threading.Lock()

    def for_tenant(self, tenant: str) -> LocalModel | None:
        """The tenant's champion, or None when it has none (or its bytes cannot be read: logged)."""
        version = self.registry.champion_version(tenant)
        held = self._loaded.get(tenant)
        if version is None:
            return None
        if held is not None and held.version == version:
            return held
        with self._lock:
            held = self._loaded.get(tenant)
            if held is not None and held.version == version:
                return held
            data = self.registry.data(version)
            if data is None:
                log.error("champion %s of tenant %s has no stored bytes", version, tenant)
                return held
            try:
                model = LocalModel.from_bytes(data)
            except ModelNotTrainedError:
                log.exception("champion %s of tenant %s cannot be loaded; keeping %s", version, tenant,
                              held.version if held else "no model")  # fmt: skip
                return held
            trained_on = model.meta.get("embedding_model_id")
            if None not in (self.embedding_model_id, trained_on) and trained_on != self.embedding_model_id:
                log.error("champion %s of tenant %s was trained on %s embeddings, not %s: run `caseworker reembed`",
                          version, tenant, trained_on, self.embedding_model_id)  # fmt: skip
                return None
            log.info("tenant %s: serving model %s (was %s)", tenant, version, held.version if held else "none")
            self._loaded[tenant] = model
            return model
