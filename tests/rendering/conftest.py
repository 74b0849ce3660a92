"""A DKIM key pair for signing tests, and the DNS lookup dkimpy verifies against."""
from __future__ import annotations

import base64
import subprocess
from types import SimpleNamespace

import pytest


@pytest.fixture
def dkim_key(tmp_path):
    """.path: the private key file (selector "nurture", domain brightline.example); .dns: the lookup."""
    key = tmp_path / "dkim.pem"
    subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", str(key)],
                   check=True, capture_output=True)
    public_der = subprocess.run(["openssl", "pkey", "-in", str(key), "-pubout", "-outform", "DER"], check=True,
                                capture_output=True).stdout
    record = b"v=DKIM1; k=rsa; p=" + base64.b64encode(public_der)

    def dns(name, timeout=5):
        return record if name == b"nurture._domainkey.brightline.example." else None

    return SimpleNamespace(path=str(key), dns=dns)
