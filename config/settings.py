"""Settings from the environment (prefix ``CARELINE_``), typed and validated.

``get_settings()`` is cached; tests override by environment and
``get_settings.cache_clear()``.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parents[1]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CARELINE_", extra="ignore")

    database_url: str = Field(default=f"sqlite:///{REPO_ROOT / 'var' / 'careline.db'}",
                              description="SQLAlchemy URL; SQLite file by default, PostgreSQL in production")
    broker: str = Field(default="127.0.0.1:9092", description="Kafka bootstrap host:port[,host:port]")
    topic_partitions: int = Field(default=3, ge=1, description="partitions of every careline topic")
    offer_timeout_seconds: float = Field(default=120.0, gt=0,
                                         description="reservation timeout, Twilio TaskRouter's default")
    timer_grace_seconds: float = Field(default=2.0, ge=0,
                                       description="wall seconds a deadline waits for replies in flight")
    consumer_fetch_max_wait_ms: int = Field(default=100, ge=1, le=1500,
                                            description="longest a worker's fetch waits on the broker")
    worker_web_port: int = Field(default=6066, ge=0, description="faust web port, 0 disables the web server")
    shared_data: Path = Field(default=REPO_ROOT.parent / "shared" / "data",
                              description="folder of the shared real input data")
    var_dir: Path = Field(default=REPO_ROOT / "var", description="state of local runs: logs, databases")
    log_level: str = "WARNING"

    @property
    def faust_broker(self) -> str:
        return ";".join(f"kafka://{hp.strip()}" for hp in self.broker.split(","))


@lru_cache
def get_settings() -> Settings:
    return Settings()
