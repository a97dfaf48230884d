"""A throw-away TLS identity for benchmarks on loopback.

The certificate is made at run time with the `openssl` command line (the `cryptography`
package is not a dependency of this project): a P-256 key, valid for one day, for `localhost`
and `127.0.0.1`. Clients trust exactly that certificate and nothing else.
"""

from __future__ import annotations

import shutil
import ssl
import subprocess
from dataclasses import dataclass
from pathlib import Path


class TLSSetupError(RuntimeError):
    """The certificate could not be made (no `openssl`, or it failed)."""


@dataclass(frozen=True)
class SelfSigned:
    """A self-signed certificate and its private key, as PEM files."""

    cert: Path
    key: Path

    def client_context(self) -> ssl.SSLContext:
        """An `ssl.SSLContext` for clients that trusts only this certificate (hostname checked)."""
        context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(self.cert))
        context.check_hostname = True
        context.verify_mode = ssl.CERT_REQUIRED
        return context


def make_self_signed(directory: Path, *, days: int = 1) -> SelfSigned:
    """Write `cert.pem` and `key.pem` (mode 0600) for 127.0.0.1/localhost into `directory`.

    Raises:
        TLSSetupError: `openssl` is missing or refused the request.
    """
    openssl = shutil.which("openssl")
    if openssl is None:
        raise TLSSetupError("the `openssl` command is needed to make a benchmark certificate")
    directory.mkdir(parents=True, exist_ok=True)
    cert, key = directory / "cert.pem", directory / "key.pem"
    command = [
        openssl,
        "req",
        "-x509",
        "-nodes",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-keyout",
        str(key),
        "-out",
        str(cert),
        "-days",
        str(days),
        "-subj",
        "/CN=localhost",
        "-addext",
        "subjectAltName=DNS:localhost,IP:127.0.0.1",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,digitalSignature,keyCertSign",
        "-addext",
        "extendedKeyUsage=serverAuth",
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise TLSSetupError(f"openssl failed: {done.stderr.strip()}")
    key.chmod(0o600)
    return SelfSigned(cert=cert, key=key)
