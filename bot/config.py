"""Settings, read once from the environment and `.env` (never written)."""
from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
READERS = ("sentence", "passage", "both")  # CITEBOT_READER's named readers (index.SentenceReader, index.PassageReader, index.ReaderPair)
# What CITEBOT_READER=on (the default) loads: both readers, the more confident one quoting. Alone,
# the passage reader (issue 28) quotes the answering sentence more often than the sentence reader on
# SQuAD (0.80 against 0.75) but less often on the real news pages of bench/conversations.json (125
# against 135 of 178 first questions); together they beat either on both (0.80 and 143), refuse more
# out-of-corpus questions (0.97 against 0.955), and cost both readers' time (bench/RESULTS.md, issue 28).
DEFAULT_READER = "both"


class Settings(BaseSettings):
    """Every setting citebot reads. Our own are `CITEBOT_*`; platform tokens use the platforms' names."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    # --- engine ---
    index_dir: Path = Field(Path("./citebot-index"), validation_alias="CITEBOT_INDEX_DIR")
    embedding_model: str = Field(DEFAULT_MODEL, validation_alias="CITEBOT_EMBEDDING_MODEL")
    embedding_backend: str = Field("auto", validation_alias="CITEBOT_EMBEDDING_BACKEND")
    cache_dir: Path | None = Field(None, validation_alias="CITEBOT_CACHE_DIR")
    max_file_mb: float = Field(20.0, validation_alias="CITEBOT_MAX_FILE_MB")
    citations: int = Field(3, ge=1, le=10, validation_alias="CITEBOT_CITATIONS")
    min_confidence: float | None = Field(None, validation_alias="CITEBOT_MIN_CONFIDENCE")
    rerank_model: str | None = Field(None, validation_alias="CITEBOT_RERANK_MODEL")
    rerank_depth: int = Field(10, ge=2, le=50, validation_alias="CITEBOT_RERANK_DEPTH")
    # The shipped reader chooses the quote and says found / not found. On by default (issue 27: it
    # quotes the answering sentence more often on unseen pages); off = the embedding model's signals
    # alone, for the smallest hosts and for comparisons. `sentence`, `passage` or `both` names the
    # reader (on = DEFAULT_READER): the sentence reader (issue 21), the passage reader (issue 28), or
    # both, the more confident one quoting.
    reader: str = Field("on", validation_alias="CITEBOT_READER")
    log_level: str = Field("INFO", validation_alias="CITEBOT_LOG_LEVEL")

    # --- chat, shared ---
    max_question_chars: int = Field(500, ge=10, validation_alias="CITEBOT_MAX_QUESTION_CHARS")
    rate_limit_per_minute: int = Field(10, ge=0, validation_alias="CITEBOT_RATE_LIMIT_PER_MINUTE")
    max_upload_mb: float = Field(10.0, validation_alias="CITEBOT_MAX_UPLOAD_MB")

    # --- help channels (answer new questions where people ask them) ---
    auto_channels: str | None = Field(None, validation_alias="CITEBOT_AUTO_CHANNELS")
    auto_min_confidence: float | None = Field(None, ge=0.0, le=1.0, validation_alias="CITEBOT_AUTO_MIN_CONFIDENCE")
    auto_per_channel_per_minute: int = Field(6, ge=0, validation_alias="CITEBOT_AUTO_PER_CHANNEL_PER_MINUTE")
    channel_collections: str | None = Field(None, validation_alias="CITEBOT_CHANNEL_COLLECTIONS")

    # --- Discord ---
    discord_token: SecretStr | None = Field(None, validation_alias="DISCORD_TOKEN")
    discord_guild_id: int | None = Field(None, validation_alias="CITEBOT_DISCORD_GUILD_ID")
    discord_shards: str | None = Field(None, validation_alias="CITEBOT_DISCORD_SHARDS")
    discord_shard_ids: str | None = Field(None, validation_alias="CITEBOT_DISCORD_SHARD_IDS")
    discord_api_base_url: str | None = Field(None, validation_alias="DISCORD_API_BASE_URL")
    discord_gateway_url: str | None = Field(None, validation_alias="DISCORD_GATEWAY_URL")

    # --- Slack ---
    slack_bot_token: SecretStr | None = Field(None, validation_alias="SLACK_BOT_TOKEN")
    slack_app_token: SecretStr | None = Field(None, validation_alias="SLACK_APP_TOKEN")
    slack_signing_secret: SecretStr | None = Field(None, validation_alias="SLACK_SIGNING_SECRET")
    slack_api_url: str = Field("https://slack.com/api/", validation_alias="SLACK_API_URL")
    slack_port: int = Field(3000, validation_alias=AliasChoices("CITEBOT_SLACK_PORT", "PORT"))
    slack_host: str = Field("0.0.0.0", validation_alias="CITEBOT_SLACK_HOST")

    # --- web sources (citebot ingest URL, citebot sync) ---
    allow_private_urls: bool = Field(False, validation_alias="CITEBOT_ALLOW_PRIVATE_URLS")
    private_url_hosts: str | None = Field(None, validation_alias="CITEBOT_PRIVATE_URL_HOSTS")
    crawl_contact: str | None = Field(None, validation_alias="CITEBOT_CRAWL_CONTACT")
    crawl_concurrency: int = Field(2, ge=1, le=16, validation_alias="CITEBOT_CRAWL_CONCURRENCY")
    crawl_delay: float = Field(0.25, ge=0, le=60, validation_alias="CITEBOT_CRAWL_DELAY")
    fetch_timeout: float = Field(20.0, gt=0, le=300, validation_alias="CITEBOT_FETCH_TIMEOUT")
    sources_file: Path = Field(Path("./citebot.toml"), validation_alias="CITEBOT_SOURCES_FILE")
    sync_every: str | None = Field(None, validation_alias="CITEBOT_SYNC_EVERY")

    # --- the web page for the team that runs citebot (citebot web, or citebot run with a port) ---
    web_token: SecretStr | None = Field(None, validation_alias="CITEBOT_WEB_TOKEN")
    web_admin_token: SecretStr | None = Field(None, validation_alias="CITEBOT_WEB_ADMIN_TOKEN")
    web_host: str = Field("127.0.0.1", validation_alias="CITEBOT_WEB_HOST")
    web_port: int | None = Field(None, ge=1, le=65535, validation_alias="CITEBOT_WEB_PORT")

    @field_validator(
        "discord_token", "slack_bot_token", "slack_app_token", "slack_signing_secret", "web_token", "web_admin_token",
        mode="before"
    )
    @classmethod
    def _blank_is_unset(cls, v: object) -> object:
        """An empty `DISCORD_TOKEN=` line in .env means 'not configured'."""
        return None if isinstance(v, str) and not v.strip() else v

    @field_validator("discord_guild_id", "min_confidence", "discord_shards", "discord_shard_ids", "cache_dir",
                     "rerank_model", "auto_channels", "auto_min_confidence", "channel_collections",
                     "private_url_hosts", "crawl_contact", "sync_every", "web_port", mode="before")
    @classmethod
    def _blank_is_none(cls, v: object) -> object:
        return None if isinstance(v, str) and not v.strip() else v

    @field_validator("reader", mode="before")
    @classmethod
    def _reader_choice(cls, v: object) -> str:
        """on/off (and the usual spellings of a yes/no), or which reader: sentence, passage or both."""
        word = str(v).strip().lower()
        if word in ("1", "true", "yes", "on", ""):
            return "on"
        if word in ("0", "false", "no", "off"):
            return "off"
        if word in READERS:
            return word
        raise ValueError(f"CITEBOT_READER is on, off, {', '.join(READERS[:-1])} or {READERS[-1]}, not {v!r}")

    @property
    def reader_kind(self) -> str | None:
        """The reader to load: "sentence", "passage" or "both", or None when it is off."""
        return None if self.reader == "off" else DEFAULT_READER if self.reader == "on" else self.reader

    @field_validator("embedding_backend")
    @classmethod
    def _known_backend(cls, v: str) -> str:
        """A misspelt backend is a bad setting at startup, not a traceback at the first question."""
        if v.strip().lower() not in ("auto", "torch", "onnx"):
            raise ValueError("use auto, onnx or torch")
        return v.strip().lower()
