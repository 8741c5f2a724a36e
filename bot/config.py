"""Settings read from the environment (and a `.env` file), as listed in interface.md."""

from __future__ import annotations

from functools import lru_cache

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Every knob of npsbot; names match the environment variables of interface.md."""

    model_config = SettingsConfigDict(
        env_file=".env", env_ignore_empty=True, extra="ignore", populate_by_name=True
    )

    database_url: str = Field("sqlite:///npsbot.db", validation_alias="DATABASE_URL")

    slack_bot_token: SecretStr | None = Field(None, validation_alias="SLACK_BOT_TOKEN")
    slack_signing_secret: SecretStr | None = Field(None, validation_alias="SLACK_SIGNING_SECRET")
    slack_app_token: SecretStr | None = Field(None, validation_alias="SLACK_APP_TOKEN")
    slack_api_url: str = Field("https://slack.com/api/", validation_alias="SLACK_API_URL")

    microsoft_app_id: str = Field(
        "", validation_alias=AliasChoices("MICROSOFT_APP_ID", "MicrosoftAppId")
    )
    microsoft_app_password: SecretStr | None = Field(
        None, validation_alias=AliasChoices("MICROSOFT_APP_PASSWORD", "MicrosoftAppPassword")
    )
    microsoft_app_tenant_id: str = Field(
        "", validation_alias=AliasChoices("MICROSOFT_APP_TENANT_ID", "MicrosoftAppTenantId")
    )
    microsoft_app_type: str = Field(
        "SingleTenant", validation_alias=AliasChoices("MICROSOFT_APP_TYPE", "MicrosoftAppType")
    )
    # Teams is opt-in when no app id is set (local/emulator mode), so a plain install does not
    # expose an unauthenticated /api/messages.
    teams_enabled_flag: bool = Field(False, validation_alias="NPSBOT_TEAMS_ENABLED")

    webhook_token: SecretStr | None = Field(None, validation_alias="NPSBOT_WEBHOOK_TOKEN")
    webhook_hmac_secret: SecretStr | None = Field(None, validation_alias="NPSBOT_WEBHOOK_HMAC_SECRET")
    timezone: str = Field("UTC", validation_alias="NPSBOT_TIMEZONE")
    admins_raw: str = Field("", validation_alias="NPSBOT_ADMINS")
    sla_claim_hours: float = Field(24.0, gt=0, validation_alias="NPSBOT_SLA_CLAIM_HOURS")
    sla_close_days: float = Field(7.0, gt=0, validation_alias="NPSBOT_SLA_CLOSE_DAYS")
    show_emails: bool = Field(False, validation_alias="NPSBOT_SHOW_EMAILS")
    # A JSON or TOML file that changes the digest's detractor-comment themes (bot/themes.py).
    themes_file: str | None = Field(None, validation_alias="NPSBOT_THEMES_FILE")

    # Where this server is reachable from the internet, e.g. https://nps.example.com (Teams package).
    public_url: str | None = Field(None, validation_alias="NPSBOT_PUBLIC_URL")
    host: str = Field("127.0.0.1", validation_alias="NPSBOT_HOST")
    port: int = Field(3000, validation_alias=AliasChoices("PORT", "NPSBOT_PORT"))
    # How often the delivery worker looks for work written by other processes (seconds).
    outbox_poll_seconds: float = Field(0.5, gt=0, validation_alias="NPSBOT_OUTBOX_POLL_SECONDS")
    outbox_lease_seconds: float = Field(45.0, gt=0, validation_alias="NPSBOT_OUTBOX_LEASE_SECONDS")
    # Pacing of posts per channel; Slack asks for about one message per second per channel.
    slack_post_interval: float = Field(1.0, ge=0, validation_alias="NPSBOT_SLACK_POST_INTERVAL")
    teams_post_interval: float = Field(0.2, ge=0, validation_alias="NPSBOT_TEAMS_POST_INTERVAL")
    # History and storms (bot/livewindow.py, bot/storms.py): a detractor answer older than this on
    # arrival is history (no follow-up); a channel gets at most this many alert posts a minute.
    live_window_hours: float = Field(72.0, gt=0, validation_alias="NPSBOT_LIVE_WINDOW_HOURS")
    alert_burst: int = Field(10, ge=1, validation_alias="NPSBOT_ALERT_BURST")

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @property
    def admins(self) -> frozenset[str]:
        return frozenset(a.strip() for a in self.admins_raw.split(",") if a.strip())

    @property
    def slack_enabled(self) -> bool:
        return bool(self.slack_bot_token and self.slack_signing_secret)

    @property
    def teams_enabled(self) -> bool:
        return bool(self.microsoft_app_id) or self.teams_enabled_flag

    def secret(self, name: str) -> str | None:
        """Return a survey tool's secret `NPSBOT_<TOOL>_SECRET`, read at call time."""
        import os

        value = os.environ.get(f"NPSBOT_{name.upper().replace('-', '_')}_SECRET")
        return value or None


@lru_cache
def get_settings() -> Settings:
    return Settings()
