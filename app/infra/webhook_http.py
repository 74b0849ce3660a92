"""Webhook POSTs that go only where they may, and never further.

The host is resolved when the POST is made, and every address it resolves to is checked: loopback,
private, link-local, multicast, unspecified and other non-public addresses are refused unless the
endpoint allows private targets (link-local, multicast and unspecified never: cloud metadata
services live on link-local). The connection then goes to the checked address itself, with the
host name kept for the Host header, SNI and the certificate check, so a second DNS answer cannot
swap in another target. Redirects are never followed: a 3xx is the answer.
"""
from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
from urllib.parse import urlsplit

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class TargetRefused(Exception):
    """The URL's host is (or resolves to) an address a webhook may not reach."""


def refusal(address: Address, *, allow_private: bool) -> str | None:
    """Why a webhook may not go to this address (None: it may)."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address.is_unspecified:
        return "an unspecified address"
    if address.is_multicast:
        return "a multicast address"
    if address.is_link_local:
        return "a link-local address"
    if allow_private:
        return None
    if address.is_loopback:
        return "a loopback address"
    if address.is_private:
        return "a private address"
    if not address.is_global:
        return "not a public address"
    return None


def literal_address(host: str) -> Address | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def checked_addresses(host: str, port: int, *, allow_private: bool) -> list[str]:
    """Resolve the host; refuse when any of its addresses may not be reached."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    addresses = list(dict.fromkeys(info[4][0] for info in infos))
    for found in addresses:
        why = refusal(ipaddress.ip_address(found.split("%", 1)[0]), allow_private=allow_private)
        if why is not None:
            shown = host if host == found else f"{host} ({found})"
            raise TargetRefused(f"refused: {shown} is {why}; only public addresses are allowed "
                                "unless the endpoint allows private ones")
    if not addresses:
        raise OSError(f"{host} has no address")
    return addresses


class _Pinned(http.client.HTTPConnection):
    def __init__(self, host: str, port: int, address: str, timeout: float):
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self):
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedTLS(http.client.HTTPSConnection):
    def __init__(self, host: str, port: int, address: str, timeout: float):
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self._address = address

    def connect(self):
        raw = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(raw, server_hostname=self.host)


def post(url: str, body: bytes, headers: dict[str, str], timeout: float, *, allow_private: bool) -> tuple[int, str]:
    """POST once; returns (status code, start of the answer). Raises TargetRefused, or OSError when
    nothing answered. A redirect is returned as it is, never followed."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise TargetRefused("refused: only http:// and https:// addresses are allowed")
    if parts.username is not None or parts.password is not None:
        raise TargetRefused("refused: the address carries credentials")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    kind = _PinnedTLS if parts.scheme == "https" else _Pinned
    last_error: OSError | None = None
    for address in checked_addresses(parts.hostname, port, allow_private=allow_private):
        connection = kind(parts.hostname, port, address, timeout)
        try:
            connection.request("POST", path, body=body, headers=headers)
            response = connection.getresponse()
            return response.status, response.read(500).decode(errors="replace")
        except ConnectionRefusedError as exc:  # nothing sent yet: the next address may answer
            last_error = exc
        except http.client.HTTPException as exc:
            raise OSError(f"not an HTTP answer ({type(exc).__name__})") from None
        finally:
            connection.close()
    raise last_error or OSError("no address answered")
