"""Settings: one TOML file plus `BUDBRINGER_<SECTION>__<KEY>` environment overrides.

Only the composition root (`service.wiring`) reads the whole object; every component
receives its own section. Every field here must appear, commented, in
`config.example.toml` (a test checks it).
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, ClassVar, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

ENV_PREFIX = "BUDBRINGER_"


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ServiceSettings(Section):
    base_url: str = Field("http://127.0.0.1:8080", description="Public URL; links in mail start here.")
    timezone: str = Field("Europe/Copenhagen", description="Time zone for schedules and dates shown.")
    secret_key: SecretStr | None = Field(None, description="Signs tokens and sessions. Env or file only.")
    secret_key_file: Path | None = Field(None, description="File holding the secret key.")
    data_dir: Path = Field(Path("var"), description="Where the service keeps its files.")
    templates_dir: Path | None = Field(None, description="Override the bundled templates folder.")
    organisation: str = Field("Beskæftigelsesrådet, Region Midtjylland", description="Sender name in footers.")
    postal_address: str = Field("Søren Frichs Vej 38 K, 8230 Åbyhøj", description="Sender address in footers.")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {v!r}") from exc
        return v

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, v: str) -> str:
        if not v.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return v.rstrip("/")

    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def secret(self) -> bytes:
        """The secret key as bytes; raises ValueError with a plain message when absent."""
        if self.secret_key is not None:
            value = self.secret_key.get_secret_value()
        elif self.secret_key_file is not None:
            try:
                value = self.secret_key_file.read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise ValueError(f"cannot read the secret key file {self.secret_key_file}: {exc.strerror}") from exc
        else:
            raise ValueError("no secret key: set BUDBRINGER_SERVICE__SECRET_KEY, or BUDBRINGER_SERVICE__SECRET_KEY_FILE "
                             "(service.secret_key_file) to a file that holds it")
        if len(value) < 32:
            raise ValueError("the secret key must be at least 32 characters")
        return value.encode()


class DatabaseSettings(Section):
    url: str = Field("sqlite+aiosqlite:///var/budbringer.db", description="SQLAlchemy URL (sqlite+aiosqlite or postgresql+asyncpg).")
    password_file: Path | None = Field(None, description="PostgreSQL: file holding the password (first line), so that the url needs none.")
    pool_size: int = Field(5, ge=1, description="Connections kept open (PostgreSQL).")
    busy_timeout_ms: int = Field(30000, ge=0, description="SQLite: how long a writer waits for the lock.")
    connect_retries: int = Field(5, ge=0, description="Attempts to reach the database at start before giving up.")
    echo: bool = Field(False, description="Log every SQL statement.")

    @field_validator("url")
    @classmethod
    def _supported(cls, v: str) -> str:
        if not v.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError("use sqlite+aiosqlite:///path or postgresql+asyncpg://user@host/db")
        return v


class WebSettings(Section):
    host: str = Field("127.0.0.1", description="Address the web server listens on.")
    port: int = Field(8080, ge=0, le=65535, description="Port the web server listens on.")
    trusted_proxies: list[str] = Field(default_factory=list, description="Proxies whose X-Forwarded-For is believed.")
    session_hours: int = Field(8, ge=1, description="Staff session lifetime.")
    signup_per_ip_per_hour: int = Field(20, ge=1, description="Signup form posts allowed per client address per hour.")
    header_timeout_seconds: float = Field(15, gt=0, description="A client must send its request headers within this long of connecting (or of the previous answer); idle keep-alive connections close after it too.")


class StaffSettings(Section):
    cookie_secure: Literal["auto", "always", "never"] = Field("auto", description="Staff session cookie Secure flag: auto = when base_url is https.")
    cookie_samesite: Literal["Lax", "Strict"] = Field("Strict", description="SameSite of the staff session cookie.")
    slowdown_after: int = Field(3, ge=1, description="Failed logins (per account or per address) before each further try must wait.")
    slowdown_seconds: int = Field(2, ge=1, description="First wait after slowdown_after failures; doubles with each failure.")
    lockout_failures: int = Field(8, ge=2, description="Failed logins per account within the window that lock it.")
    ip_lockout_failures: int = Field(30, ge=2, description="Failed logins per client address within the window that lock it out.")
    window_minutes: int = Field(15, ge=1, description="Window for counting failures; a lockout lasts until failures age out of it.")


class SmtpServer(Section):
    host: str = Field("127.0.0.1", description="SMTP relay host.")
    port: int = Field(25, ge=1, le=65535, description="SMTP relay port.")
    security: Literal["none", "starttls", "tls"] = Field("none", description="Transport security.")
    username: str | None = Field(None, description="AUTH user (password from env or file).")
    password: SecretStr | None = Field(None, description="AUTH password. Env or file only.")
    password_file: Path | None = Field(None, description="File holding the AUTH password.")
    timeout_seconds: float = Field(30.0, gt=0, description="Per-command timeout.")


class DkimSettings(Section):
    enabled: bool = Field(False, description="Sign outgoing mail with DKIM.")
    domain: str = Field("", description="d= domain.")
    selector: str = Field("", description="s= selector.")
    private_key_file: Path | None = Field(None, description="PEM private key.")


class MailSettings(Section):
    transport: Literal["smtp", "file"] = Field("file", description="smtp sends; file writes .eml files.")
    from_address: str = Field("nyheder@budbringer.example", alias="from", description="From address.")
    from_name: str = Field("Beskæftigelsesrådet Midtjylland", description="From display name.")
    reply_to: str | None = Field(None, description="Reply-To address.")
    bounce_address: str | None = Field(None, description="Envelope sender (Return-Path) for bounces.")
    list_id: str = Field("nyheder.budbringer.example", description="List-Id header value.")
    outbox_dir: Path = Field(Path("var/outbox"), description="file transport: where .eml files go.")
    smtp: SmtpServer = Field(default_factory=SmtpServer)
    fallback_smtp: list[SmtpServer] = Field(default_factory=list, description="Further relays tried when the first is down.")
    dkim: DkimSettings = Field(default_factory=DkimSettings)

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class DeliverySettings(Section):
    batch_size: int = Field(100, ge=1, description="Deliveries claimed per batch.")
    concurrency: int = Field(8, ge=1, le=1000, description=(
        "Messages in flight per worker process, one kept-open SMTP connection each: 8 for a relay on the LAN, "
        "about rate × round trip further away (64 at 20 ms); a relay that answers 421 gets fewer."))
    lease_seconds: int = Field(300, ge=10, description="A claim not recorded within this is taken back.")
    idle_poll_seconds: float = Field(1.0, gt=0, description="How often an idle worker looks for work.")
    rate_per_second: float = Field(0, ge=0, description="Send rate cap (0 = none).")
    rate_per_hour: int = Field(0, ge=0, description="Hourly send cap (0 = none).")
    retry_base_seconds: int = Field(60, ge=1, description="First retry delay; doubles each attempt, with jitter.")
    give_up_after_hours: float = Field(48, gt=0, description="A message still failing after this is failed.")
    soft_bounce_threshold: int = Field(5, ge=1, description="Soft bounces that suppress an address.")
    soft_bounce_decay_days: int = Field(30, ge=1, description="A soft-bounce count older than this starts again from zero.")
    render_max_attempts: int = Field(3, ge=1, description="A message that fails to render this often is set aside as failed.")


class BounceSettings(Section):
    enabled: bool = Field(False, description="Run the inbound SMTP endpoint that receives bounces and complaints.")
    host: str = Field("127.0.0.1", description="Address the bounce endpoint listens on.")
    port: int = Field(2525, ge=0, le=65535, description="Port the bounce endpoint listens on.")
    require_signature: bool = Field(True, description="Act only on reports addressed to a signed return address (forged bounces change nothing).")
    max_bytes: int = Field(2_000_000, ge=10_000, description="Largest report accepted.")


class ScheduleSettings(Section):
    daily_digest: str = Field("07:00", description="Local time of the daily digest (HH:MM).")
    weekly_digest_day: Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"] = Field("mon", description="Day of the weekly digest.")
    weekly_digest: str = Field("07:00", description="Local time of the weekly digest (HH:MM).")
    source_check_seconds: int = Field(60, ge=1, description="How often due sources are looked for.")
    campaign_check_seconds: int = Field(15, ge=1, description="How often due campaigns are looked for.")
    match_seconds: int = Field(15, ge=1, description="How often new items (pushed, or out of embargo) are matched.")

    @field_validator("daily_digest", "weekly_digest")
    @classmethod
    def _hhmm(cls, v: str) -> str:
        hh, sep, mm = v.partition(":")
        if not (sep and hh.isdigit() and mm.isdigit() and 0 <= int(hh) < 24 and 0 <= int(mm) < 60):
            raise ValueError("write the time as HH:MM, e.g. 07:00")
        return f"{int(hh):02d}:{int(mm):02d}"


class FetchSettings(Section):
    timeout_seconds: float = Field(20.0, gt=0, description="Whole-request timeout for outbound fetches.")
    max_bytes: int = Field(5_000_000, ge=1024, description="Largest body accepted (also after decompression).")
    max_redirects: int = Field(5, ge=0, description="Redirects followed.")
    user_agent: str = Field("Budbringer/0.1 (+https://budbringer.example)", description="User-Agent sent.")
    allow_networks: list[str] = Field(default_factory=list, description="Private networks allowed anyway (e.g. 127.0.0.1/32 for tests).")


class SubscriberSettings(Section):
    consent_version: str = Field("2026-11", description="Version of the consent text shown on signup.")
    confirm_token_days: int = Field(7, ge=1, description="Confirmation links expire after this.")
    link_token_days: int = Field(365, ge=1, description="Preference and unsubscribe links expire after this.")
    confirm_mail_window_minutes: int = Field(60, ge=1, description="At most one confirmation mail per address in this window (and per mailbox: victim+1@ and victim+2@ are one).")
    confirm_mails_per_domain: int = Field(100, ge=1, description="Confirmation and link mails to one domain per confirm_mail_window_minutes.")
    check_deliverability: bool = Field(False, description="Look up the domain's MX when validating addresses.")


class ApiSettings(Section):
    enabled: bool = Field(True, description="Serve the JSON API under /api/v1/.")


class RetentionSettings(Section):
    delivery_body_days: int = Field(90, ge=1, description="Stored message bodies older than this are purged.")
    audit_days: int = Field(730, ge=1, description="Audit log entries older than this are purged.")
    pending_signup_days: int = Field(30, ge=1, description="Signups never confirmed are deleted after this.")
    rate_event_hours: int = Field(48, ge=1, description="Rate-limit records older than this are deleted.")


class CampaignSettings(Section):
    default_theme: str = Field("standard", description="Theme (a folder in templates/themes/) new campaigns start with.")
    press_topic: str = Field("presse", description="Topic whose subscribers also get press releases (at the embargo time).")
    region_code: str = Field("082", description="Area code of the region the figures drafts lead with (StatBank).")
    movers: int = Field(3, ge=1, le=10, description="Municipalities named as moving most in a figures draft.")
    theme_calendar: dict[str, str] = Field(
        default_factory=lambda: {
            "01": "Ledige og nytårets jobåbninger", "02": "Langtidsledighed", "03": "Ungdomsledighed",
            "04": "Flaskehalse på arbejdsmarkedet", "05": "Seniorer på arbejdsmarkedet",
            "06": "Sommerjob og unge", "07": "Sæsonledighed", "08": "Dimittendledighed",
            "09": "Ungdomsledighed", "10": "Virksomhedsrettet indsats", "11": "Integration og beskæftigelse",
            "12": "Året på arbejdsmarkedet",
        },
        description="The month's thematic focus for press releases: month number (\"01\"–\"12\") = theme.",
    )
    theme_looks: dict[str, str] = Field(
        default_factory=lambda: {"03": "ungdom", "06": "ungdom", "09": "ungdom"},
        description="The look (a folder in templates/themes/) for a month's drafts; other months use default_theme.",
    )
    contact_name: str = Field("", description="Contact person put on figures drafts.")
    contact_email: str = Field("", description="Contact email put on figures drafts.")
    contact_phone: str = Field("", description="Contact phone put on figures drafts.")
    attachment_max_bytes: int = Field(5_000_000, ge=1024, description="Largest single attachment (PDF, CSV, XLSX).")
    attachments_total_bytes: int = Field(10_000_000, ge=1024, description="Largest total of a campaign's attachments.")
    archive_page_size: int = Field(30, ge=1, description="Entries per page in /archive.")
    feed_entries: int = Field(50, ge=1, description="Entries in /feed.xml.")


class FiguresSettings(Section):
    join_wait_minutes: int = Field(10, ge=0, description="How long a release's figures wait for its other table (count or rate) before they go out with what is there.")
    announce_revisions: bool = Field(True, description="Tell subscribers of a revision of figures (only those whose own areas changed); a source's option announce_updates overrides it.")
    revision_min_count: float = Field(0, ge=0, description="A revision counts for an area when its count changed by at least this much (0: any change).")
    revision_min_points: float = Field(0, ge=0, description="… or its rate by at least this many percentage points (0: any change).")


class CalendarSettings(Section):
    window_minutes: int = Field(15, ge=1, description="After an expected release, its tables are polled tightly for this long.")
    window_poll_seconds: int = Field(5, ge=1, description="How often a table is polled inside a release window.")
    idle_poll_minutes: int = Field(60, ge=1, description="How often a table in the calendar is polled outside its windows.")
    late_after_minutes: int = Field(15, ge=1, description="A release not seen this long after its time is flagged late and the press officers are told.")
    follow_up: str = Field("Beskæftigelsesrådets kommentar", description="The council's follow-up shown with each release (page, kalender.ics).")
    follow_up_after_minutes: int = Field(30, ge=0, description="When the follow-up comes, after the release, unless an entry says otherwise.")


class SourceSettings(Section):
    slug: str = Field(description="Stable identifier.")
    name: str = Field(description="Name shown to admins.")
    kind: Literal["feed", "statbank"] = Field("feed", description="feed or statbank.")
    url: str = Field(description="Feed URL, or StatBank API base URL.")
    item_kind: str = Field("news", description="Kind of the items this source yields.")
    topics: list[str] = Field(default_factory=list, description="Topic slugs every item gets.")
    interval_minutes: int = Field(30, ge=1, description="Minutes between polls.")
    enabled: bool = Field(True, description="Poll this source.")
    table: str | None = Field(None, description="statbank: table id, e.g. AUL01.")
    options: dict[str, Any] = Field(default_factory=dict, description="Kind-specific options.")


class Settings(BaseSettings):
    """The whole configuration. Build it with `load_settings`."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_nested_delimiter="__", extra="forbid", populate_by_name=True
    )

    service: ServiceSettings = Field(default_factory=ServiceSettings)
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    web: WebSettings = Field(default_factory=WebSettings)
    staff: StaffSettings = Field(default_factory=StaffSettings)
    mail: MailSettings = Field(default_factory=MailSettings)
    delivery: DeliverySettings = Field(default_factory=DeliverySettings)
    bounces: BounceSettings = Field(default_factory=BounceSettings)
    schedule: ScheduleSettings = Field(default_factory=ScheduleSettings)
    fetch: FetchSettings = Field(default_factory=FetchSettings)
    subscribers: SubscriberSettings = Field(default_factory=SubscriberSettings)
    api: ApiSettings = Field(default_factory=ApiSettings)
    retention: RetentionSettings = Field(default_factory=RetentionSettings)
    campaigns: CampaignSettings = Field(default_factory=CampaignSettings)
    figures: FiguresSettings = Field(default_factory=FiguresSettings)
    calendar: CalendarSettings = Field(default_factory=CalendarSettings)
    sources: list[SourceSettings] = Field(default_factory=list)

    _toml_path: ClassVar[Path | None] = None

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if cls._toml_path is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=cls._toml_path))
        return tuple(sources)


# Keys that hold secrets: they may come from the environment or a file, never the TOML.
SECRET_KEYS = {("service", "secret_key"), ("mail", "smtp", "password")}


class ConfigError(Exception):
    """The configuration is unusable; `problems` holds (key, plain explanation) pairs."""

    def __init__(self, problems: list[tuple[str, str]]):
        self.problems = problems
        super().__init__("; ".join(f"{k}: {m}" for k, m in problems))


def load_settings(path: Path | None = None, env: dict[str, str] | None = None, *, production: bool = False,
                  **overrides: Any) -> Settings:
    """Read the TOML file (if it exists) and the environment; raise ConfigError on any problem.
    `production` also refuses what only does for a try on one machine (see `semantic_problems`)."""
    problems: list[tuple[str, str]] = []
    raw: dict[str, Any] = {}
    if path is not None and path.exists():
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError([(str(path), f"not valid TOML: {exc}")]) from exc
        for secret in SECRET_KEYS:
            node: Any = raw
            for part in secret:
                node = node.get(part) if isinstance(node, dict) else None
            if node is not None:
                problems.append((".".join(secret), "secrets must come from the environment or a file, not the config file"))
    elif path is not None and path.name != "config.toml":
        raise ConfigError([(str(path), "config file not found")])

    cls = type("BoundSettings", (Settings,), {"_toml_path": path if path is not None and path.exists() else None})
    saved = None
    if env is not None:
        saved = dict(os.environ)
        os.environ.clear()
        os.environ.update(env)
    try:
        settings = cls(**overrides)
    except ValidationError as exc:
        for err in exc.errors():
            key = ".".join(str(p) for p in err["loc"]) or "(top level)"
            msg = err["msg"].removeprefix("Value error, ")
            if err["type"] == "extra_forbidden":
                msg = "unknown setting (check the spelling against config.example.toml)"
            elif err["type"] == "missing":
                msg = "required setting is missing"
            problems.append((key, msg))
        raise ConfigError(problems) from exc
    finally:
        if saved is not None:
            os.environ.clear()
            os.environ.update(saved)
    problems.extend(semantic_problems(settings, production=production))
    if problems:
        raise ConfigError(problems)
    return settings


LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1", "0.0.0.0")


def semantic_problems(settings: Settings, *, production: bool = False) -> list[tuple[str, str]]:
    """Checks that span fields or touch the file system; with `production`, a base URL on
    this machine too (every link in every mail would point there)."""
    problems: list[tuple[str, str]] = []
    if production and (urlsplit(settings.service.base_url).hostname or "") in LOCAL_HOSTS:
        problems.append(("service.base_url", f"{settings.service.base_url} is an address on this machine: set "
                                             "BUDBRINGER_SERVICE__BASE_URL to the public address (https://…); "
                                             "every link in mail starts with it"))
    try:
        settings.service.secret()
    except (ValueError, OSError) as exc:
        problems.append(("service.secret_key", str(exc)))
    password_file = settings.database.password_file
    if password_file is not None and not (password_file.is_file() and os.access(password_file, os.R_OK)):
        problems.append(("database.password_file", f"cannot read {password_file}"))
    if "@" not in settings.mail.from_address:
        problems.append(("mail.from", "must be an email address"))
    dkim = settings.mail.dkim
    if dkim.enabled:
        if not dkim.domain or not dkim.selector:
            problems.append(("mail.dkim", "domain and selector are required when DKIM is enabled"))
        if dkim.private_key_file is None or not dkim.private_key_file.exists():
            problems.append(("mail.dkim.private_key_file", "DKIM is enabled but the key file does not exist"))
    slugs = [s.slug for s in settings.sources]
    for slug in {s for s in slugs if slugs.count(s) > 1}:
        problems.append((f"sources.{slug}", "two sources share this slug"))
    for i, src in enumerate(settings.sources):
        if src.kind == "statbank" and not src.table:
            problems.append((f"sources.{i}.table", "a statbank source must name its table"))
    return problems
