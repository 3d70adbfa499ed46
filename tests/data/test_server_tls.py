"""The clinic server's TLS and the join code: the clinic's own certificate authority, setup
on the server PC, and a PC joining with the code — against a real PostgreSQL cluster of this
module's own (setup rewrites its pg_hba.conf and TLS settings)."""

from __future__ import annotations

import string
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID
from sqlalchemy.exc import DBAPIError

from app.data import server_admin, server_join
from app.data.database import connect_server
from app.data.server import (
    PASSWORD_ENV,
    ServerAddress,
    ServerCertificateError,
    ServerLoginError,
    ServerPasswordMissingError,
    ServerUnreachableError,
    find_password,
)
from app.data.server_admin import ServerSetupError, setup_clinic_server, with_hba_rules
from app.data.server_join import (
    JoinCode,
    JoinCodeError,
    decode_join_code,
    encode_join_code,
    join_server,
)
from app.data.server_tls import (
    CertificateNameError,
    describe_certificate,
    issued_by,
    make_clinic_ca,
    make_server_certificate,
    sha256_fingerprint,
)
from tests import pg_cluster

FINGERPRINT = bytes(range(32))
ONE_CA = make_clinic_ca("Bayside Dental")
OTHER_CA = make_clinic_ca("Someone else")


# --- certificates -----------------------------------------------------------------------------


def test_the_clinic_ca_signs_a_server_certificate_for_its_names_and_addresses():
    now = datetime(2026, 6, 1, tzinfo=UTC)
    ca = make_clinic_ca("Bayside Dental", now=now)
    server = make_server_certificate(ca, ["Clinic-Server.lan", "192.168.1.20", "::1"], now=now)

    ca_info = describe_certificate(ca.cert_pem)
    assert ca_info.subject == "CareDesk clinic CA – Bayside Dental"
    assert ca_info.is_ca
    assert ca_info.not_after - now > timedelta(days=19 * 365)
    info = describe_certificate(server.cert_pem)
    assert info.names == ("clinic-server.lan", "192.168.1.20", "::1")
    assert not info.is_ca
    assert timedelta(days=4 * 365) < info.not_after - now < timedelta(days=6 * 365)
    cert = server.certificate
    usage = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usage) == [ExtendedKeyUsageOID.SERVER_AUTH]
    assert issued_by(cert, ca.certificate)
    assert not issued_by(cert, OTHER_CA.certificate)
    assert b"PRIVATE KEY" in server.key_pem and b"PRIVATE KEY" in ca.key_pem
    # Read out over the phone: 16 groups of 4 hex digits.
    groups = ca_info.fingerprint_text.split(" ")
    assert len(groups) == 16 and all(len(g) == 4 for g in groups)
    assert ca_info.fingerprint == sha256_fingerprint(ca.certificate)


@pytest.mark.parametrize("name", ["front desk", "server_1", "-server", "", "192.168.1.300"])
def test_a_name_no_certificate_can_hold_is_refused_with_a_sentence(name):
    with pytest.raises(CertificateNameError, match=r"name|address"):
        make_server_certificate(ONE_CA, [name])


# --- the join code ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "address",
    [
        ServerAddress(host="192.168.1.20"),
        ServerAddress(host="clinic-server.bayside.lan", port=6543),
        ServerAddress(host="fd00::20", database="bayside", user="desk_app"),
    ],
)
def test_a_join_code_gives_back_the_address_and_the_fingerprint(address):
    code = encode_join_code(address, FINGERPRINT)

    assert code.startswith("CD1-")
    decoded = decode_join_code(code)
    assert decoded == JoinCode(address=address, ca_fingerprint=FINGERPRINT)
    assert decoded.address.sslmode == "verify-full"
    # Typed by hand: lower case, spaces instead of dashes, 0 for O.
    retyped = code.lower().replace("-", " ").replace("o", "0")
    assert decode_join_code(retyped) == decoded


def test_a_join_code_with_one_character_changed_is_refused():
    code = encode_join_code(ServerAddress(host="192.168.1.20"), FINGERPRINT)
    alphabet = string.ascii_uppercase + "234567"
    for at, char in enumerate(code):
        if at < 4 or char == "-":
            continue
        changed = code[:at] + alphabet[(alphabet.index(char) + 7) % 32] + code[at + 1 :]
        with pytest.raises(JoinCodeError, match="typing mistake"):
            decode_join_code(changed)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("", "Paste or type"),
        ("hello there", "not a CareDesk join code"),
        ("CD2-AAAA-BBBB", "newer CareDesk"),
        ("CD1-AAAA-BBBB", "too short"),
        ("CD1-AAAA-B!BB-CCCC", "characters a join code never contains"),
    ],
)
def test_what_is_not_a_join_code_says_what_is_wrong(text, words):
    with pytest.raises(JoinCodeError, match=words):
        decode_join_code(text)


def test_a_cut_short_join_code_is_refused():
    code = encode_join_code(ServerAddress(host="192.168.1.20"), FINGERPRINT)
    with pytest.raises(JoinCodeError):
        decode_join_code(code[:-5])


# --- pg_hba.conf ------------------------------------------------------------------------------

HBA = """\
# PostgreSQL Client Authentication Configuration File
# TYPE  DATABASE        USER            ADDRESS                 METHOD

# "local" is for Unix domain socket connections only
local   all             all                                     peer
host    caredesk        all             0.0.0.0/0               trust
host    all             all             127.0.0.1/32            scram-sha-256
"""


def test_the_tls_rules_come_before_every_other_rule_and_only_once():
    once = with_hba_rules(HBA, "caredesk")
    lines = once.splitlines()
    ours = lines.index("hostnossl caredesk all all reject")
    assert lines[ours + 1 : ours + 3] == [
        "hostssl caredesk caredesk_app,caredesk_owner 0.0.0.0/0 scram-sha-256",
        "hostssl caredesk caredesk_app,caredesk_owner ::/0 scram-sha-256",
    ]
    trust = next(i for i, line in enumerate(lines) if "trust" in line)
    assert ours < trust
    # Every line of the file is still there, in its order.
    kept = [line for line in HBA.splitlines() if line]
    assert [line for line in lines if line in kept] == kept
    assert with_hba_rules(once, "caredesk") == once
    # Another clinic database on the same server gets its own rules, the first kept.
    both = with_hba_rules(once, "bayside")
    assert "hostnossl bayside all all reject" in both
    assert "hostnossl caredesk all all reject" in both
    assert with_hba_rules(both, "caredesk").count("hostnossl caredesk") == 1


def test_a_data_folder_on_another_computer_is_refused(tmp_path: Path):
    started = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
    with pytest.raises(ServerSetupError, match="not on this computer"):
        server_admin._check_data_dir_is_here(tmp_path / "main", 5432, started)
    # A folder of the same name here, but another server's (another port, another start).
    (tmp_path / "postmaster.pid").write_text(
        f"4242\n{tmp_path}\n{int(started.timestamp()) - 3600}\n5433\n\n*\n1 2\nready\n"
    )
    with pytest.raises(ServerSetupError, match="Run setup on the server PC itself"):
        server_admin._check_data_dir_is_here(tmp_path, 5432, started)


# --- on a real server -------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _passwords_only_from_the_key_store(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(PASSWORD_ENV, raising=False)


@pytest.fixture(scope="module")
def cluster():
    with pg_cluster.own_cluster() as started:
        yield started


admin_address = pg_cluster.admin_address


@pytest.fixture(scope="module")
def clinic_server(cluster):
    """``caredesk server setup`` on the module's cluster, for the name 127.0.0.1 only."""
    return pg_cluster.set_up_clinic_server(cluster, app_password=pg_cluster.SERVER_APP_PASSWORD)


def scalar(address: ServerAddress, password: str, query: str):
    db = connect_server(address, password)
    try:
        with db.engine.connect() as conn:
            return conn.exec_driver_sql(query).scalar()
    finally:
        db.close()


def test_a_pc_joins_with_the_join_code_and_its_connection_is_checked_and_encrypted(
    clinic_server, user_data_dir: Path
):
    address = join_server(clinic_server.join_code, pg_cluster.SERVER_APP_PASSWORD)

    assert address.sslmode == "verify-full"
    assert address.ca_file == user_data_dir / "servers" / f"127.0.0.1-{address.port}-ca.crt"
    assert describe_certificate(address.ca_file.read_bytes()).fingerprint == (
        clinic_server.tls.ca.fingerprint
    )
    assert find_password(address) == pg_cluster.SERVER_APP_PASSWORD
    query = "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()"
    assert scalar(address, find_password(address), query) is True
    assert scalar(address, find_password(address), "SELECT count(*) FROM audit_log") == 0
    # Joined once, the address alone is enough: the CA this PC pinned is found again.
    assert join_server(replace(address, ca_file=None).as_url(), pg_cluster.SERVER_APP_PASSWORD) == (
        address
    )


@pytest.mark.parametrize("user", ["caredesk_app", pg_cluster.ADMIN_USER])
def test_a_plain_connection_to_the_clinic_database_is_refused_by_the_server(
    cluster, clinic_server, user
):
    password = {"caredesk_app": pg_cluster.SERVER_APP_PASSWORD}.get(user, cluster.admin_password)
    with pytest.raises(psycopg.OperationalError, match=r"pg_hba\.conf rejects"):
        psycopg.connect(
            host=cluster.host,
            port=cluster.port,
            dbname="caredesk",
            user=user,
            password=password,
            sslmode="disable",
        ).close()


def test_a_server_without_the_clinics_ca_is_refused_before_anything_is_sent(
    clinic_server, monkeypatch: pytest.MonkeyPatch, user_data_dir: Path
):
    signed_in = []
    monkeypatch.setattr(server_join, "connect_server", lambda *args: signed_in.append(args))
    genuine = decode_join_code(clinic_server.join_code)
    # The code of another clinic's CA: the server here cannot show that one.
    other = replace(genuine, ca_fingerprint=sha256_fingerprint(OTHER_CA.certificate))

    with pytest.raises(ServerCertificateError) as refused:
        join_server(other.encode(), pg_cluster.SERVER_APP_PASSWORD)

    assert "not issued by the clinic's certificate authority" in str(refused.value)
    assert "CareDesk sent nothing to it" in str(refused.value)
    assert signed_in == []
    assert not (user_data_dir / "servers").exists()
    with pytest.raises(ServerPasswordMissingError):
        find_password(genuine.address)


def test_a_name_the_certificate_is_not_for_is_refused(clinic_server):
    genuine = decode_join_code(clinic_server.join_code)
    by_name = replace(genuine, address=replace(genuine.address, host="localhost"))

    refused = r"certificate is for 127\.0\.0\.1, not localhost"
    with pytest.raises(ServerCertificateError, match=refused):
        join_server(by_name, pg_cluster.SERVER_APP_PASSWORD)

    with pytest.raises(ServerPasswordMissingError):
        find_password(by_name.address)


def test_a_wrong_password_is_a_login_error_and_is_not_kept(clinic_server):
    with pytest.raises(ServerLoginError, match="did not accept"):
        join_server(clinic_server.join_code, "not the password")

    with pytest.raises(ServerPasswordMissingError):
        find_password(decode_join_code(clinic_server.join_code).address)


def test_a_stopped_server_is_unreachable(cluster, clinic_server):
    joined = join_server(clinic_server.join_code, pg_cluster.SERVER_APP_PASSWORD)
    cluster.stop()
    try:
        with pytest.raises(ServerUnreachableError, match="could not reach"):
            join_server(clinic_server.join_code, pg_cluster.SERVER_APP_PASSWORD)
        with pytest.raises(ServerUnreachableError):
            connect_server(joined, pg_cluster.SERVER_APP_PASSWORD)
    finally:
        cluster.start()
    assert scalar(joined, pg_cluster.SERVER_APP_PASSWORD, "SELECT 1") == 1


def test_the_application_role_still_cannot_change_or_delete_audit_rows(clinic_server):
    joined = join_server(clinic_server.join_code, pg_cluster.SERVER_APP_PASSWORD)
    db = connect_server(joined, pg_cluster.SERVER_APP_PASSWORD)
    try:
        for statement in ("UPDATE audit_log SET id = id", "DELETE FROM audit_log"):
            with db.engine.connect() as conn, pytest.raises(DBAPIError) as refused:
                conn.exec_driver_sql(statement)
            assert isinstance(refused.value.orig, psycopg.errors.InsufficientPrivilege)
    finally:
        db.close()


def test_setup_again_keeps_the_ca_the_password_and_the_rules(cluster, clinic_server):
    joined = join_server(clinic_server.join_code, pg_cluster.SERVER_APP_PASSWORD)
    files = clinic_server.tls.files
    hba_before = files.hba_file.read_text()
    ca_before = (files.data_dir / server_admin.CA_CERT_FILE).read_bytes()

    again = setup_clinic_server(admin_address(cluster), cluster.admin_password)

    assert again.join_code == clinic_server.join_code
    assert again.app_password is None  # kept: joined PCs keep signing in
    assert not again.tls.created_ca and not again.tls.new_certificate
    assert files.hba_file.read_text() == hba_before
    assert hba_before.count("hostnossl caredesk all all reject") == 1
    assert (files.data_dir / server_admin.CA_CERT_FILE).read_bytes() == ca_before
    assert scalar(joined, find_password(joined), "SELECT 1") == 1


def test_the_server_key_is_for_the_servers_account_only(clinic_server, cluster):
    key = clinic_server.tls.files.data_dir / server_admin.SERVER_KEY_FILE
    info = key.stat()
    assert info.st_mode & 0o777 == 0o600
    assert info.st_uid == cluster.data_dir.stat().st_uid
    chain = x509.load_pem_x509_certificates(
        (clinic_server.tls.files.data_dir / server_admin.SERVER_CERT_FILE).read_bytes()
    )
    assert [describe_certificate(c).is_ca for c in chain] == [False, True]


def test_a_joined_server_opens_by_its_address_alone(clinic_server):
    """After joining, `--server postgresql://caredesk_app@127.0.0.1:PORT/caredesk` (no
    certificate named) uses the clinic CA this PC pinned when it joined."""
    joined = join_server(clinic_server.join_code, pg_cluster.SERVER_APP_PASSWORD)
    bare = ServerAddress.parse(joined.as_url().split("?")[0])
    assert bare.ca_file is None
    assert scalar(bare, pg_cluster.SERVER_APP_PASSWORD, "SELECT ssl FROM pg_stat_ssl "
                  "WHERE pid = pg_backend_pid()") is True  # fmt: skip


def test_a_server_certificate_that_has_expired_is_named(cluster, clinic_server):
    """The server presents a certificate of the clinic's CA whose five years are over."""
    from datetime import UTC, datetime

    from app.data.server_tls import CertificateAndKey, make_server_certificate

    joined = join_server(clinic_server.join_code, pg_cluster.SERVER_APP_PASSWORD)
    data_dir = clinic_server.tls.files.data_dir
    cert_path = data_dir / server_admin.SERVER_CERT_FILE
    key_path = data_dir / server_admin.SERVER_KEY_FILE
    kept = cert_path.read_bytes(), key_path.read_bytes()
    ca = CertificateAndKey(
        (data_dir / server_admin.CA_CERT_FILE).read_bytes(),
        (data_dir / server_admin.CA_KEY_FILE).read_bytes(),
    )
    old = make_server_certificate(ca, ["127.0.0.1"], now=datetime(2015, 1, 1, tzinfo=UTC))
    try:
        cert_path.write_bytes(old.cert_pem + ca.cert_pem)
        key_path.write_bytes(old.key_pem)
        cluster.admin_sql("SELECT pg_reload_conf()")
        with pytest.raises(ServerCertificateError, match="its certificate expired on 01 Jan 2020"):
            connect_server(joined, pg_cluster.SERVER_APP_PASSWORD)
    finally:
        cert_path.write_bytes(kept[0])
        key_path.write_bytes(kept[1])
        cluster.admin_sql("SELECT pg_reload_conf()")
    assert scalar(joined, pg_cluster.SERVER_APP_PASSWORD, "SELECT 1") == 1
