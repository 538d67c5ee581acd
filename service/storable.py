"""Request bodies whose text any store and helpdesk can take."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, model_validator

from knowledge import safe_json


class Storable(BaseModel):
    """Request text any store and helpdesk can take: lone surrogates become U+FFFD, control characters go
    (as on webhooks), so a reply never fails later in SQLite, the index or the write-back."""

    @model_validator(mode="before")
    @classmethod
    def _clean(cls, data: Any) -> Any:
        return safe_json.clean(data)
