"""Every environment variable of the project, read in one place (pydantic-settings, also `.env`).

Nothing else in the project reads `os.environ`: `engine`, `market` and `agents`
get plain config objects built from these settings. `.env.example` lists every
variable with its default and meaning; keep the two in sync (a test checks).

Server variables are prefixed `BST_`; the router's keep their historical names
(`DEEPSEEK_API_KEY`, `ROUTER_MODE`, ...), see `RouterSettings`.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import platformdirs
from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from agents import ConfigError, DeepSeekConfig, PerplexityConfig, RouterConfig, RouterMode, TaskKind

__all__ = [
    "TOOLSETS",
    "AdminSettings",
    "CatalogSettings",
    "JobsSettings",
    "LiveSettings",
    "RouterSettings",
    "ServerSettings",
    "Settings",
    "default_cache_dir",
    "is_loopback",
    "router_config_from_env",
]

Toolset = Literal["market", "backtest", "analysis", "agents", "optimize", "jobs", "runs", "live"]
TOOLSETS: tuple[Toolset, ...] = (
    "market",
    "backtest",
    "analysis",
    "agents",
    "optimize",
    "jobs",
    "runs",
    "live",
)


def default_cache_dir() -> Path:
    """Where the CLI keeps recorded responses and router state."""
    return Path(platformdirs.user_cache_dir("bybit-strategy-tester")) / "agents"


def default_data_dir() -> Path:
    """Where the local candle store lives unless BST_DATA_DIR says otherwise."""
    return Path(platformdirs.user_data_dir("bybit-strategy-tester"))


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and `localhost`: the only hosts served without a token."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _csv(value: Any) -> Any:
    """`a,b , c` -> ["a", "b", "c"]; JSON lists are accepted too."""
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            return json.loads(text)
        return [part.strip() for part in text.split(",") if part.strip()]
    return value


class RouterSettings(BaseSettings):
    """Router-related environment variables (and .env)."""

    # Blank values (as in .env.example) mean "use the default", not an empty path or JSON.
    model_config = SettingsConfigDict(
        env_file=".env", extra="ignore", case_sensitive=False, env_ignore_empty=True
    )

    deepseek_api_key: SecretStr | None = None
    deepseek_base_url: str = DeepSeekConfig.base_url
    deepseek_model: str = DeepSeekConfig.model
    deepseek_reasoning_model: str = DeepSeekConfig.reasoning_model
    perplexity_api_key: SecretStr | None = None
    perplexity_base_url: str = PerplexityConfig.base_url
    perplexity_model: str = PerplexityConfig.model
    perplexity_api_style: str = PerplexityConfig.api_style
    router_mode: RouterMode = RouterMode.LIVE
    router_routing: dict[str, list[str]] | None = None
    router_cache_ttl: float = 0.0
    router_cache_dir: Path | None = None

    @field_validator("deepseek_api_key", "perplexity_api_key", mode="before")
    @classmethod
    def _blank_is_none(cls, value: Any) -> Any:
        # `DEEPSEEK_API_KEY=` in a .env means "no key", not an empty key that fails with 401.
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("router_mode", mode="before")
    @classmethod
    def _lower_mode(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value

    def to_router_config(self) -> RouterConfig:
        """The agents package's plain config object."""
        routing: dict[TaskKind, tuple[str, ...]] = {}
        for kind, chain in (self.router_routing or {}).items():
            try:
                routing[TaskKind(kind)] = tuple(chain)
            except ValueError:
                known = ", ".join(k.value for k in TaskKind)
                raise ConfigError(
                    f"ROUTER_ROUTING: unknown task kind {kind!r}; known: {known}"
                ) from None
        return RouterConfig(
            deepseek=DeepSeekConfig(
                api_key=self.deepseek_api_key.get_secret_value() if self.deepseek_api_key else None,
                base_url=self.deepseek_base_url,
                model=self.deepseek_model,
                reasoning_model=self.deepseek_reasoning_model,
            ),
            perplexity=PerplexityConfig(
                api_key=self.perplexity_api_key.get_secret_value()
                if self.perplexity_api_key
                else None,
                base_url=self.perplexity_base_url,
                model=self.perplexity_model,
                api_style=self.perplexity_api_style,
            ),
            routing=routing,
            mode=self.router_mode,
            cache_ttl_s=self.router_cache_ttl,
        )

    def cache_dir(self) -> Path:
        """ROUTER_CACHE_DIR or the user cache directory."""
        return self.router_cache_dir or default_cache_dir()


def router_config_from_env(env: Mapping[str, str] | None = None) -> RouterConfig:
    """RouterConfig from the process environment (or from `env`, for tests)."""
    if env is None:
        return RouterSettings().to_router_config()
    lowered: dict[str, Any] = {k.lower(): v for k, v in env.items()}
    if "router_routing" in lowered and isinstance(lowered["router_routing"], str):
        lowered["router_routing"] = json.loads(lowered["router_routing"])
    return RouterSettings(_env_file=None, **lowered).to_router_config()  # type: ignore[call-arg]


class ServerSettings(BaseSettings):
    """The MCP server, its HTTP transport, caches and data sources (`BST_*`)."""

    # populate_by_name: code that passes `cache_url=` means it, even though the environment
    # spells it BST_CACHE_URL or REDIS_URL (without it, pydantic drops the keyword silently).
    model_config = SettingsConfigDict(
        env_prefix="BST_",
        env_file=".env",
        extra="ignore",
        case_sensitive=False,
        env_ignore_empty=True,
        populate_by_name=True,
    )

    toolsets: Annotated[list[Toolset], NoDecode] = Field(
        default_factory=lambda: list(TOOLSETS),
        description="Comma-separated toolsets to expose: " + ",".join(TOOLSETS),
    )
    http_host: str = Field("127.0.0.1", description="HTTP bind address")
    http_port: int = Field(8000, ge=0, le=65535, description="HTTP port (0 = any free port)")
    http_token: SecretStr | None = Field(
        None, description="Bearer token; required when http_host is not loopback"
    )
    allowed_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Extra Host header values accepted (host:port, `*` port wildcard)",
    )
    allowed_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="Extra Origin values accepted (scheme://host:port)"
    )
    max_body_bytes: int = Field(1_048_576, ge=1024, description="Largest accepted request body")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    cache_url: str = Field(
        "memory://",
        # REDIS_URL is what the original project and most Redis tooling use
        validation_alias=AliasChoices("BST_CACHE_URL", "REDIS_URL"),
        description="memory:// (in-process) or redis://host:port/db for results (also read from REDIS_URL)",
    )
    cache_ttl: float = Field(
        86_400.0, ge=0, description="Seconds a cached result lives (0 = no expiry)"
    )
    result_slots: int = Field(64, ge=1, le=10_000, description="Backtest results kept in memory")
    max_bars: int = Field(
        200_000, ge=100, le=5_000_000, description="Largest data set a tool may load"
    )
    data_dir: Path = Field(default_factory=default_data_dir, description="Local candle store")
    files_dir: Path = Field(
        default_factory=Path.cwd,
        description="Folder MCP and REST clients may read candle files from (source=file)",
    )
    bybit_base_url: str | None = Field(
        None, description="Bybit REST base URL (None = mainnet); point at a fake for demos"
    )
    sample_seed: int = Field(42, description="Seed of the synthetic sample data")
    events_url: str = Field(
        "",
        description="Job-event bus: empty or memory:// (in-process) or redis://host:6379/2 "
        "(Redis Streams, shared by the server and workers)",
    )

    @field_validator("toolsets", "allowed_hosts", "allowed_origins", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        return _csv(value)

    @field_validator("toolsets")
    @classmethod
    def _dedupe(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("at least one toolset is needed: " + ",".join(TOOLSETS))
        return list(dict.fromkeys(value))

    @field_validator("http_token", mode="before")
    @classmethod
    def _blank_token(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    def host_allowlist(self, port: int) -> list[str]:
        """Host headers accepted: loopback names on our port plus BST_ALLOWED_HOSTS."""
        hosts = [f"127.0.0.1:{port}", f"localhost:{port}", f"[::1]:{port}"]
        if not is_loopback(self.http_host) and self.http_host not in ("0.0.0.0", "::"):
            hosts.append(f"{self.http_host}:{port}")
        return [*hosts, *self.allowed_hosts]

    def origin_allowlist(self, port: int) -> list[str]:
        """Origins accepted: loopback pages on any port plus BST_ALLOWED_ORIGINS."""
        return [
            "http://127.0.0.1:*",
            "http://localhost:*",
            "http://[::1]:*",
            *self.allowed_origins,
        ]

    def secrets(self) -> list[str]:
        """Secret values to scrub from logs."""
        out = []
        if self.http_token is not None:
            out.append(self.http_token.get_secret_value())
        return out


class AdminSettings(BaseSettings):
    """The admin backfill API (`BST_ADMIN_*`): its own credentials, never a default password,
    and allowlists of what it may fetch (`*` allows any)."""

    # The server's reading rules (.env, blanks are defaults), under another prefix.
    model_config = SettingsConfigDict(**ServerSettings.model_config)
    model_config["env_prefix"] = "BST_ADMIN_"

    user: str | None = Field(None, description="HTTP Basic user of the admin API")
    password: SecretStr | None = Field(None, description="HTTP Basic password (with user)")
    token: SecretStr | None = Field(
        None, description="Admin token (X-Admin-Token or Authorization: Bearer)"
    )
    symbols: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["BTCUSDT", "ETHUSDT"],
        description="Symbols the admin API may backfill, comma-separated (* = any)",
    )
    intervals: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["1", "5", "15", "60", "240", "D", "W"],
        description="Intervals the admin API may backfill, comma-separated (* = any)",
    )

    @field_validator("symbols", "intervals", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        return _csv(value)

    @field_validator("password", "token", mode="before")
    @classmethod
    def _blank_secret(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @property
    def configured(self) -> bool:
        """True when Basic (user and password) or a token is set."""
        return bool(self.user and self.password) or self.token is not None

    def secrets(self) -> list[str]:
        return [s.get_secret_value() for s in (self.password, self.token) if s is not None]


class LiveSettings(BaseSettings):
    """The live Bybit stream and the WebSocket relay. The stream's variables keep the seeds'
    names (`BYBIT_WS_*`, `WS_RECONNECT_*`); the relay's are `BST_LIVE_*`."""

    model_config = SettingsConfigDict(
        env_file=".env", extra="ignore", case_sensitive=False, env_ignore_empty=True,
        populate_by_name=True,
    )  # fmt: skip

    enabled: bool = Field(False, validation_alias="BYBIT_WS_ENABLED")
    symbols: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["BTCUSDT"], validation_alias="BYBIT_WS_SYMBOLS"
    )
    intervals: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["1"], validation_alias="BYBIT_WS_INTERVALS"
    )
    category: Literal["linear", "spot", "inverse"] = Field(
        "linear", validation_alias="BYBIT_WS_CATEGORY"
    )
    url: str = Field("wss://stream.bybit.com", validation_alias="BYBIT_WS_URL")
    reconnect_delay_s: float = Field(1.0, ge=0, validation_alias="WS_RECONNECT_DELAY_SEC")
    reconnect_delay_max_s: float = Field(60.0, ge=0, validation_alias="WS_RECONNECT_DELAY_MAX_SEC")
    fanout_url: str | None = Field(None, validation_alias="BST_LIVE_FANOUT_URL")
    queue_size: int = Field(1000, ge=1, le=1_000_000, validation_alias="BST_LIVE_QUEUE_SIZE")
    ping_s: float = Field(20.0, gt=0, validation_alias="BST_LIVE_PING_SEC")

    @field_validator("symbols", "intervals", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        return _csv(value)

    @field_validator("symbols")
    @classmethod
    def _upper(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("BYBIT_WS_SYMBOLS: at least one symbol, e.g. BTCUSDT,ETHUSDT")
        return list(dict.fromkeys(v.upper() for v in value))

    @classmethod
    def env_names(cls) -> set[str]:
        """The environment variables read here."""
        return {str(f.validation_alias) for f in cls.model_fields.values()}


class CatalogSettings(BaseSettings):
    """The results catalog: where every backtest, optimisation and job is kept. Empty
    DATABASE_URL (the seeds' variable): SQLite in BST_DATA_DIR, nothing to set up."""

    model_config = ServerSettings.model_config  # the BST_ prefix, .env and blank rules

    database_url: SecretStr | None = Field(
        None,
        validation_alias=AliasChoices("DATABASE_URL", "BST_DATABASE_URL"),
        description="Results catalog: empty = SQLite in BST_DATA_DIR, or "
        "postgresql://user:pass@host:5432/db, or sqlite:////path/file.sqlite3",
    )
    db_auto_upgrade: bool = Field(
        True, description="Migrate an older catalog schema at start (false: refuse and say how)"
    )
    db_retry_sec: float = Field(
        5.0, gt=0, le=3600, description="Seconds between retries of records the database refused"
    )
    db_connect_timeout: float = Field(
        3.0, gt=0, le=120, description="Seconds to wait for the database before a record is kept for later"
    )

    @field_validator("database_url", mode="before")
    @classmethod
    def _blank_url(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    def secrets(self) -> list[str]:
        """The password in DATABASE_URL, for log redaction."""
        if self.database_url is None:
            return []
        rest = self.database_url.get_secret_value().split("://", 1)[-1]
        creds = rest.rsplit("@", 1)[0] if "@" in rest else ""
        password = creds.split(":", 1)[1] if ":" in creds else ""
        return [password] if password else []


class Settings:
    """Server, router, admin, jobs, live-stream and catalog settings read together (one .env
    pass each)."""

    def __init__(
        self,
        server: ServerSettings | None = None,
        router: RouterSettings | None = None,
        *,
        admin: AdminSettings | None = None,
        jobs: JobsSettings | None = None,
        live: LiveSettings | None = None,
        catalog: CatalogSettings | None = None,
    ) -> None:
        self.server = server or ServerSettings()  # type: ignore[call-arg]
        self.router = router or RouterSettings()
        self.admin = admin or AdminSettings()  # type: ignore[call-arg]
        self.jobs = jobs or JobsSettings()  # type: ignore[call-arg]
        self.live = live or LiveSettings()  # type: ignore[call-arg]
        self.catalog = catalog or CatalogSettings()  # type: ignore[call-arg]

    def secrets(self) -> list[str]:
        """Every secret value, for log redaction."""
        out = self.server.secrets() + self.admin.secrets() + self.jobs.secrets()
        out += self.catalog.secrets()
        for key in (self.router.deepseek_api_key, self.router.perplexity_api_key):
            if key is not None:
                out.append(key.get_secret_value())
        return [s for s in out if s]


class JobsSettings(BaseSettings):
    """The job system (`BST_*`): which broker runs jobs, where their state lives, and the
    timing knobs of crash recovery. No broker: an in-process worker thread (embedded)."""

    model_config = ServerSettings.model_config  # the same BST_ prefix, .env and blank rules

    broker_url: str = Field(
        "",
        description="Celery broker: empty = embedded in-process worker, redis://host:6379/0 or "
        "amqp://user:pass@host:5672//",
    )
    result_url: str = Field(
        "",
        description="Job state, results and Celery results: empty = db 1 of a redis:// broker "
        "(required with amqp://), or in-process when embedded",
    )
    job_ttl: float = Field(7 * 86_400.0, gt=0, description="Seconds a job's record and result live")
    grid_chunks: int = Field(
        8, ge=1, le=1000, description="Chunks a grid or random search is split into for workers"
    )
    visibility_timeout: float = Field(
        0.0,
        ge=0,
        description="Seconds before a Redis-broker job of a lost worker is redelivered "
        "(0 = twice the longest hard time limit); must exceed every job's run time",
    )
    job_retry_delay: float = Field(
        5.0, gt=0, description="Seconds before a job whose worker process died runs again"
    )
    embedded_workers: int = Field(
        2, ge=1, le=16, description="Worker threads of the embedded (no broker) job runner"
    )
    events_group: str = Field(
        "metrics", pattern=r"^[A-Za-z0-9_.:-]{1,64}$",
        description="Consumer group of the global job-event stream that counts events for /metrics",
    )  # fmt: skip
    events_reclaim_idle_sec: float = Field(
        60.0, gt=0, description="Seconds an event may stay pending before the reaper reclaims it"
    )
    events_max_deliveries: int = Field(
        5, ge=1, le=1000, description="Deliveries of an event before it goes to the dead letters"
    )
    events_maxlen: int = Field(
        100_000,
        ge=100,
        description="About how many entries the global (and dead-letter) stream keeps",
    )
    events_job_maxlen: int = Field(
        10_000, ge=10, description="About how many entries each job's event stream keeps"
    )

    @property
    def embedded(self) -> bool:
        return not self.broker_url.strip()

    def secrets(self) -> list[str]:
        """Passwords in the broker and result URLs, for log redaction."""
        out = []
        for url in (self.broker_url, self.result_url):
            rest = url.split("://", 1)[-1]
            if "@" in rest:
                creds = rest.rsplit("@", 1)[0]
                out.append(creds.split(":", 1)[-1])
        return [s for s in out if s]
