"""The clinic's own certificate authority and the clinic server's TLS certificate.

``caredesk server setup`` makes a certificate authority for the clinic (on the server PC,
kept there) and signs the server's certificate with it, for the names and addresses PCs
reach the server by.  Every PC that joins pins the CA's certificate (by the SHA-256
fingerprint in the join code) and checks the server against it with
``sslmode=verify-full``: no public CA, no certificate to buy, and nobody else's
certificate is accepted.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from app.clock import utc_now
from app.data.errors import CareDeskError

CA_VALIDITY = timedelta(days=20 * 365 + 5)
SERVER_VALIDITY = timedelta(days=5 * 365 + 1)
#: Certificates start a day early: a PC whose clock is behind must not find a brand-new
#: certificate "not yet valid".
CLOCK_SLACK = timedelta(days=1)
CA_NAME_PREFIX = "CareDesk clinic CA – "
SERVER_COMMON_NAME = "CareDesk clinic server"
_DNS_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_DNS_NAME = re.compile(rf"^(?=.{{1,253}}$){_DNS_LABEL}(?:\.{_DNS_LABEL})*\.?$")


class CertificateNameError(CareDeskError):
    """A server name that cannot go into a certificate."""


@dataclass(frozen=True)
class CertificateAndKey:
    """A certificate and its private key, both PEM."""

    cert_pem: bytes
    key_pem: bytes

    @property
    def certificate(self) -> x509.Certificate:
        return x509.load_pem_x509_certificate(self.cert_pem)

    def private_key(self) -> ec.EllipticCurvePrivateKey:
        key = serialization.load_pem_private_key(self.key_pem, password=None)
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        return key


@dataclass(frozen=True)
class CertificateInfo:
    """What a person needs to know about a certificate, for messages."""

    subject: str
    #: The DNS names and IP addresses it is for, in the certificate's order.
    names: tuple[str, ...]
    not_before: datetime
    not_after: datetime
    is_ca: bool
    fingerprint: bytes

    @property
    def fingerprint_text(self) -> str:
        return format_fingerprint(self.fingerprint)

    def expires_within(self, period: timedelta, *, now: datetime | None = None) -> bool:
        return self.not_after - (now or utc_now()) < period


def _now(now: datetime | None) -> datetime:
    return (now or utc_now()).replace(microsecond=0)


def _new_key() -> ec.EllipticCurvePrivateKey:
    # P-256: what every TLS stack and PostgreSQL build handles, and small.
    return ec.generate_private_key(ec.SECP256R1())


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def make_clinic_ca(label: str, *, now: datetime | None = None) -> CertificateAndKey:
    """A new certificate authority for one clinic ("CareDesk clinic CA – <label>"), valid
    for about twenty years; it may sign server certificates only (path length 0)."""
    start = _now(now)
    key = _new_key()
    label = " ".join(label.split())[: 64 - len(CA_NAME_PREFIX)] or "clinic"
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, CA_NAME_PREFIX + label),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "CareDesk"),
        ]
    )
    public = key.public_key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(start - CLOCK_SLACK)
        .not_valid_after(start + CA_VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .sign(key, hashes.SHA256())
    )
    return CertificateAndKey(cert.public_bytes(serialization.Encoding.PEM), _key_pem(key))


def normalized_names(names: Iterable[str]) -> list[str]:
    """``names`` checked and tidied (IP addresses in their usual form, DNS names in lower
    case), duplicates dropped, order kept; a name that cannot be one raises."""
    result: list[str] = []
    for raw in names:
        name = raw.strip()
        try:
            name = str(ipaddress.ip_address(name.strip("[]")))
        except ValueError:
            # All digits at the end: an IP address with a typing mistake, not a name.
            if not _DNS_NAME.match(name) or name.rstrip(".").rsplit(".", 1)[-1].isdigit():
                raise CertificateNameError(
                    f"“{raw}” is neither a computer name (such as clinic-server or "
                    "server.clinic.lan) nor an IP address (such as 192.168.1.20)."
                ) from None
            name = name.rstrip(".").lower()
        if name not in result:
            result.append(name)
    if not result:
        raise CertificateNameError("Give at least one name or address PCs reach the server by.")
    return result


def _general_names(names: Sequence[str]) -> list[x509.GeneralName]:
    general: list[x509.GeneralName] = []
    for name in normalized_names(names):
        try:
            general.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            general.append(x509.DNSName(name))
    return general


def make_server_certificate(
    ca: CertificateAndKey, names: Sequence[str], *, now: datetime | None = None
) -> CertificateAndKey:
    """A certificate for the clinic server, signed by the clinic's CA, for ``names`` (DNS
    names and IP addresses, the order kept), valid about five years (never past the CA)."""
    start = _now(now)
    ca_cert = ca.certificate
    ca_key = ca.private_key()
    key = _new_key()
    public = key.public_key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, SERVER_COMMON_NAME)]))
        .issuer_name(ca_cert.subject)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(start - CLOCK_SLACK)
        .not_valid_after(min(start + SERVER_VALIDITY, ca_cert.not_valid_after_utc))
        .add_extension(x509.SubjectAlternativeName(_general_names(names)), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=True,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    return CertificateAndKey(cert.public_bytes(serialization.Encoding.PEM), _key_pem(key))


# --- reading certificates ---------------------------------------------------------------------


def load_certificates(data: bytes) -> list[x509.Certificate]:
    """Every certificate in ``data`` (PEM, one or more; or a single DER)."""
    if b"-----BEGIN" in data:
        return x509.load_pem_x509_certificates(data)
    return [x509.load_der_x509_certificate(data)]


def sha256_fingerprint(cert: x509.Certificate) -> bytes:
    """The certificate's SHA-256 fingerprint (of its DER form), 32 bytes."""
    return hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).digest()


def format_fingerprint(fingerprint: bytes) -> str:
    """``1A2B 3C4D …``: a fingerprint to read out over the phone or compare by eye."""
    text = fingerprint.hex().upper()
    return " ".join(text[i : i + 4] for i in range(0, len(text), 4))


def certificate_names(cert: x509.Certificate) -> tuple[str, ...]:
    """The DNS names and IP addresses a certificate is for, in its order."""
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return ()
    return tuple(str(name.value) for name in san if isinstance(name, x509.DNSName | x509.IPAddress))


def is_ca(cert: x509.Certificate) -> bool:
    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return False


def issued_by(cert: x509.Certificate, ca: x509.Certificate) -> bool:
    """True when ``ca`` signed ``cert`` (names and signature checked)."""
    try:
        cert.verify_directly_issued_by(ca)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def key_matches(cert: x509.Certificate, key_pem: bytes) -> bool:
    """True when ``key_pem`` is the private key of ``cert``."""
    try:
        key = serialization.load_pem_private_key(key_pem, password=None)
    except (ValueError, TypeError):
        return False
    return key.public_key() == cert.public_key()


def describe_certificate(data: bytes | x509.Certificate) -> CertificateInfo:
    """Subject, names, validity and fingerprint of a certificate (the first one in a PEM
    chain), for messages such as "valid until 12 May 2031 for 192.168.1.20"."""
    cert = data if isinstance(data, x509.Certificate) else load_certificates(data)[0]
    common = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return CertificateInfo(
        subject=str(common[0].value) if common else cert.subject.rfc4514_string(),
        names=certificate_names(cert),
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        is_ca=is_ca(cert),
        fingerprint=sha256_fingerprint(cert),
    )
