"""Local certificate authority and TLS server certificate for the Key Vault stand-in.

Generated once per data directory and reused, so a client that trusts the CA file keeps working across
restarts. TLS verification stays on everywhere: clients trust ``ca.pem`` instead of skipping checks.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_VALIDITY = dt.timedelta(days=3650)
SERVER_VALIDITY = dt.timedelta(days=397)
RENEW_BEFORE = dt.timedelta(days=14)
SERVER_DNS_NAMES = ("localhost",)
SERVER_IP_ADDRESSES = ("127.0.0.1", "::1")
PRIVATE_FILE_MODE = 0o600
PUBLIC_FILE_MODE = 0o644


@dataclass(frozen=True)
class CertificatePaths:
    """Files of the local CA and the server certificate inside the stand-in's data directory."""

    ca_cert: Path
    ca_key: Path
    server_cert: Path
    server_key: Path

    @classmethod
    def in_dir(cls, data_dir: Path) -> CertificatePaths:
        """The standard file names under ``data_dir``."""
        return cls(
            ca_cert=data_dir / "ca.pem",
            ca_key=data_dir / "ca-key.pem",
            server_cert=data_dir / "server.pem",
            server_key=data_dir / "server-key.pem",
        )


def write_file(path: Path, data: bytes, mode: int) -> None:
    """Write ``data`` atomically with ``mode``; the permission is set before any byte is written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)
    os.chmod(tmp, mode)
    os.replace(tmp, path)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _create_ca(paths: CertificatePaths) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "DSR devstack local CA")])
    now = _now()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + CA_VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
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
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    write_file(paths.ca_key, _key_pem(key), PRIVATE_FILE_MODE)
    write_file(paths.ca_cert, cert.public_bytes(serialization.Encoding.PEM), PUBLIC_FILE_MODE)
    return cert, key


def _load_ca(paths: CertificatePaths) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    cert = x509.load_pem_x509_certificate(paths.ca_cert.read_bytes())
    key = serialization.load_pem_private_key(paths.ca_key.read_bytes(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ValueError(f"{paths.ca_key} does not hold an EC private key")
    return cert, key


def _server_cert_usable(paths: CertificatePaths, ca_cert: x509.Certificate) -> bool:
    if not (paths.server_cert.exists() and paths.server_key.exists()):
        return False
    cert = x509.load_pem_x509_certificate(paths.server_cert.read_bytes())
    if cert.issuer != ca_cert.subject:
        return False
    return cert.not_valid_after_utc - RENEW_BEFORE > _now()


def _create_server_cert(
    paths: CertificatePaths, ca_cert: x509.Certificate, ca_key: ec.EllipticCurvePrivateKey
) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    now = _now()
    alt_names: list[x509.GeneralName] = [x509.DNSName(n) for n in SERVER_DNS_NAMES]
    alt_names += [x509.IPAddress(ipaddress.ip_address(a)) for a in SERVER_IP_ADDRESSES]
    ca_ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + SERVER_VALIDITY)
        .add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    write_file(paths.server_key, _key_pem(key), PRIVATE_FILE_MODE)
    write_file(paths.server_cert, cert.public_bytes(serialization.Encoding.PEM), PUBLIC_FILE_MODE)


def ensure_certificates(data_dir: Path) -> CertificatePaths:
    """Create the CA and server certificate under ``data_dir`` unless usable ones exist; return their paths.

    A corrupt CA file raises (the stand-in refuses to start) rather than silently minting a new CA that
    every configured client would then reject.
    """
    paths = CertificatePaths.in_dir(data_dir)
    if paths.ca_cert.exists() and paths.ca_key.exists():
        ca_cert, ca_key = _load_ca(paths)
    else:
        ca_cert, ca_key = _create_ca(paths)
    if not _server_cert_usable(paths, ca_cert):
        _create_server_cert(paths, ca_cert, ca_key)
    return paths
