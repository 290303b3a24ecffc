"""The `costs:` section of the settings: every price, and where the ledger lives.

    CostsConfig(embedding_usd_per_1m_tokens=Decimal("0.02"), vector_usd_per_1k_queries=Decimal(5))
    RAGLINE_COSTS__EMBEDDING_USD_PER_1M_TOKENS=1000      # the same key from the environment
    config.prices()                                      # the one `Prices` object, table loaded

LLM token prices come from `pricing` (configs/pricing.yaml, USD per 1M tokens by model), with
`litellm_prices` (a LiteLLM price map, e.g. model_prices_and_context_window.json) filling in the
models it lacks; the other prices are plain settings, 0 by default (embedded engines on your
own CPU cost nothing extra, but the events still count the work).
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Literal

from pydantic import Field

from ragline.core.config_files import locate_config
from ragline.core.pricing import Prices, PriceTable, read_litellm_prices
from ragline.core.strict import Strict
from ragline.mltrack.config import sql_url


class LedgerConfig(Strict):
    """Where the ledger lives and how it batches writes.

    LedgerConfig(url="postgresql://ledger@db:5432/costs", monthly_budget_usd=Decimal("200"))
    """

    url: str | None = Field(
        None, description="SQLAlchemy URL; null: sqlite:///<data_dir>/ledger.db"
    )
    table: str = Field("cost_ledger", pattern=r"^[a-z_][a-z0-9_]{0,47}$")
    monthly_budget_usd: Decimal | None = Field(None, gt=0, allow_inf_nan=False)
    batch_size: int = Field(500, ge=1, description="events written per executemany")
    flush_interval_s: float = Field(1.0, gt=0, description="oldest buffered event's max age")

    def resolved_url(self, data_dir: Path) -> str:
        """The URL, with the SQLite default under `data_dir` and psycopg 3 for PostgreSQL."""
        return sql_url(self.url, data_dir, "ledger.db")


class CostsConfig(Strict):
    """Prices of every kind of work, and the ledger that records what was spent."""

    pricing: Path = Field(Path("configs/pricing.yaml"), description="USD per 1M tokens by model")
    litellm_prices: Path | None = Field(
        None,
        description="a LiteLLM model_prices_and_context_window.json: prices for the models "
        "`pricing` lacks (its own entries win)",
    )
    unpriced: Literal["refuse", "free"] = Field(
        "refuse", description="a model missing from the pricing table: refuse it, or cost 0"
    )
    embedding_usd_per_1m_tokens: Decimal = Field(
        Decimal(0), ge=0, allow_inf_nan=False, description="embedding tokens (cl100k count)"
    )
    vector_usd_per_1k_queries: Decimal = Field(
        Decimal(0), ge=0, allow_inf_nan=False, description="vector-store queries"
    )
    vector_usd_per_1k_writes: Decimal = Field(
        Decimal(0), ge=0, allow_inf_nan=False, description="points written to the vector store"
    )
    prediction_usd_per_hour: Decimal = Field(
        Decimal(0), ge=0, allow_inf_nan=False, description="classical-prediction compute"
    )
    training_usd_per_hour: Decimal = Field(
        Decimal(0), ge=0, allow_inf_nan=False, description="`ragline ml train` compute"
    )
    gpus: Path = Field(
        Path("configs/gpus.yaml"),
        description="GPUs to choose from: VRAM, USD per hour, relative throughput (deploy plan)",
    )
    ledger: LedgerConfig = LedgerConfig()

    def prices(self) -> Prices:
        """The one pricing object every cost event is priced with (reads the price table)."""
        table = PriceTable.load(locate_config(self.pricing))
        if self.litellm_prices is not None:
            table = table.with_defaults(read_litellm_prices(self.litellm_prices))
        return Prices(
            table,
            embedding_usd_per_1m_tokens=self.embedding_usd_per_1m_tokens,
            vector_usd_per_1k_queries=self.vector_usd_per_1k_queries,
            vector_usd_per_1k_writes=self.vector_usd_per_1k_writes,
            prediction_usd_per_hour=self.prediction_usd_per_hour,
            training_usd_per_hour=self.training_usd_per_hour,
            unpriced=self.unpriced,
        )
