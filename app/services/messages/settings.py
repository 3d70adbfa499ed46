"""How the clinic sends messages: Settings → Messages.

The settings row (``messaging_settings``, one row, absent until first saved) says which mail
server and SMS gateway to use, the quiet hours and what a reminder may name.  The mail
password and the gateway's auth token are never in the database: each PC that sends keeps
them in its OS key store (:mod:`app.data.secrets`), and a scheduled ``caredesk messages run``
on a PC without one reads ``CAREDESK_SMTP_PASSWORD`` / ``CAREDESK_SMS_TOKEN``.
"""

from __future__ import annotations

import os
import re
import uuid
from dataclasses import dataclass, fields, replace
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import httpx
from email_validator import EmailNotValidError, validate_email
from sqlalchemy.orm import Session

from app.clock import utc_now
from app.data.database import Database
from app.data.keys import KeyringUnavailable
from app.data.models.clinic import ClinicSettings
from app.data.models.messages import MessagingSettings, SmsGateway, SmtpSecurity
from app.data.secrets import forget_secret, load_secret, secret_name, store_secret
from app.i18n import clinic_zone as zone_named
from app.services.clinic import permissions
from app.services.clinic.actor import Actor
from app.services.clinic.permissions import Permission
from app.services.clinic.uow import assign_changed, reading, unit_of_work
from app.services.errors import ConcurrentEditError, ValidationError
from app.services.messages.transports import (
    EmailTransport,
    OutgoingEmail,
    SendError,
    is_loopback_host,
)
from app.services.patients.phones import display_phone, normalise_phone

__all__ = [
    "SMS_TOKEN_ENV",
    "SMTP_PASSWORD_ENV",
    "MessagingConfig",
    "after_quiet_hours",
    "can_send",
    "current_config",
    "in_quiet_hours",
    "messaging_settings",
    "save_messaging_settings",
    "send_test_email",
    "send_test_text",
    "sms_secret_name",
    "sms_token",
    "smtp_password",
    "smtp_secret_name",
    "validate_messaging_form",
]

SMTP_PASSWORD_ENV = "CAREDESK_SMTP_PASSWORD"
SMS_TOKEN_ENV = "CAREDESK_SMS_TOKEN"

MINUTES_IN_A_DAY = 24 * 60


@dataclass(frozen=True)
class MessagingConfig:
    """A plain copy of the settings row (its defaults when there is none yet)."""

    email_enabled: bool
    smtp_host: str
    smtp_port: int
    smtp_security: str
    smtp_user: str
    from_address: str
    from_name: str
    text_enabled: bool
    sms_gateway: str
    sms_base_url: str
    sms_account_sid: str
    sms_from_number: str
    quiet_hours_start_minute: int
    quiet_hours_end_minute: int
    include_service_name: bool
    include_provider_name: bool
    sending_enabled: bool
    #: The row's version when read; None: never saved.
    version: int | None
    #: The clinic's time zone (quiet hours are on its wall clock).
    timezone: str
    #: The IMAP server of the mail account's mailbox, where bounces that come back later
    #: (delivery-status notifications) are read; "": they are not read.  Last, with
    #: defaults, so a config built field by field before they existed still builds.
    imap_host: str = ""
    imap_port: int = 993


#: The row's columns the form edits (everything but version and timezone).
_ROW_FIELDS = tuple(
    f.name for f in fields(MessagingConfig) if f.name not in ("version", "timezone")
)


def _defaults() -> dict[str, object]:
    columns = MessagingSettings.__table__.columns
    return {name: columns[name].default.arg for name in _ROW_FIELDS}


def current_config(session: Session) -> MessagingConfig:
    """The clinic's messaging settings inside a caller's transaction (the sender's, the
    planner's): defaults when the owner never saved them."""
    row = session.get(MessagingSettings, 1)
    clinic = session.get(ClinicSettings, 1)
    values = _defaults() if row is None else {name: getattr(row, name) for name in _ROW_FIELDS}
    return MessagingConfig(
        **values,  # type: ignore[arg-type]
        version=None if row is None else row.version,
        timezone=clinic.timezone if clinic is not None else "UTC",
    )


def messaging_settings(db: Database, actor: Actor) -> MessagingConfig:
    """The settings as Settings → Messages shows them (any signed-in staff may read them:
    the Outbox explains a paused sender with them)."""
    with reading(db, actor) as session:
        return current_config(session)


# --- secrets -------------------------------------------------------------------------------


def smtp_secret_name(config: MessagingConfig) -> str:
    """The key-store entry of the mail account's password: ``smtp:<host>:<user>``."""
    return secret_name("smtp", config.smtp_host.lower(), config.smtp_user)


def sms_secret_name(config: MessagingConfig) -> str:
    """The key-store entry of the gateway's auth token: ``sms:<account sid>``."""
    return secret_name("sms", config.sms_account_sid)


def smtp_password(config: MessagingConfig) -> str | None:
    """The mail account's password on this PC: ``$CAREDESK_SMTP_PASSWORD`` first, then the
    key store; None without a user name (a local relay that takes mail without one)."""
    if not config.smtp_user:
        return None
    return os.environ.get(SMTP_PASSWORD_ENV) or load_secret(smtp_secret_name(config))


def sms_token(config: MessagingConfig) -> str | None:
    """The gateway's auth token on this PC: ``$CAREDESK_SMS_TOKEN`` first, then the key store."""
    if not config.sms_account_sid:
        return None
    return os.environ.get(SMS_TOKEN_ENV) or load_secret(sms_secret_name(config))


# --- may this PC send? ---------------------------------------------------------------------


def _not_configured(config: MessagingConfig, channel: str) -> str | None:
    """What is missing for ``channel`` whatever the switches say (a test message needs it
    too), or None."""
    if channel == "email":
        if not config.smtp_host:
            return "No mail server is set: fill in the e-mail part of Settings → Messages."
        if not config.from_address:
            return "No from address is set for e-mail in Settings → Messages."
        if config.smtp_user and not smtp_password(config):
            return (
                f"This computer has no password for the mail account {config.smtp_user}: "
                "type it in Settings → Messages on this computer."
            )
        return None
    if channel == "text":
        if not config.sms_account_sid or not config.sms_from_number:
            return (
                "The text gateway is not set up: fill in the account SID and the clinic's "
                "texting number in Settings → Messages."
            )
        if not sms_token(config):
            return (
                "This computer has no auth token for the text gateway: type it in "
                "Settings → Messages on this computer."
            )
        return None
    raise ValueError(channel)


def can_send(config: MessagingConfig, channel: str) -> str | None:
    """None when this PC can send on ``channel`` ("email" or "text") now, else why not (a
    sentence for the Outbox)."""
    if not config.sending_enabled:
        return "Sending is paused in Settings → Messages."
    if channel == "email" and not config.email_enabled:
        return "E-mail messages are turned off in Settings → Messages."
    if channel == "text" and not config.text_enabled:
        return "Text messages are turned off in Settings → Messages."
    return _not_configured(config, channel)


# --- quiet hours ---------------------------------------------------------------------------


def _minute_of_day(config: MessagingConfig, moment: datetime) -> tuple[datetime, int]:
    local = moment.astimezone(zone_named(config.timezone))
    return local, local.hour * 60 + local.minute


def in_quiet_hours(config: MessagingConfig, moment: datetime) -> bool:
    """Whether ``moment`` falls in the quiet hours on the clinic's wall clock (the start
    minute is quiet, the end minute is not; equal start and end: never quiet)."""
    start, end = config.quiet_hours_start_minute, config.quiet_hours_end_minute
    if start == end:
        return False
    _local, minute = _minute_of_day(config, moment)
    if start < end:
        return start <= minute < end
    return minute >= start or minute < end  # across midnight (20:00 → 08:00)


def after_quiet_hours(config: MessagingConfig, moment: datetime) -> datetime:
    """``moment`` itself when not in quiet hours, else the end of these quiet hours (the
    next moment a message may go), in UTC."""
    if not in_quiet_hours(config, moment):
        return moment
    local, minute = _minute_of_day(config, moment)
    end = config.quiet_hours_end_minute
    day: date = local.date() if minute < end else local.date() + timedelta(days=1)
    wall = datetime.combine(day, time(end // 60, end % 60), tzinfo=local.tzinfo)
    # A wall-clock time skipped by a DST change is read as after the jump (fold rules).
    return wall.astimezone(ZoneInfo("UTC"))


# --- validation ----------------------------------------------------------------------------

_HOSTNAME = re.compile(r"^(?=.{1,253}$)([A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.?)+$")
_IPV6 = re.compile(r"^\[?[0-9A-Fa-f:.]+\]?$")
_ACCOUNT_SID = re.compile(r"^AC[0-9a-fA-F]{32}$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

_LIMITS = {
    "smtp_host": 255,
    "imap_host": 255,
    "smtp_user": 255,
    "from_address": 254,
    "from_name": 120,
    "sms_base_url": 255,
    "sms_account_sid": 64,
}
_LABELS = {
    "smtp_host": "The mail server",
    "imap_host": "The bounce mailbox's server",
    "smtp_user": "The mail user name",
    "from_address": "The from address",
    "from_name": "The from name",
    "sms_base_url": "The gateway address",
    "sms_account_sid": "The account SID",
}


def _check_text(name: str, value: str) -> str:
    if not isinstance(value, str):
        raise ValidationError(f"{_LABELS[name]} must be text.", field=name)
    value = value.strip()
    if _CONTROL.search(value):
        raise ValidationError(
            f"{_LABELS[name]} holds a line break or an invisible character: type it again on "
            "one line.",
            field=name,
        )
    if len(value) > _LIMITS[name]:
        raise ValidationError(
            f"{_LABELS[name]} is too long ({len(value)} characters; at most {_LIMITS[name]}).",
            field=name,
        )
    return value


def _check_minute(name: str, value: int, which: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < MINUTES_IN_A_DAY:
        raise ValidationError(
            f"The quiet hours' {which} must be a time of day between 00:00 and 23:59.",
            field=name,
        )
    return value


def _valid_host(host: str) -> bool:
    return bool(_HOSTNAME.match(host) or (":" in host and _IPV6.match(host)))


def _check_bounce_mailbox(form: MessagingConfig, user: str) -> tuple[str, int]:
    """The IMAP server and port bounces are read from, cleaned; empty host: not read."""
    host = _check_text("imap_host", form.imap_host).lower()
    if host and not _valid_host(host):
        raise ValidationError(
            f'"{host}" is not a mail server\'s name: type just the name of the server the '
            "mailbox is read from, like imap.example.com (no http://, no spaces).",
            field="imap_host",
        )
    port = form.imap_port
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        raise ValidationError(
            "The bounce mailbox's port is a number from 1 to 65535 (usually 993, IMAP over SSL).",
            field="imap_port",
        )
    if host and not user:
        raise ValidationError(
            "Bounces are read by signing in to the mailbox with the mail account's user name "
            "and password: type the user name, or leave the bounce mailbox empty.",
            field="imap_host",
        )
    return host, port


def validate_messaging_form(form: MessagingConfig, *, region: str = "US") -> MessagingConfig:
    """The form cleaned (spaces trimmed, address and number normalized), or the first
    problem as a ValidationError naming its field."""
    # Host names are case-blind; one spelling keeps one key-store entry per account.
    host = _check_text("smtp_host", form.smtp_host).lower()
    user = _check_text("smtp_user", form.smtp_user)
    from_address = _check_text("from_address", form.from_address)
    from_name = _check_text("from_name", form.from_name)
    base_url = _check_text("sms_base_url", form.sms_base_url).rstrip("/")
    account_sid = _check_text("sms_account_sid", form.sms_account_sid)

    if host and not _valid_host(host):
        raise ValidationError(
            f'"{host}" is not a mail server\'s name: type just the name, like '
            "smtp.example.com (no http://, no spaces).",
            field="smtp_host",
        )
    if form.email_enabled and not host:
        raise ValidationError(
            "Type the mail server's name (like smtp.example.com) to send e-mail.",
            field="smtp_host",
        )
    port = form.smtp_port
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        raise ValidationError(
            "The mail server's port is a number from 1 to 65535 (usually 587 for STARTTLS, "
            "465 for SSL).",
            field="smtp_port",
        )
    if form.smtp_security not in {s.value for s in SmtpSecurity}:
        raise ValidationError(
            "Choose the mail server's security: STARTTLS, SSL or none.", field="smtp_security"
        )
    imap_host, imap_port = _check_bounce_mailbox(form, user)
    if form.smtp_security == SmtpSecurity.NONE and host and not is_loopback_host(host):
        raise ValidationError(
            "Plain SMTP (no encryption) would send the password and every message readable "
            f"on the network, so it is only allowed to this computer, not to {host}. Choose "
            "STARTTLS or SSL.",
            field="smtp_security",
        )
    if from_address:
        try:
            from_address = validate_email(from_address, check_deliverability=False).normalized
        except EmailNotValidError as exc:
            raise ValidationError(
                f"The from address is not a valid e-mail address: {exc}", field="from_address"
            ) from None
    elif form.email_enabled:
        raise ValidationError(
            "Type the address messages come from (like desk@yourclinic.com) to send e-mail.",
            field="from_address",
        )

    if form.sms_gateway not in {g.value for g in SmsGateway}:
        raise ValidationError("Choose the text gateway (Twilio).", field="sms_gateway")
    if base_url or form.text_enabled:
        try:
            url = httpx.URL(base_url)
        except (httpx.InvalidURL, TypeError, ValueError):
            url = None
        scheme_ok = url is not None and (
            url.scheme == "https" or (url.scheme == "http" and is_loopback_host(url.host))
        )
        if url is None or not url.host or not scheme_ok or url.query or url.fragment:
            raise ValidationError(
                "The gateway address must start with https:// (like https://api.twilio.com); "
                "plain http:// is only allowed to this computer.",
                field="sms_base_url",
            )
    if account_sid and not _ACCOUNT_SID.match(account_sid):
        raise ValidationError(
            "The account SID is AC followed by 32 letters and digits (0–9, a–f), as the "
            "gateway's console shows it.",
            field="sms_account_sid",
        )
    if form.text_enabled and not account_sid:
        raise ValidationError(
            "Type the gateway's account SID to send texts.", field="sms_account_sid"
        )
    from_number = form.sms_from_number.strip() if isinstance(form.sms_from_number, str) else ""
    if from_number:
        try:
            from_number = normalise_phone(from_number, region)
        except ValueError:
            raise ValidationError(
                f'"{form.sms_from_number}" is not a phone number: type the clinic\'s texting '
                "number with its country code, like +1 207 555 0100.",
                field="sms_from_number",
            ) from None
    elif form.text_enabled:
        raise ValidationError(
            "Type the clinic's texting number (the gateway's number) to send texts.",
            field="sms_from_number",
        )
    start = _check_minute("quiet_hours_start_minute", form.quiet_hours_start_minute, "start")
    end = _check_minute("quiet_hours_end_minute", form.quiet_hours_end_minute, "end")
    return replace(
        form,
        smtp_host=host,
        smtp_user=user,
        imap_host=imap_host,
        imap_port=imap_port,
        from_address=from_address,
        from_name=from_name,
        sms_base_url=base_url,
        sms_account_sid=account_sid,
        sms_from_number=from_number,
        quiet_hours_start_minute=start,
        quiet_hours_end_minute=end,
        email_enabled=bool(form.email_enabled),
        text_enabled=bool(form.text_enabled),
        include_service_name=bool(form.include_service_name),
        include_provider_name=bool(form.include_provider_name),
        sending_enabled=bool(form.sending_enabled),
    )


# --- saving --------------------------------------------------------------------------------


def save_messaging_settings(
    db: Database,
    actor: Actor,
    form: MessagingConfig,
    *,
    smtp_password: str | None = None,
    sms_token: str | None = None,
) -> MessagingConfig:
    """Save Settings → Messages (owner).  ``form.version`` is the version the form read (a
    newer save meanwhile is refused).  The secrets go to this PC's key store, never to the
    database: None keeps what is stored, "" forgets it."""
    permissions.require(actor, Permission.MANAGE_SETTINGS)
    with unit_of_work(db, actor) as session:
        clinic = session.get(ClinicSettings, 1)
        cleaned = validate_messaging_form(form, region=clinic.country if clinic else "US")
        if smtp_password and not cleaned.smtp_user:
            raise ValidationError(
                "Type the mail account's user name to save its password.", field="smtp_user"
            )
        if sms_token and not cleaned.sms_account_sid:
            raise ValidationError(
                "Type the gateway's account SID to save its auth token.",
                field="sms_account_sid",
            )
        row = session.get(MessagingSettings, 1)
        if (row.version if row is not None else None) != form.version:
            raise ConcurrentEditError("The messaging settings")
        if row is None:
            row = MessagingSettings(id=1)
            session.add(row)
        assign_changed(row, {name: getattr(cleaned, name) for name in _ROW_FIELDS})
        session.flush()
        saved = current_config(session)
        # Last, so a refused save (above) leaves the key store as it was; a key store that
        # refuses rolls the settings back with it.
        _keep_secret(smtp_secret_name(saved), smtp_password, "smtp_password", SMTP_PASSWORD_ENV)
        _keep_secret(sms_secret_name(saved), sms_token, "sms_token", SMS_TOKEN_ENV)
    return saved


def _keep_secret(name: str, value: str | None, field: str, env: str) -> None:
    if value is None:
        return
    try:
        if value:
            store_secret(name, value)
        else:
            forget_secret(name)
    except KeyringUnavailable:
        raise ValidationError(
            "This computer has no key store to keep the secret in, so nothing was saved. "
            f"On this computer, give it to CareDesk in the {env} environment variable instead.",
            field=field,
        ) from None


# --- test messages -------------------------------------------------------------------------


def send_test_email(db: Database, actor: Actor, to_address: str, *, ssl_context=None) -> str:
    """Send a test e-mail now (not through the outbox) with the saved settings (owner);
    what happened, or a ValidationError saying why it did not go."""
    permissions.require(actor, Permission.MANAGE_SETTINGS)
    try:
        to_address = validate_email(
            (to_address or "").strip(), check_deliverability=False
        ).normalized
    except EmailNotValidError as exc:
        raise ValidationError(
            f"Type the e-mail address to send the test to: {exc}", field="to_address"
        ) from None
    with reading(db, actor) as session:
        config = current_config(session)
    problem = _not_configured(config, "email")
    if problem:
        raise ValidationError(problem)
    outgoing = OutgoingEmail(
        uid=str(uuid.uuid4()),
        to_address=to_address,
        subject="CareDesk test message",
        body=(
            f"This is a test message from CareDesk, sent by {actor.full_name} at "
            f"{utc_now():%Y-%m-%d %H:%M} UTC.\n\n"
            "If it arrived, the clinic's e-mail settings work.\n"
        ),
        language="en",
    )
    try:
        with EmailTransport(config, smtp_password(config), ssl_context=ssl_context) as mail:
            mail.send(outgoing)
    except SendError as exc:
        raise ValidationError(f"The test e-mail was not sent. {exc.message}") from None
    return (
        f"The test e-mail was handed to {config.smtp_host} for {to_address}. Check that it "
        "arrived (look in the spam folder too)."
    )


def send_test_text(db: Database, actor: Actor, to_number: str) -> str:
    """Send a test text now with the saved settings (owner); what happened, or a
    ValidationError saying why it did not go."""
    from app.services.messages.sms import gateway_for

    permissions.require(actor, Permission.MANAGE_SETTINGS)
    with reading(db, actor) as session:
        config = current_config(session)
        clinic = session.get(ClinicSettings, 1)
        region = clinic.country if clinic is not None else "US"
    try:
        number = normalise_phone((to_number or "").strip(), region)
    except ValueError:
        raise ValidationError(
            "Type the mobile number to send the test to, like (207) 555-0142 or +1 207 555 0142.",
            field="to_number",
        ) from None
    problem = _not_configured(config, "text")
    if problem:
        raise ValidationError(problem)
    try:
        receipt = gateway_for(config, sms_token(config)).send(
            number,
            "CareDesk test message: if it arrived, the clinic's text settings work.",
            str(uuid.uuid4()),
        )
    except SendError as exc:
        raise ValidationError(f"The test text was not sent. {exc.message}") from None
    return (
        f"The gateway took the test text for {display_phone(number)} (its status: "
        f"{receipt.status}). Check that it arrived on the phone."
    )
