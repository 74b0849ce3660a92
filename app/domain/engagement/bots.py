"""The one rule that tells human engagement from machines.

Human or machine (`classify`) is a pure function of one hit and what is known around it; every
rule is listed below with the reason it is recorded under, and tested on recorded real-world
user agents (tests/tracking/fixtures/user_agents.py). Machine events are stored and shown, never
scored.
"""
from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

from app.domain.messages.links import CLICK, HONEYPOT_LINK, OPEN


# Image proxies fetch pixels on delivery, not when a person reads; scanners follow every link.
MACHINE_AGENTS = [
    (re.compile(r"GoogleImageProxy|ggpht\.com", re.I), "Gmail image proxy"),
    (re.compile(r"YahooMailProxy|Yahoo! Slurp|YahooCacheSystem", re.I), "Yahoo image proxy"),
    (re.compile(r"Barracuda|Mimecast|Proofpoint|ppops|Symantec|MessageLabs|Forcepoint|Trend ?Micro|"
                r"SafeLinks|Microsoft Office Protection|Sophos|FireEye|Cisco|IronPort|Zscaler|Cloudmark|"
                r"Bitdefender|Check ?Point|Fortinet|FortiGuard|Hornetsecurity|SpamTitan|Libraesva|"
                r"Avanan|Abnormal ?Security|Vade ?Secure|Trustwave|Egress|urlscan", re.I),
     "security scanner"),
    (re.compile(r"bot\b|bot/|crawler|spider|curl/|wget/|python-requests|python-urllib|aiohttp|httpx|"
                r"Go-http-client|HeadlessChrome|PhantomJS|okhttp|libwww|Java/|Apache-HttpClient|axios/|"
                r"node-fetch|undici|WhatsApp|Slackbot|facebookexternalhit|Twitterbot|LinkedInBot|"
                r"Discordbot|TelegramBot|SkypeUriPreview", re.I),
     "automated client"),
]
# Apple Mail Privacy Protection fetches every image on delivery through Apple's egress with a bare
# "Mozilla/5.0" user agent (no platform, no engine): no mail client a person reads in sends that.
BARE_MOZILLA = re.compile(r"^Mozilla/5\.0\s*$")
APPLE_NETWORKS = [ipaddress.ip_network(n) for n in ("17.0.0.0/8",)]
# Address ranges of mail security gateways and provider proxies that fetch links and images on
# delivery (published sender/egress ranges of each vendor; a hit from them is not a reader).
SCANNER_NETWORKS = [(ipaddress.ip_network(n), who) for n, who in (
    ("66.249.80.0/20", "Gmail image proxy"), ("66.102.0.0/20", "Gmail image proxy"),
    ("74.125.0.0/16", "Gmail image proxy"), ("64.233.160.0/19", "Gmail image proxy"),
    ("40.92.0.0/15", "Microsoft Defender link scan"), ("40.107.0.0/16", "Microsoft Defender link scan"),
    ("52.100.0.0/14", "Microsoft Defender link scan"), ("104.47.0.0/17", "Microsoft Defender link scan"),
    ("67.231.144.0/20", "Proofpoint"), ("148.163.128.0/19", "Proofpoint"), ("185.183.28.0/22", "Proofpoint"),
    ("205.139.110.0/24", "Mimecast"), ("207.211.30.0/24", "Mimecast"), ("170.10.128.0/20", "Mimecast"),
    ("64.235.144.0/20", "Barracuda"), ("209.222.80.0/21", "Barracuda"),
    ("68.232.128.0/19", "Cisco IronPort"), ("216.71.128.0/18", "Cisco IronPort"),
    ("98.136.0.0/14", "Yahoo image proxy"), ("74.6.0.0/16", "Yahoo image proxy"),
)]
SCANNER_CLICK_WINDOW = timedelta(seconds=10)   # a person does not read and click that fast
BURST_WINDOW = timedelta(seconds=2)            # several different links of one email within this: a crawl


@dataclass(frozen=True)
class Verdict:
    is_machine: bool
    reason: str | None = None


HUMAN = Verdict(False)


@lru_cache(maxsize=4096)
def _address_verdict(ip: str, kind: str) -> str | None:
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return None
    if kind == OPEN and any(address in net for net in APPLE_NETWORKS):
        return "Apple Mail Privacy Protection"
    for net, who in SCANNER_NETWORKS:
        if address.version == net.version and address in net:
            return f"{who} (address range)"
    return None


def classify(*, kind: str, method: str, user_agent: str | None, ip: str | None,
             sent_at: datetime | None, at: datetime, link: int | None = None,
             honeypot_ips: frozenset[str] = frozenset(), other_clicks: tuple[tuple[int, datetime], ...] = ()) -> Verdict:
    """Human or machine for an open or click; pure, so it is tested on recorded real-world hits.

    - HEAD requests, no user agent, and known proxy, scanner and bot user agents;
    - Apple Mail Privacy Protection: a bare "Mozilla/5.0" open, or one from Apple's 17.0.0.0/8;
    - known scanner and proxy address ranges;
    - the hidden honeypot link, and any click from an address that followed it on the same email;
    - a click within seconds of delivery, or several different links of one email clicked within
      two seconds of each other (`other_clicks`: (link, time) of this email's other clicks).
    """
    if kind == CLICK and link == HONEYPOT_LINK:
        return Verdict(True, "followed the hidden honeypot link")
    if method.upper() == "HEAD":
        return Verdict(True, "HEAD request")
    if not user_agent:
        return Verdict(True, "no user agent")
    for pattern, reason in MACHINE_AGENTS:
        if pattern.search(user_agent):
            return Verdict(True, reason)
    if kind == OPEN and BARE_MOZILLA.match(user_agent):
        return Verdict(True, "Apple Mail Privacy Protection")
    if ip:
        reason = _address_verdict(ip, kind)
        if reason:
            return Verdict(True, reason)
    if kind != CLICK:
        return HUMAN
    if ip and ip in honeypot_ips:
        return Verdict(True, "same address followed the hidden honeypot link")
    if sent_at is not None and at - sent_at < SCANNER_CLICK_WINDOW:
        return Verdict(True, "clicked within seconds of delivery")
    if any(other != link and abs(at - when) <= BURST_WINDOW for other, when in other_clicks):
        return Verdict(True, "clicked several links at once")
    return HUMAN
