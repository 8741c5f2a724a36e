"""Settings read from the environment (and a `.env` file), as listed in interface.md.

The one configuration surface: nothing else in npsbot reads `os.environ` (a test enforces it),
so a value in `.env` counts exactly as one exported in the shell. Survey-tool settings are
nested per tool: `NPSBOT_TYPEFORM_SECRET` is `Settings.typeform.secret`,
`NPSBOT_TYPEFORM_SCORE_FIELD` is `Settings.typeform.score_field`.
"""

from __future__ import annotations

from pydantic import AliasChoices, BaseModel, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# The generic fields a survey tool's answer is mapped to; each has a `NPSBOT_<TOOL>_<KEY>_FIELD`.
FIELD_KEYS = ("score", "comment", "segment", "arr", "owner", "customer_id", "customer_name", "email",
              "submitted_at")


class ToolFields(BaseModel):
    """Which of a survey tool's fields hold what (`NPSBOT_<TOOL>_<KEY>_FIELD`)."""

    # Comma-separated field names (case- and punctuation-insensitive, `*` wildcards allowed).
    score_field: str = ""
    comment_field: str = ""
    segment_field: str = ""
    arr_field: str = ""
    owner_field: str = ""
    customer_id_field: str = ""
    customer_name_field: str = ""
    email_field: str = ""
    submitted_at_field: str = ""

    def field_names(self, key: str) -> tuple[str, ...] | None:
        """The names configured for generic field `key`, or None for the tool's defaults."""
        raw = getattr(self, f"{key}_field", "")
        names = tuple(n.strip() for n in raw.split(",") if n.strip())
        return names or None


class SurveyTool(ToolFields):
    """A survey tool that signs its webhooks: its signing secret besides the field names."""

    secret: SecretStr | None = None

    def secret_value(self) -> str | None:
        return self.secret.get_secret_value() if self.secret else None


class SurveyMonkeyTool(SurveyTool):
    # The app's client id: when set, `Sm-Apikey` must match it.
    client_id: str = ""
    # An access token to read a response's answers (the webhook carries only its id).
    token: SecretStr | None = None
    api_url: str = "https://api.surveymonkey.com/v3/"


class QualtricsTool(SurveyTool):
    # The data-centre API base, e.g. https://fra1.qualtrics.com/API/v3, and a token to read answers.
    api_url: str = ""
    api_token: SecretStr | None = None


class Settings(BaseSettings):
    """Every knob of npsbot; names match the environment variables of interface.md."""

    # The nested delimiter splits once after a group's prefix: NPSBOT_TYPEFORM_SCORE_FIELD is
    # `typeform.score_field`. Flat fields have an explicit alias and are not affected.
    model_config = SettingsConfigDict(
        env_file=".env", env_ignore_empty=True, extra="ignore", populate_by_name=True,
        env_nested_delimiter="_", env_nested_max_split=1,
    )

    database_url: str = Field("sqlite:///npsbot.db", validation_alias="DATABASE_URL")

    slack_bot_token: SecretStr | None = Field(None, validation_alias="SLACK_BOT_TOKEN")
    slack_signing_secret: SecretStr | None = Field(None, validation_alias="SLACK_SIGNING_SECRET")
    slack_app_token: SecretStr | None = Field(None, validation_alias="SLACK_APP_TOKEN")
    slack_api_url: str = Field("https://slack.com/api/", validation_alias="SLACK_API_URL")
    # The one workspace (and enterprise, for org-wide installs) npsbot serves; learnt from auth.test
    # when unset. Requests from any other team are refused (handlers/slack/workspace.py).
    slack_team_id: str | None = Field(None, validation_alias="SLACK_TEAM_ID")
    slack_enterprise_id: str | None = Field(None, validation_alias="SLACK_ENTERPRISE_ID")

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
    # Local mode accepts activities (and serviceUrls) from loopback only, unless this is set.
    teams_allow_remote: bool = Field(False, validation_alias="NPSBOT_TEAMS_ALLOW_REMOTE")

    webhook_token: SecretStr | None = Field(None, validation_alias="NPSBOT_WEBHOOK_TOKEN")
    webhook_hmac_secret: SecretStr | None = Field(None, validation_alias="NPSBOT_WEBHOOK_HMAC_SECRET")
    timezone: str = Field("UTC", validation_alias="NPSBOT_TIMEZONE")
    admins_raw: str = Field("", validation_alias="NPSBOT_ADMINS")
    sla_claim_hours: float = Field(24.0, gt=0, validation_alias="NPSBOT_SLA_CLAIM_HOURS")
    sla_close_days: float = Field(7.0, gt=0, validation_alias="NPSBOT_SLA_CLOSE_DAYS")
    show_emails: bool = Field(False, validation_alias="NPSBOT_SHOW_EMAILS")
    # A JSON or TOML file that changes the digest's detractor-comment themes (bot/themes.py).
    themes_file: str | None = Field(None, validation_alias="NPSBOT_THEMES_FILE")
    # Themes (bot/theme_assign.py): below this cosine to the nearest theme a comment has no theme.
    theme_min_score: float = Field(0.08, ge=-1, le=1, validation_alias="NPSBOT_THEME_MIN_SCORE")
    close_requires_cause: bool = Field(False, validation_alias="NPSBOT_CLOSE_REQUIRES_CAUSE")

    # Where this server is reachable from the internet, e.g. https://nps.example.com (Teams package).
    public_url: str | None = Field(None, validation_alias="NPSBOT_PUBLIC_URL")
    host: str = Field("127.0.0.1", validation_alias="NPSBOT_HOST")
    port: int = Field(3000, validation_alias=AliasChoices("PORT", "NPSBOT_PORT"))
    # How often the delivery worker looks for work written by other processes (seconds).
    outbox_poll_seconds: float = Field(0.5, gt=0, validation_alias="NPSBOT_OUTBOX_POLL_SECONDS")
    outbox_lease_seconds: float = Field(45.0, gt=0, validation_alias="NPSBOT_OUTBOX_LEASE_SECONDS")
    # An acknowledged chat command not finished within this long (its process died) is applied by
    # another process, or by this one after a restart (bot/inbox.py).
    inbox_lease_seconds: float = Field(30.0, gt=0, validation_alias="NPSBOT_INBOX_LEASE_SECONDS")
    # Pacing of posts per channel; Slack asks for about one message per second per channel.
    slack_post_interval: float = Field(1.0, ge=0, validation_alias="NPSBOT_SLACK_POST_INTERVAL")
    teams_post_interval: float = Field(0.2, ge=0, validation_alias="NPSBOT_TEAMS_POST_INTERVAL")
    # History and storms (bot/livewindow.py, bot/storms.py): a detractor answer older than this on
    # arrival is history (no follow-up); a channel gets at most this many alert posts a minute.
    live_window_hours: float = Field(72.0, gt=0, validation_alias="NPSBOT_LIVE_WINDOW_HOURS")
    alert_burst: int = Field(10, ge=1, validation_alias="NPSBOT_ALERT_BURST")

    # -- the customer loop by e-mail (issue 14; bot/mail/, handlers/mail/) --------------------------
    smtp_url: SecretStr | None = Field(None, validation_alias="NPSBOT_SMTP_URL")
    mail_from: str | None = Field(None, validation_alias="NPSBOT_MAIL_FROM")
    imap_url: SecretStr | None = Field(None, validation_alias="NPSBOT_IMAP_URL")
    resurvey_days: float = Field(30.0, ge=0, validation_alias="NPSBOT_RESURVEY_DAYS")
    secret_key: SecretStr | None = Field(None, validation_alias="NPSBOT_SECRET_KEY")
    # A directory whose contact/resurvey templates replace the built-in ones (bot/mail/templates).
    mail_templates_dir: str | None = Field(None, validation_alias="NPSBOT_MAIL_TEMPLATES")
    smtp_timeout: float = Field(20.0, gt=0, validation_alias="NPSBOT_SMTP_TIMEOUT")
    # Seconds between IMAP polls when the server has no IDLE (and the longest IDLE wait).
    imap_poll_seconds: float = Field(60.0, gt=0, validation_alias="NPSBOT_IMAP_POLL_SECONDS")
    # Survey tools (handlers/connectors): NPSBOT_<TOOL>_SECRET, NPSBOT_<TOOL>_<KEY>_FIELD, …
    delighted: SurveyTool = Field(default_factory=SurveyTool, validation_alias="NPSBOT_DELIGHTED")
    typeform: SurveyTool = Field(default_factory=SurveyTool, validation_alias="NPSBOT_TYPEFORM")
    surveymonkey: SurveyMonkeyTool = Field(default_factory=SurveyMonkeyTool,
                                           validation_alias="NPSBOT_SURVEYMONKEY")
    qualtrics: QualtricsTool = Field(default_factory=QualtricsTool, validation_alias="NPSBOT_QUALTRICS")
    # Google Forms posts from our own Apps Script with ?token=, so it has no secret of its own.
    google_forms: ToolFields = Field(default_factory=ToolFields, validation_alias="NPSBOT_GOOGLE_FORMS")

    @field_validator("database_url")
    @classmethod
    def _supported_database(cls, value: str) -> str:
        # Caught here, a typo or an unsupported engine is one line instead of a driver traceback.
        scheme = value.split(":", 1)[0].split("+", 1)[0].lower()
        if scheme not in ("sqlite", "postgres", "postgresql") or "://" not in value:
            raise ValueError(f"{value.split('://')[0]}://… is not supported: use sqlite:///FILE or "
                             "postgresql://user@host:5432/db")
        return value

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
    def mail_enabled(self) -> bool:
        """E-mail to customers is on when an SMTP server is configured."""
        return self.smtp_url is not None

    def mail_problems(self) -> list[str]:
        """What a half-configured mail setup lacks, one line each (checked at `npsbot serve` start)."""
        problems = []
        if self.smtp_url and not self.mail_from:
            problems.append("NPSBOT_SMTP_URL is set but NPSBOT_MAIL_FROM is not: set the sender address")
        if (self.smtp_url or self.imap_url) and not self.secret_key:
            problems.append("e-mail is on but NPSBOT_SECRET_KEY is not set: set a long random secret "
                            "(it signs the links sent to customers)")
        if self.smtp_url and self.resurvey_days and not self.public_url:
            problems.append("re-surveys need NPSBOT_PUBLIC_URL (the base of the links in the e-mail); "
                            "set it, or NPSBOT_RESURVEY_DAYS=0 to turn re-surveys off")
        if self.smtp_url and not self.smtp_url.get_secret_value().startswith(("smtp://", "smtps://")):
            problems.append("NPSBOT_SMTP_URL must start with smtp:// or smtps://")
        if self.imap_url and not self.imap_url.get_secret_value().startswith(("imap://", "imaps://")):
            problems.append("NPSBOT_IMAP_URL must start with imap:// or imaps://")
        return problems

    @property
    def admins(self) -> frozenset[str]:
        return frozenset(a.strip() for a in self.admins_raw.split(",") if a.strip())

    @property
    def slack_enabled(self) -> bool:
        return bool(self.slack_bot_token and self.slack_signing_secret)

    @property
    def teams_enabled(self) -> bool:
        return bool(self.microsoft_app_id) or self.teams_enabled_flag

    def startup_problem(self, command: str = "serve") -> str | None:
        """The first half-configured setting `command` would start with, as one line; None if none.

        Pairs that only work together are STARTUP_RULES; the mail setup's rules are richer
        (schemes, the secret key, re-surveys needing a public URL) and come from `mail_problems`.
        """
        for when, needs, commands in STARTUP_RULES:
            if command in commands and _is_set(getattr(self, when)) and not _is_set(getattr(self, needs)):
                return (f"{env_name(when)} is set but {env_name(needs)} is not: set {env_name(needs)} "
                        f"(or unset {env_name(when)}) and start again.")
        mail = self.mail_problems()
        return f"Configuration error: {mail[0]}" if mail else None

    def tool(self, name: str) -> ToolFields:
        """A survey tool's settings by its source name (`typeform`, `google-forms`, …)."""
        return getattr(self, name.replace("-", "_"))


# Settings that only work together: (when this one is set, this one must be too, for these commands).
# `npsbot serve`/`socket` refuse to start otherwise, naming the missing variable; add pairs here.
STARTUP_RULES: list[tuple[str, str, frozenset[str]]] = [
    ("slack_bot_token", "slack_signing_secret", frozenset({"serve"})),
    ("slack_signing_secret", "slack_bot_token", frozenset({"serve"})),
    ("slack_app_token", "slack_bot_token", frozenset({"socket"})),
    ("microsoft_app_id", "microsoft_app_password", frozenset({"serve"})),
    ("microsoft_app_password", "microsoft_app_id", frozenset({"serve"})),
]


def _is_set(value: object) -> bool:
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    return bool(value)


def env_name(field: str) -> str:
    """The environment variable of a top-level `Settings` field (its first alias)."""
    alias = Settings.model_fields[field].validation_alias
    return str(alias.choices[0] if isinstance(alias, AliasChoices) else alias or field.upper())


def variable_names() -> list[str]:
    """Every environment variable `Settings` reads, nested groups spelled out, in field order."""
    names: list[str] = []
    for name, info in Settings.model_fields.items():
        first = env_name(name)
        annotation = info.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            names.extend(f"{first}_{sub.upper()}" for sub in annotation.model_fields)
        else:
            names.append(str(first))
    return names

