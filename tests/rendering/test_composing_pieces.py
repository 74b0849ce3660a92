"""The send path builds bodies from pre-encoded pieces; what readers get is what plain rendering gives."""
from __future__ import annotations

import email
from datetime import datetime, timezone
from email import policy
from email.utils import format_datetime
from types import SimpleNamespace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.domain.campaigns.files import load_library
from app.domain.messages.composing import _one_line, build_mime, compiled_version, contact_context, render_message, sender_address
from app.domain.messages.mime import multipart_alternative, subject_header
from app.domain.messages.rendering import personal_links, render, render_plainly
from app.domain.messages.links import with_honeypot
from tests.conftest import ROOT

NOW = datetime(2026, 3, 2, 9, 0, 41, 123456, tzinfo=timezone.utc)
MERGE_BODY = """Hi {{ contact.first_name | default("there") }} {{ contact.last_name }},

See [the report](https://www.brightline.example/report?company={{ contact.company | default("you") }}&x=1)
and [our specs](https://www.brightline.example/specs).
{% if segment == "large" %}Large plants get a site visit: {{ contact.fields.plant }}.{% endif %}
{{ contact.title }} = {{ contact.company }}
"""


def _services(**env):
    from app.config import load_config
    from app.domain.messages.links import Tokens

    config = load_config({"NURTURE_FROM": "Brightline <hello@brightline.example>", "NURTURE_SECRET_KEY": "k-0123456789abcdef0123456789abcdef",
                          "NURTURE_INSTANCE_PATH": "/tmp", **env})
    return SimpleNamespace(config=config, tokens=Tokens("k", "https://n.test"))


def _contact(first_name, *, consent=True, company="Acme", last_name="Okafor", fields=None, segment="large"):
    """Exactly what rendering may read of a contact: the rule fields, persona, segment and consent."""
    return SimpleNamespace(
        email="ana@example.org", email_domain="example.org", first_name=first_name, last_name=last_name,
        company=company, title="Controls Engineer", industry=None, company_size=None, budget=None,
        timeline_months=None, country="DE", timezone=None, source="api", fields=fields or {"plant": "Dayton"},
        persona=SimpleNamespace(slug="engineer"), segment=segment, tracking_consent=consent)


CONTACTS = [
    _contact("Ana"),
    _contact("Émile", last_name="Ørsted-Ünal", company="Société Générale d'Équipement"),
    _contact("李", company=None, fields={}, segment=None),
    _contact("<b>Zoë</b> & \"Z\"", company="A=B; C", consent=False),
    _contact("", consent=False, company=None, last_name=None),
    _contact("Bo\r", company="Line\r\nbreak"),  # a CR ending a merged value: the plain path takes over
    _contact("Fatima " + "very-long-name-" * 8, company="x" * 200),
]


def _steps():
    library, problems = load_library(ROOT / "campaigns", ROOT / "templates", "1 Main St, Springfield")
    assert not problems
    versions = [SimpleNamespace(content_hash=s.content_hash, subject=s.subject, preheader=s.preheader,
                                body_markdown=s.body, layout=s.layout)
                for c in library.campaigns for s in c.steps][:4]
    versions.append(SimpleNamespace(content_hash="merge-body", subject="{{ contact.first_name }}, grüße aus Dayton",
                                    preheader="Zeit", body_markdown=MERGE_BODY, layout="default"))
    return versions


def _message(version, contact, number):
    return SimpleNamespace(kind="nurture", public_id=f"{number:032x}", to_email="ana@example.org", campaign_id=3,
                           step_id=4, campaign=SimpleNamespace(from_name="Dana at Brightline", kind="drip"),
                           step_version=version, contact=contact)


def _plainly(services, message):
    """The straightforward build: render, honeypot, every header through the email policy."""
    compiled = compiled_version(services, message.step_version)
    contact, tokens, public_id = message.contact, services.tokens, message.public_id
    track = contact.tracking_consent
    out = render_plainly(compiled, contact_context(contact),
                         link_url=(lambda i: tokens.click_url(public_id, i)) if track else personal_links(compiled, contact_context(contact)),
                         pixel_url=tokens.open_url(public_id) if track else None,
                         unsubscribe_url=tokens.unsubscribe_url(public_id))
    html = with_honeypot(out.html, tokens.honeypot_url(public_id)) if track else out.html
    sender = sender_address(services.config.mail_from, message.campaign.from_name)
    unsubscribe = tokens.unsubscribe_url(public_id)
    raw = multipart_alternative(
        [("From", str(sender)), ("To", message.to_email), ("Subject", _one_line(out.subject)),
         ("Reply-To", sender.addr_spec)],
        [("Date", format_datetime(NOW)), ("Message-ID", f"<{public_id}@{sender.domain}>"),
         ("List-Unsubscribe", f"<{unsubscribe}>, <mailto:unsubscribe@{sender.domain}?subject=unsubscribe-{public_id}>"),
         ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"),
         ("Feedback-ID", f"{message.campaign_id}:{message.step_id}:{message.kind}:nurture")],
        out.text, html, public_id)
    return out.subject, html, out.text, raw


def _parts(raw):
    parsed = email.message_from_bytes(raw, policy=policy.default)
    return (parsed, parsed.get_body(("plain",)).get_content(), parsed.get_body(("html",)).get_content())


@pytest.mark.parametrize("version", _steps(), ids=lambda v: v.content_hash[:12])
def test_pieces_read_back_exactly_as_plain_rendering(version):
    """For real steps and awkward contacts, the bytes parse to the same headers, text and HTML."""
    services = _services()
    for number, contact in enumerate(CONTACTS):
        message = _message(version, contact, number + 1)
        rendered = render_message(services, message)
        message_id, raw = build_mime(services, message, rendered, NOW)
        subject, html, text, plain_raw = _plainly(services, message)
        assert (rendered.subject, rendered.html, rendered.text) == (subject, html, text)
        assert (rendered.bodies_qp() is not None) == ("\r" not in contact.first_name)  # else the plain path
        parsed, fast_text, fast_html = _parts(raw)
        expected, plain_text, plain_html = _parts(plain_raw)
        assert fast_text == plain_text and fast_html == plain_html
        assert sorted((k, str(v)) for k, v in parsed.items()) == sorted((k, str(v)) for k, v in expected.items())
        assert parsed["Message-ID"] == message_id
        assert parsed.get_content_type() == "multipart/alternative" and not parsed.defects
        assert all(len(line) <= 76 for line in raw.split(b"\r\n\r\n", 1)[1].split(b"\r\n"))
        assert ("/t/o/" in html) == contact.tracking_consent


def test_render_for_previews_matches_plain_rendering():
    """`render` (previews, proofs, the web version) takes the pieces too, and gives the same result."""
    services = _services()
    for version in _steps():
        compiled = compiled_version(services, version)
        for contact in CONTACTS:
            for pixel in ("https://n.test/o.gif", None):
                kwargs = dict(link_url=lambda i: f"https://n.test/c/{i}", pixel_url=pixel, unsubscribe_url="#")
                fast = render(compiled, contact_context(contact), **kwargs)
                plain = render_plainly(compiled, contact_context(contact), **kwargs)
                assert (fast.subject, fast.html, fast.text) == (plain.subject, plain.html, plain.text)


def test_contact_without_tracking_consent_gets_no_pixel_honeypot_or_tracked_links():
    """Untracked: the author's links as written, no pixel image, no hidden link."""
    services = _services()
    message = _message(_steps()[-1], _contact("Ana", consent=False), 9)
    _, raw = build_mime(services, message, render_message(services, message), NOW)
    _, text, html = _parts(raw)
    assert "/t/" not in html and "/t/" not in text and "<img" not in html
    assert "https://www.brightline.example/specs" in html and "/u/" in html


def test_pieces_sign_with_dkim(dkim_key):
    """A message built from pieces verifies with dkimpy, and tampering with it does not."""
    import dkim

    services = _services(NURTURE_DKIM_KEY_FILE=dkim_key.path, NURTURE_DKIM_SELECTOR="nurture")
    message = _message(_steps()[0], _contact("Émile"), 5)
    rendered = render_message(services, message)
    assert rendered.bodies_qp() is not None  # the piecewise path, not the fallback
    _, raw = build_mime(services, message, rendered, NOW)
    assert dkim.verify(raw, dnsfunc=dkim_key.dns)
    assert not dkim.verify(raw.replace(b"Dayton", b"Daytin", 1), dnsfunc=dkim_key.dns)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_subject_header_reads_back_as_written_and_stays_one_header(subject):
    """Any subject, once on one line, is one header that the standard parser reads back unchanged."""
    value = _one_line(subject)
    header = subject_header(value)
    assert header.endswith(b"\r\n") and header.isascii()
    lines = header[:-2].split(b"\r\n")
    assert all(line[:1] in (b" ", b"\t") for line in lines[1:]) and all(len(line) <= 78 for line in lines)
    parsed = email.message_from_bytes(header + b"\r\nbody", policy=policy.default)
    assert list(parsed.keys()) == ["Subject"]
    assert parsed["Subject"] == value


def test_an_untracked_link_carries_the_contacts_merge_fields_safely_encoded():
    """Without tracking consent the author's link goes out as written, its merge fields filled in:
    the same URL a tracked click would redirect to, and a contact's data cannot leave the href."""
    services = _services()
    version = _steps()[-1]
    hostile = _contact("Zoë", company='A&B" onmouseover="alert(1)', consent=False)
    rendered = render_message(services, _message(version, hostile, 99))
    assert "{{" not in rendered.html and "{{" not in rendered.text
    assert ('href="https://www.brightline.example/report?company=A%26B%22%20onmouseover%3D%22alert(1)&x=1"'
            in rendered.html)
    assert "onmouseover=\"" not in rendered.html
    plain = _contact("Ana", company="Acme Robotics", consent=False)
    assert ("https://www.brightline.example/report?company=Acme%20Robotics&x=1"
            in render_message(services, _message(version, plain, 100)).text)
