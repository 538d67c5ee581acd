"""The one settings object. Environment variables use the CASEWORKER_ prefix (plus the standard
OPENAI_* ones); CLI options override them. Only caseworker/ and service/ read settings."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CASEWORKER_", extra="ignore")

    data_dir: Path = Field(default=Path(".caseworker"), description="Where Chroma, SQLite and models live.")
    mode: Literal["local", "llm", "cascade"] = Field(
        default="local",
        description="local: offline; llm: the LLM classifies and writes; cascade: the LLM when unsure.",
    )
    tenant: str = "default"

    # Retrieval
    k_tickets: int = Field(default=5, ge=0, le=50)
    k_kb: int = Field(default=3, ge=0, le=20)
    kb_chunk_tokens: int = Field(default=200, ge=50, le=250)
    embedding_threads: int = Field(default=2, ge=1, le=64)

    # Policy
    auto_apply_confidence: float = Field(default=0.8, ge=0, le=1)
    strong_kb_match: float = Field(default=0.55, ge=0, le=1)
    novelty_similarity: float = Field(default=0.35, ge=0, le=1)
    high_value_mrr: float = Field(default=2000, ge=0)
    signoff: str = "The Support Team"

    # LLM endpoint: any OpenAI-compatible server
    model: str | None = None
    openai_api_key: SecretStr | None = Field(default=None, validation_alias=AliasChoices("OPENAI_API_KEY"))
    openai_base_url: str | None = Field(default=None, validation_alias=AliasChoices("OPENAI_BASE_URL"))
    cascade_threshold: float = Field(default=0.8, ge=0, le=1)
    cascade_fields: tuple[str, ...] = ("queue", "category")
    llm_timeout_s: float = Field(default=30.0, gt=0)
    llm_max_attempts: int = Field(default=4, ge=1)
    llm_deadline_s: float = Field(default=90.0, gt=0)
    llm_max_concurrency: int = Field(default=4, ge=1)
    llm_context_tokens: int = Field(default=8192, ge=512)
    llm_max_output_tokens: int = Field(default=700, ge=16)
    llm_breaker_threshold: int = Field(default=5, ge=1)
    llm_breaker_cooldown_s: float = Field(default=30.0, ge=0)
    #: Price table: model name -> [USD per million input tokens, per million output tokens], as JSON
    #: in CASEWORKER_LLM_PRICES. Models not in it use the two single prices below (0 for a local server).
    llm_prices: dict[str, tuple[float, float]] = Field(default_factory=dict)
    llm_price_input_per_mtok: float = Field(default=0.0, ge=0)
    llm_price_output_per_mtok: float = Field(default=0.0, ge=0)

    def llm_price(self) -> tuple[float, float]:
        return self.llm_prices.get(self.model or "", (self.llm_price_input_per_mtok, self.llm_price_output_per_mtok))

    @property
    def chroma_dir(self) -> Path:
        return self.data_dir / "chroma"

    @property
    def history_path(self) -> Path:
        return self.data_dir / "history.sqlite3"

    @property
    def model_dir(self) -> Path:
        return self.data_dir / "models"

    @property
    def taxonomy_path(self) -> Path:
        return self.data_dir / "taxonomy.toml"
