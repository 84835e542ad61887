"""Certificates made for a test session: a CA, a leaf for 127.0.0.1 and localhost it signed, and
another CA that signed nothing here; each CA's key is kept, so that a server can present a
self-signed certificate. With the cryptography package, or else the openssl command."""

from __future__ import annotations

import datetime
import ipaddress
import subprocess
from pathlib import Path

# Python 3.13 verifies strictly (VERIFY_X509_STRICT): the CA needs a critical basicConstraints,
# keyUsage and a key identifier, the leaf an authority key identifier; both tools add them.
OPENSSL_CONFIG = """\
[req]
distinguished_name = dn
prompt = no
[dn]
CN = unused
[ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[leaf]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1, DNS:localhost
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
"""


def certs_with_openssl(directory: Path) -> None:
    config = directory / "openssl.cnf"
    config.write_text(OPENSSL_CONFIG)

    def run(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=directory, check=True, capture_output=True, timeout=60)

    new_key = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")
    for name in ("ca", "other-ca"):
        run("req", "-x509", *new_key, "-keyout", f"{name}.key", "-out", f"{name}.pem", "-days", "30",
            "-config", "openssl.cnf", "-extensions", "ca", "-subj", f"/CN=Switchyard test {name}")
    run("req", "-new", *new_key, "-keyout", "leaf.key", "-out", "leaf.csr", "-config", "openssl.cnf",
        "-subj", "/CN=localhost")
    run("x509", "-req", "-in", "leaf.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-set_serial", "4242",
        "-days", "30", "-extfile", "openssl.cnf", "-extensions", "leaf", "-out", "leaf.pem")


def certs_with_cryptography(directory: Path) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.UTC)

    def usage(**granted: bool) -> x509.KeyUsage:
        names = ("digital_signature", "content_commitment", "key_encipherment", "data_encipherment",
                 "key_agreement", "key_cert_sign", "crl_sign", "encipher_only", "decipher_only")
        return x509.KeyUsage(**{name: granted.get(name, False) for name in names})

    def build(subject: str, key, issuer: x509.Certificate | None, issuer_key) -> x509.Certificate:
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
        builder = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(issuer.subject if issuer else name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .add_extension(x509.BasicConstraints(ca=issuer is None, path_length=None), critical=True)
        )
        if issuer is None:
            builder = builder.add_extension(usage(key_cert_sign=True, crl_sign=True), critical=True)
        else:
            ski = issuer.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
            builder = (
                builder.add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), False)
                .add_extension(usage(digital_signature=True), critical=True)
                .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
                .add_extension(x509.SubjectAlternativeName([
                    x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost"),
                ]), critical=False)
            )
        return builder.sign(issuer_key, hashes.SHA256())

    def write(name: str, cert: x509.Certificate, key=None) -> None:
        (directory / f"{name}.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        if key is not None:
            (directory / f"{name}.key").write_bytes(key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))

    ca_key, other_key, leaf_key = (ec.generate_private_key(ec.SECP256R1()) for _ in range(3))
    ca = build("Switchyard test ca", ca_key, None, ca_key)
    write("ca", ca, ca_key)  # also served as it is: a self-signed certificate
    write("other-ca", build("Switchyard test other-ca", other_key, None, other_key))
    write("leaf", build("localhost", leaf_key, ca, ca_key), leaf_key)
