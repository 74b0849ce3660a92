"""What an SMTP answer means for the message, by its enhanced status code, not its first digit."""
from __future__ import annotations

import re
from dataclasses import dataclass

RETRY, BOUNCE, THROTTLE, BLOCK, FAIL = "retry", "bounce", "throttle", "block", "fail"
ENHANCED = re.compile(r"^\s*([245])\.(\d{1,3})\.(\d{1,3})\b")
RATE_WORDS = re.compile(r"rate|too many|throttl|try again later|slow down|limit exceeded|temporarily deferred", re.I)
UNKNOWN_USER = re.compile(r"user unknown|unknown user|no such user|does not exist|invalid recipient|"
                          r"recipient not found|mailbox unavailable|address rejected", re.I)


@dataclass(frozen=True)
class Verdict:
    action: str
    reason: str


def enhanced_code(text: str) -> tuple[int, int, int] | None:
    match = ENHANCED.match(text or "")
    return tuple(int(g) for g in match.groups()) if match else None  # type: ignore[return-value]


def classify(code: int, text: str) -> Verdict:
    """retry, bounce (suppress the address), throttle (slow the domain), block (policy: pause and
    alert), or fail (give up on this message only)."""
    enhanced = enhanced_code(text)
    klass, subject, detail = enhanced if enhanced else (code // 100, None, None)
    if 400 <= code < 500:  # a temporary reply stays temporary, even with a mismatched enhanced code
        if (klass, subject, detail) == (4, 7, 28) or RATE_WORDS.search(text or ""):
            return Verdict(THROTTLE, "provider rate limit")
        return Verdict(RETRY, "temporary failure")
    if (subject, detail) == (2, 1) and RATE_WORDS.search(text or ""):
        return Verdict(THROTTLE, "provider rate limit (5.2.1)")
    if subject == 1 or (subject is None and code in (550, 551, 553) and UNKNOWN_USER.search(text or "")):
        return Verdict(BOUNCE, "hard bounce: bad address")
    if subject == 2 and detail == 2:
        return Verdict(RETRY, "mailbox full")
    if subject == 7:
        return Verdict(BLOCK, "policy rejection")
    return Verdict(FAIL, "permanent failure")
