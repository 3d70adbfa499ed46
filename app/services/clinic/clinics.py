"""Creating, opening and configuring a clinic: the database, its key, its settings."""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass, field, fields
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from babel import Locale, UnknownLocaleError
from babel.numbers import list_currencies
from email_validator import EmailNotValidError, validate_email
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.exc import DBAPIError

from app import paths
from app.clock import utc_now
from app.data import keys, migrate
from app.data.database import (
    Database,
    check_file_looks_encrypted,
    connect,
    connect_server,
    damaged_page,
    is_damage,
    remove_database_files,
)
from app.data.database import create_empty as create_empty_database
from app.data.errors import (
    DatabaseDamagedError,
    DatabaseLockedError,
    DatabaseTooNewError,
    NotACareDeskDatabaseError,
)
from app.data.keys import DatabaseKey, KeyringUnavailable
from app.data.models.clinic import PAPER_SIZES, ClinicSettings
from app.data.models.messages import DEFAULT_RULES, MessageRule
from app.data.models.staff import Role
from app.data.server import ServerAddress, ServerAddressError, find_password
from app.documents.common import LOGO_MAX_HEIGHT, LOGO_MAX_WIDTH, check_logo, logo_size_on_page
from app.services.clinic import permissions
from app.services.clinic.actor import Actor
from app.services.clinic.audit import AuditAction, record
from app.services.clinic.clock import clinic_settings
from app.services.clinic.permissions import Permission
from app.services.clinic.staff import add_staff_row
from app.services.clinic.uow import assign_changed, unit_of_work
from app.services.errors import KeyRequiredError, ValidationError
from app.services.patients.consents import install_starter_consents_in

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ClinicDetails:
    """What the setup wizard and the Settings page edit about the clinic itself."""

    name: str
    timezone: str
    locale: str = "en_US"
    currency: str = "USD"
    address_line1: str = ""
    address_line2: str = ""
    city: str = ""
    region: str = ""
    postal_code: str = ""
    country: str = "US"
    phone: str = ""
    email: str = ""
    paper_size: str = "letter"
    idle_lock_minutes: int = 10
    #: The letterhead's logo, a PNG or JPEG file's bytes as chosen; None prints no logo.
    logo_png: bytes | None = field(default=None, repr=False)


# --- the clinic's logo ------------------------------------------------------------------------

#: The largest logo file accepted: a letterhead logo prints under 2 inches wide, and the
#: bytes are stored in the database and read for every printed page.
LOGO_MAX_BYTES = 2 * 1024 * 1024
#: The most pixels on the logo's longer side (it prints under 2 inches wide: 6000 px is
#: 3000 dpi), so a poster-sized picture is not decoded at every print.
LOGO_MAX_PIXELS = 6000
#: What the logo chooser offers (a file dialog filter).
LOGO_FILE_FILTER = "PNG or JPEG images (*.png *.jpg *.jpeg)"
#: The box on the letterhead the logo is scaled into, (width, height) in inches.
LOGO_BOX_INCHES = (LOGO_MAX_WIDTH / 72.0, LOGO_MAX_HEIGHT / 72.0)
_LOGO_FORMATS = "Choose a PNG or JPEG image."

# Formats people often have a logo in that reportlab either cannot print or prints badly
# (a GIF's palette, an SVG is not a bitmap at all): named, so the message says what it is.
_OTHER_PICTURES: tuple[tuple[str, tuple[bytes, ...]], ...] = (
    ("GIF", (b"GIF87a", b"GIF89a")),
    ("BMP", (b"BM",)),
    ("TIFF", (b"II*\x00", b"MM\x00*")),
    ("PDF", (b"%PDF",)),
)


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MB"


def _picture_kind(data: bytes) -> str | None:
    """ "PNG", "JPEG", another picture format's name, or None when the bytes say nothing."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if data.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WebP"
    for name, signatures in _OTHER_PICTURES:
        if data.startswith(signatures):
            return name
    head = data[:1024].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if head.startswith(b"<svg") or (head.startswith(b"<?xml") and b"<svg" in head):
        return "SVG"
    return None


def check_logo_data(data: bytes) -> bytes:
    """A logo is a non-empty PNG or JPEG picture of at most :data:`LOGO_MAX_BYTES` that
    reportlab can read (:func:`app.documents.common.check_logo`); ValidationError otherwise."""
    if not data:
        raise ValidationError(f"That file is empty. {_LOGO_FORMATS}", field="logo_png")
    if len(data) > LOGO_MAX_BYTES:
        raise ValidationError(
            f"That picture is {_megabytes(len(data))}; a logo can be at most "
            f"{LOGO_MAX_BYTES // (1024 * 1024)} MB. Save a smaller copy (it prints under "
            "2 inches wide) and choose it again.",
            field="logo_png",
        )
    kind = _picture_kind(data)
    if kind not in (None, "PNG", "JPEG"):
        raise ValidationError(
            f"That is {'an' if kind == 'SVG' else 'a'} {kind} picture, which CareDesk cannot "
            "print as the logo. "
            f"{_LOGO_FORMATS} (Most drawing programs can save a copy as PNG.)",
            field="logo_png",
        )
    try:
        width, height = check_logo(data)
    except ValueError as exc:
        raise ValidationError(str(exc), field="logo_png") from None
    if max(width, height) > LOGO_MAX_PIXELS:
        raise ValidationError(
            f"That picture is {width} × {height} pixels; a logo can be at most "
            f"{LOGO_MAX_PIXELS} pixels across. Save a smaller copy and choose it again.",
            field="logo_png",
        )
    if kind is None:  # a picture, but in a format the letterhead is not made for
        raise ValidationError(
            f"That picture is not a PNG or JPEG image. {_LOGO_FORMATS}", field="logo_png"
        )
    return data


def logo_print_size(data: bytes) -> tuple[float, float]:
    """(width, height) in inches that the letterhead prints the logo at (it is scaled to fit
    the letterhead's logo box, keeping its proportions); Settings previews it at this size."""
    width, height = logo_size_on_page(*check_logo(data))
    return width / 72.0, height / 72.0


def read_logo_file(path: Path | str) -> bytes:
    """The bytes of a logo file chosen in Settings, checked by :func:`check_logo_data`;
    a missing, unreadable or too large file is refused before it is read."""
    path = Path(path)
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise ValidationError(
            f"“{path.name}” could not be found. It may have been moved or renamed; "
            "choose it again.",
            field="logo_png",
        ) from None
    except OSError:
        raise ValidationError(
            f"“{path.name}” could not be opened. {_LOGO_FORMATS}", field="logo_png"
        ) from None
    if path.is_dir():
        raise ValidationError(f"“{path.name}” is a folder. {_LOGO_FORMATS}", field="logo_png")
    if size > LOGO_MAX_BYTES:
        # Refused before reading: a huge file would only fill memory to be turned down.
        raise ValidationError(
            f"“{path.name}” is {_megabytes(size)}; a logo can be at most "
            f"{LOGO_MAX_BYTES // (1024 * 1024)} MB. Save a smaller copy (it prints under "
            "2 inches wide) and choose it again.",
            field="logo_png",
        )
    try:
        data = path.read_bytes()
    except OSError:
        raise ValidationError(
            f"“{path.name}” could not be read. Check that it is not open in another "
            "program, then choose it again.",
            field="logo_png",
        ) from None
    return check_logo_data(data)


def validate_details(details: ClinicDetails) -> ClinicDetails:
    """Check every field and return a tidied copy; the first problem is raised, with its field."""
    name = " ".join(details.name.split())
    if not name:
        raise ValidationError("Type the clinic's name.", field="name")
    if len(name) > 120:
        raise ValidationError("The clinic's name is longer than 120 characters.", field="name")
    try:
        ZoneInfo(details.timezone)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: "America" is a folder
        raise ValidationError(
            f"“{details.timezone}” is not a time zone CareDesk knows.", field="timezone"
        ) from None
    try:
        Locale.parse(details.locale)
    except (UnknownLocaleError, ValueError):
        raise ValidationError(
            f"“{details.locale}” is not a known locale.", field="locale"
        ) from None
    currency = details.currency.strip().upper()
    if currency not in list_currencies():
        raise ValidationError(f"“{details.currency}” is not a currency code.", field="currency")
    country = details.country.strip().upper()
    phone = details.phone.strip()
    if phone:
        try:
            parsed = phonenumbers.parse(phone, country or None)
        except phonenumbers.NumberParseException:
            parsed = None
        if parsed is None or not phonenumbers.is_valid_number(parsed):
            raise ValidationError(f"“{phone}” is not a valid phone number.", field="phone")
        phone = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.NATIONAL)
    email = details.email.strip()
    if email:
        try:
            email = validate_email(email, check_deliverability=False).normalized
        except EmailNotValidError as exc:
            raise ValidationError(f"The email address is not valid: {exc}", field="email") from None
    if details.paper_size not in PAPER_SIZES:
        raise ValidationError("Paper size is Letter or A4.", field="paper_size")
    if not 1 <= details.idle_lock_minutes <= 240:
        raise ValidationError(
            "The idle lock is between 1 and 240 minutes.", field="idle_lock_minutes"
        )
    logo = check_logo_data(details.logo_png) if details.logo_png is not None else None
    return ClinicDetails(
        name=name,
        timezone=details.timezone,
        locale=details.locale,
        currency=currency,
        address_line1=details.address_line1.strip(),
        address_line2=details.address_line2.strip(),
        city=details.city.strip(),
        region=details.region.strip(),
        postal_code=details.postal_code.strip(),
        country=country,
        phone=phone,
        email=email,
        paper_size=details.paper_size,
        idle_lock_minutes=details.idle_lock_minutes,
        logo_png=logo,
    )


@dataclass
class OpenClinic:
    """An unlocked clinic database and the key that opened it (kept for the recovery kit).

    A clinic on the server has no key of CareDesk's: the server's disk encryption protects
    it at rest, TLS in transit (``key`` is None, ``server`` says where it is).
    """

    db: Database
    key: DatabaseKey | None
    key_in_keyring: bool
    backup_before_upgrade: Path | None = None

    @property
    def path(self) -> Path | None:
        return self.db.path

    @property
    def server(self) -> ServerAddress | None:
        return self.db.server


def create_clinic(
    path: Path,
    details: ClinicDetails,
    owner_username: str,
    owner_full_name: str,
    owner_password: str,
    *,
    passphrase: str | None = None,
) -> OpenClinic:
    """Create the encrypted database, its schema, the clinic's settings, the first owner and
    the starter consent forms, in one transaction.

    A random raw key goes into the OS keyring; where there is no keyring the
    clinic is keyed with ``passphrase`` instead.  Nothing is left behind on failure.
    """
    path = Path(path)
    details = validate_details(details)
    use_keyring = keys.keyring_available()
    if use_keyring:
        key = DatabaseKey.generate()
    else:
        if not passphrase or len(passphrase) < keys.MIN_PASSPHRASE_LENGTH:
            raise ValidationError(
                "This computer has no key store, so the database is locked with a passphrase: "
                f"choose one of at least {keys.MIN_PASSPHRASE_LENGTH} characters.",
                field="passphrase",
            )
        key = DatabaseKey(passphrase=passphrase)
    db = create_empty_database(path, key)
    db_id = None
    try:
        migrate.upgrade(db)
        _install_clinic(db, details, owner_username, owner_full_name, owner_password)
        if use_keyring:
            db_id = keys.database_id(path)
            keys.store_key(db_id, key)
    except BaseException:
        db.close()
        remove_database_files(path)
        if db_id is not None:
            with contextlib.suppress(KeyringUnavailable):
                keys.forget_key(db_id)
        raise
    remember_last_used(path)
    return OpenClinic(db=db, key=key, key_in_keyring=use_keyring)


def _install_clinic(
    db: Database, details: ClinicDetails, owner_username: str, owner_full_name: str, password: str
) -> None:
    """The clinic's settings, its first owner and the starter consent forms, in one
    transaction, into a database whose schema is up to date."""
    with unit_of_work(db, None) as session:
        session.add(ClinicSettings(id=1, **_settings_values(details)))
        owner = add_staff_row(session, owner_username, owner_full_name, Role.OWNER, password)
        # Installed now, not on first use, so Settings → Consent forms and "required
        # consents" on services have the starter set from the clinic's first day.
        install_starter_consents_in(session)
        # And the reminder rules every clinic starts with (Settings → Messages changes them).
        session.add_all(
            MessageRule(kind=kind.value, offset_minutes=offset, send_email=email, send_text=text)
            for kind, offset, email, text in DEFAULT_RULES
        )
        record(session, AuditAction.CLINIC_CREATED, entity="staff", entity_id=owner.id)


def _holds_a_clinic(db: Database) -> bool:
    with db.uow() as session:
        return session.get(ClinicSettings, 1) is not None


def create_clinic_on_server(
    address: ServerAddress,
    details: ClinicDetails,
    owner_username: str,
    owner_full_name: str,
    owner_password: str,
    *,
    server_password: str | None = None,
) -> OpenClinic:
    """Start a new clinic in the server's (prepared, empty) database: its settings, first
    owner and starter consent forms.  A server that already holds a clinic is refused."""
    details = validate_details(details)
    db = _open_server_database(address, server_password)
    try:
        if _holds_a_clinic(db):
            raise ValidationError(
                f"{address.describe().capitalize()} already holds a clinic: join it instead "
                "of starting a new one."
            )
        _install_clinic(db, details, owner_username, owner_full_name, owner_password)
    except BaseException:
        db.close()
        raise
    remember_last_used(address)
    return OpenClinic(db=db, key=None, key_in_keyring=False)


def _open_server_database(address: ServerAddress, password: str | None) -> Database:
    """Connect and check the schema is the one this CareDesk was built for: the PCs never
    change the server's schema (the owner role does, with ``caredesk server upgrade``)."""
    db = connect_server(address, password if password is not None else find_password(address))
    try:
        current = migrate.current_revision(db)
        if current is None:
            raise ValidationError(
                f"{address.describe().capitalize()} has no CareDesk tables yet: run "
                "`caredesk server setup` on the server first."
            )
        if current != migrate.HEAD_REVISION:
            if current not in migrate.known_revisions():
                raise DatabaseTooNewError()
            raise ValidationError(
                f"{address.describe().capitalize()} still has an older CareDesk's tables. "
                "Whoever looks after the server runs `caredesk server upgrade` there once; "
                "then every PC can sign in again."
            )
    except BaseException:
        db.close()
        raise
    return db


class ServerHasNoClinicError(ValidationError):
    """The server is prepared but no clinic was started on it (or moved to it) yet."""

    def __init__(self, address: ServerAddress) -> None:
        super().__init__(
            f"{address.describe().capitalize()} holds no clinic yet: start one from the "
            "setup window, or move this PC's clinic there with `caredesk db move-to-server`."
        )


def open_server_clinic(
    address: ServerAddress, password: str | None = None, *, remember: bool = True
) -> OpenClinic:
    """Connect to the clinic on the server (the password from the key store or
    ``CAREDESK_SERVER_PASSWORD`` unless given)."""
    db = _open_server_database(address, password)
    try:
        if not _holds_a_clinic(db):
            raise ServerHasNoClinicError(address)
    except BaseException:
        db.close()
        raise
    if remember:
        remember_last_used(address)
    return OpenClinic(db=db, key=None, key_in_keyring=False)


def _settings_values(details: ClinicDetails) -> dict:
    return {f.name: getattr(details, f.name) for f in fields(ClinicDetails)}


def find_key(path: Path) -> tuple[DatabaseKey, bool]:
    """The key for the database at ``path``: from the keyring, else ``CAREDESK_PASSPHRASE``.

    Returns the key and whether it came from the keyring; raises KeyRequiredError
    when neither has it (the GUI then asks for the passphrase or recovery key).
    """
    check_file_looks_encrypted(Path(path))
    db_id = keys.database_id(Path(path))
    try:
        key = keys.load_key(db_id)
        keyring_missing = False
    except KeyringUnavailable:
        key, keyring_missing = None, True
    if key is not None:
        return key, True
    from_env = keys.passphrase_from_environment()
    if from_env is not None:
        return from_env, False
    raise KeyRequiredError(keyring_missing=keyring_missing)


def _check_schema_readable(db: Database) -> None:
    """Read the schema's version once, so a damaged page there is named for what it is."""
    try:
        migrate.current_revision(db)
    except DBAPIError as exc:
        if is_damage(exc):
            raise damaged_page() from None
        raise


def stored_key_refused() -> DatabaseDamagedError:
    """What to say when the key filed for this very file no longer opens it."""
    return DatabaseDamagedError(
        "the key stored for it does not open it: its first page is damaged, "
        "or the file was replaced by another"
    )


def open_clinic(
    path: Path,
    key: DatabaseKey | None = None,
    *,
    upgrade: bool = True,
    remember: bool = True,
    as_is: bool = False,
) -> OpenClinic:
    """Unlock a clinic database, upgrading an older schema after an encrypted backup.

    A raw key typed by the user (the recovery key) is put back into the keyring.
    ``remember=False``: CareDesk does not open it next time (a command checking a copy).
    ``as_is``: whatever its schema, neither upgrade it nor refuse it (checking a backup
    made before an upgrade).
    """
    path = Path(path)
    from_keyring = False
    if key is None:
        key, from_keyring = find_key(path)
    try:
        db = connect(path, key)
    except DatabaseLockedError:
        if from_keyring:
            raise stored_key_refused() from None
        raise
    backup = None
    try:
        # A check (as_is) reads on and names damage itself; opening to work stops here.
        if not as_is:
            _check_schema_readable(db)
            if not sa_inspect(db.engine).has_table("alembic_version"):
                raise NotACareDeskDatabaseError("it holds no CareDesk clinic.")
        if not as_is and migrate.needs_upgrade(db):
            if not upgrade:
                raise ValidationError("This database needs an upgrade: run `caredesk db upgrade`.")
            backup = upgrade_database(db, key)
    except BaseException:
        db.close()
        raise
    if not from_keyring and key.raw is not None:
        with contextlib.suppress(KeyringUnavailable):
            keys.store_key(keys.database_id(path), key)
            from_keyring = True
    if remember:
        remember_last_used(path)
    return OpenClinic(db=db, key=key, key_in_keyring=from_keyring, backup_before_upgrade=backup)


def upgrade_database(db: Database, key: DatabaseKey) -> Path:
    """Back up (encrypted, same key, checked) and migrate to the newest schema; returns the
    backup."""
    from app.services.backups.archive import make_file_backup

    before = migrate.current_revision(db) or "empty"
    folder = paths.backups_dir()
    backup, _ = make_file_backup(db, key, folder, reason="before upgrade")
    if key.raw is not None:
        # So `caredesk db check --db BACKUP` opens it without the recovery key.
        with contextlib.suppress(KeyringUnavailable):
            keys.store_key(keys.database_id(backup), key)
    migrate.upgrade(db)
    from app.services.patients.search import index_unindexed_patients

    with db.uow() as session:
        indexed = index_unindexed_patients(session)
    if indexed:
        log.info("search terms written for %d patients", indexed)
    with unit_of_work(db, None) as session:
        record(
            session,
            AuditAction.DATABASE_UPGRADED,
            detail=f"from {before} to {migrate.head_revision()}",
        )
    log.info("database upgraded from %s; backup at %s", before, backup)
    return backup


def remember_last_used(where: Path | ServerAddress) -> None:
    """The clinic opened last: a file's full path, or the server's address (no password)."""
    text = where.as_url() if isinstance(where, ServerAddress) else str(Path(where).resolve())
    with contextlib.suppress(OSError):
        paths.last_used_file().write_text(text, encoding="utf-8")


def last_used_location() -> Path | ServerAddress | None:
    try:
        text = paths.last_used_file().read_text(encoding="utf-8").strip()
    except OSError:
        return None
    if text.startswith(("postgresql://", "postgres://")):
        try:
            return ServerAddress.parse(text)
        except ServerAddressError:
            return None
    return Path(text) if text else None


def last_used_database() -> Path | None:
    """The file opened last, or None (also when the clinic used last is on a server)."""
    where = last_used_location()
    return where if isinstance(where, Path) else None


def get_details(db: Database) -> ClinicDetails:
    with db.uow() as session:
        row = clinic_settings(session)
        return ClinicDetails(**{f.name: getattr(row, f.name) for f in fields(ClinicDetails)})


def update_details(db: Database, actor: Actor, details: ClinicDetails) -> ClinicDetails:
    """Save the clinic's details (owner only)."""
    permissions.require(actor, Permission.MANAGE_SETTINGS)
    details = validate_details(details)
    with unit_of_work(db, actor) as session:
        row = clinic_settings(session)
        assign_changed(row, _settings_values(details))
    return details


@dataclass(frozen=True, repr=False)
class RecoveryKitInfo:
    """What a recovery kit prints. ``kind`` "database": the key of the clinic file at
    ``database_path``; "server_backups": the key this PC encrypts the clinic server's
    backups with (the server at ``server_address`` — "host:port" —, its database
    ``server_database``, kept on the computer ``computer``)."""

    recovery_text: str
    is_raw_key: bool
    created_at: datetime
    kind: str = "database"
    database_id: str = ""
    database_path: str = ""
    server_address: str = ""
    server_database: str = ""
    computer: str = ""

    def __repr__(self) -> str:  # the key never reaches a log or a traceback
        return f"RecoveryKitInfo(kind={self.kind!r}, hidden)"


#: A clinic server's own data has no key of CareDesk's; only its backups have one, and only
#: the PC that makes them holds it.
NO_SERVER_KIT = (
    "This clinic is on the clinic server, which has no key of CareDesk's to print: the "
    "server's own disk encryption protects its data. Its backups are encrypted with the "
    "server backup key, and that key's recovery kit is printed on the PC that makes the "
    "backups (Settings → Backups there)."
)


def recovery_kit_info(clinic: OpenClinic, actor: Actor | None) -> RecoveryKitInfo:
    """What the recovery kit prints (owner only, audited: it is the key to every record):
    the clinic file's key, or — for a clinic on the server — the server backup key, when
    this PC holds it (the PC that makes the server's backups)."""
    if actor is not None:
        permissions.require(actor, Permission.MANAGE_SETTINGS)
    if clinic.server is not None:
        return _server_backup_kit_info(clinic, actor)
    if clinic.key is None or clinic.path is None:
        raise ValidationError(NO_SERVER_KIT)
    with unit_of_work(clinic.db, actor) as session:
        record(session, AuditAction.RECOVERY_KIT, detail="recovery kit printed")
    return RecoveryKitInfo(
        database_id=keys.database_id(clinic.path),
        database_path=str(clinic.path),
        recovery_text=clinic.key.recovery_text(),
        is_raw_key=clinic.key.raw is not None,
        created_at=utc_now(),
    )


def _server_backup_kit_info(clinic: OpenClinic, actor: Actor | None) -> RecoveryKitInfo:
    import socket

    from app.services.backups.server_dump import server_backup_key

    server = clinic.server
    assert server is not None
    key = server_backup_key(clinic.db, create=False)
    if key is None:
        raise ValidationError(NO_SERVER_KIT)
    with unit_of_work(clinic.db, actor) as session:
        record(session, AuditAction.RECOVERY_KIT, detail="backup key recovery kit printed")
    return RecoveryKitInfo(
        kind="server_backups",
        server_address=f"{server.host}:{server.port}",
        server_database=server.database,
        computer=socket.gethostname(),
        recovery_text=key.recovery_text(),
        is_raw_key=key.raw is not None,
        created_at=utc_now(),
    )
