"""Rendering and message building: placeholders survive premailer, headers stay safe."""
from __future__ import annotations

import email
from email import policy
from types import SimpleNamespace

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.domain.messages.composing import build_mime
from app.domain.messages.rendering import compile_step, merge_context, render
from tests.conftest import ROOT

TEMPLATES = str(ROOT / "templates")
BODY = """Hi {{ contact.first_name | default("there") }},

See [the report](https://www.brightline.example/report?company={{ contact.company | default("you") }}&x=1).
{% if segment == "large" %}Large plants get a site visit.{% endif %}
"""


def compiled(body=BODY, subject="Hello {{ contact.first_name | default('you') }}"):
    return compile_step("hash-" + str(hash((body, subject))), subject, "Preheader text", body, "default",
                        TEMPLATES, "1 Main St, Springfield")


def rendered(context, body=BODY):
    return render(compiled(body), context, link_url=lambda i: f"https://t.test/c/{i}",
                  pixel_url="https://t.test/o.gif", unsubscribe_url="https://t.test/u")


def test_merge_fields_and_links_survive_premailer():
    """Premailer URL-encodes attribute placeholders; ours come through intact and links are swapped."""
    step = compiled()
    assert step.links == ("https://www.brightline.example/report?company={{ contact.company | default(\"you\") }}&x=1",)
    out = rendered(merge_context({"first_name": "Ana", "company": "Acme"}, "engineer", "large"))
    assert "Hi Ana," in out.html and "Hi Ana," in out.text
    assert 'href="https://t.test/c/0"' in out.html
    assert "%7B" not in out.html and "{{" not in out.html
    assert "Large plants get a site visit." in out.html
    assert 'style="' in out.html  # layout CSS inlined
    assert "https://t.test/u" in out.html and "https://t.test/u" in out.text
    assert "1 Main St, Springfield" in out.text


def test_fallbacks_apply_for_missing_fields_and_blocks_follow_segment():
    """An empty first name falls back; a segment block shows only for that segment."""
    out = rendered(merge_context({"first_name": "", "company": None}, "engineer", "small"))
    assert "Hi there," in out.html
    assert "Large plants" not in out.html
    assert out.subject == "Hello you"


def test_contact_data_is_escaped_in_html():
    """A name with markup is shown as text, never as HTML."""
    out = rendered(merge_context({"first_name": "<script>alert(1)</script>"}, None, None))
    assert "<script>alert" not in out.html
    assert "&lt;script&gt;" in out.html


def test_sandbox_blocks_unsafe_template_code():
    """Author templates run in a sandbox: reaching Python internals fails at render, not silently."""
    import pytest

    from app.domain.messages.rendering import TemplateError

    with pytest.raises(TemplateError):
        rendered(merge_context({}, None, None), body="{{ contact.__class__.__mro__[1].__subclasses__() }}")


def test_without_a_pixel_url_the_pixel_is_removed():
    """No tracking consent: the pixel image is gone, not broken."""
    out = render(compiled(), merge_context({}, None, None), link_url=lambda i: "https://x.test",
                 pixel_url=None, unsubscribe_url="https://t.test/u")
    assert "NURTUREPIXEL" not in out.html and "<img" not in out.html


def _services(**env):
    from app.config import load_config
    from app.domain.messages.links import Tokens

    config = load_config({"NURTURE_FROM": "Brightline <hello@brightline.example>", "NURTURE_SECRET_KEY": "k-0123456789abcdef0123456789abcdef",
                          "NURTURE_INSTANCE_PATH": "/tmp", **env})
    return SimpleNamespace(config=config, tokens=Tokens("k", "https://n.test"))


def _message(subject, to="ana@example.org", name=None, services=None, html="<p>x</p>", text="x"):
    message = SimpleNamespace(public_id="ab" * 16, kind="nurture", to_email=to, campaign_id=1, step_id=2,
                              campaign=SimpleNamespace(from_name=name))
    from datetime import datetime, timezone

    from app.domain.messages.rendering import RenderedEmail

    return build_mime(services or _services(), message, RenderedEmail(subject=subject, html=html, text=text),
                      datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc))


def test_message_has_the_headers_mail_providers_require():
    """Multipart alternative, UTF-8, Message-ID, Date, one-click List-Unsubscribe, Feedback-ID."""
    message_id, raw = _message("Grüße, Ana")
    parsed = email.message_from_bytes(raw, policy=policy.default)
    assert parsed.get_content_type() == "multipart/alternative"
    assert parsed["Subject"] == "Grüße, Ana"
    assert parsed["Message-ID"] == message_id == "<" + "ab" * 16 + "@brightline.example>"
    assert parsed["Date"] == "Mon, 02 Mar 2026 09:00:00 +0000"
    assert parsed["List-Unsubscribe"].startswith("<https://n.test/u/")
    assert parsed["Reply-To"] == "hello@brightline.example"
    assert "mailto:" in parsed["List-Unsubscribe"]
    assert parsed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert parsed["Feedback-ID"]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(subject=st.text(min_size=0, max_size=400), name=st.one_of(st.none(), st.text(max_size=200)))
def test_no_subject_or_name_can_add_a_header(subject, name):
    """Whatever the subject or sender name holds (CR, LF, NUL, long Unicode), no header is added."""
    _, raw = _message(subject, name=name)
    head = raw.split(b"\r\n\r\n", 1)[0]
    names = [line.split(b":", 1)[0] for line in head.split(b"\r\n") if line and not line[:1].isspace()]
    assert sorted(names) == sorted([b"From", b"To", b"Subject", b"Date", b"Message-ID", b"Reply-To", b"List-Unsubscribe",
                                    b"List-Unsubscribe-Post", b"Feedback-ID", b"Content-Type", b"MIME-Version"])
    assert b"\x00" not in head


@settings(max_examples=100, deadline=None)
@given(text=st.text(max_size=3000), html=st.text(max_size=3000))
def test_body_parts_decode_to_exactly_what_was_rendered(text, html):
    """The hand-built MIME body round-trips through the standard parser for any Unicode content."""
    _, raw = _message("s", text=text, html=html)
    parsed = email.message_from_bytes(raw, policy=policy.default)
    normalise = lambda s: s.replace("\r\n", "\n").replace("\r", "\n")
    assert normalise(parsed.get_body(("plain",)).get_content()).rstrip("\n") == normalise(text).rstrip("\n")
    assert normalise(parsed.get_body(("html",)).get_content()).rstrip("\n") == normalise(html).rstrip("\n")


def test_dkim_signature_verifies_and_covers_list_unsubscribe(dkim_key):
    """With a key configured, dkimpy itself verifies the signature, which covers both unsubscribe headers."""
    import dkim

    services = _services(NURTURE_DKIM_KEY_FILE=dkim_key.path, NURTURE_DKIM_SELECTOR="nurture")
    _, raw = _message("Grüße", services=services, html="<p>Hallo Ana</p>", text="Hallo Ana")
    assert raw.startswith(b"DKIM-Signature:")
    signed = raw.split(b"\r\n\r\n", 1)[0].decode()
    h_tag = signed.split(" h=", 1)[1].split(";", 1)[0].replace("\r\n", "").replace(" ", "").lower()
    assert "list-unsubscribe" in h_tag.split(":") and "list-unsubscribe-post" in h_tag.split(":")
    assert dkim.verify(raw, dnsfunc=dkim_key.dns)
    tampered = raw.replace(b"Hallo Ana", b"Hallo Eve")
    assert not dkim.verify(tampered, dnsfunc=dkim_key.dns)


def test_a_proof_is_sent_merged_for_a_contact_and_records_nothing(synced, services, session, client, api, drain,
                                                                   outbox):
    """A test send reaches the marketer, merged as the chosen contact, with real links and no tracking."""
    from sqlalchemy import select

    from app.domain.sending.proofs import send_proof
    from app.models import Contact, Event, Step
    from tests.loop_steps import PRIYA, parse, parts

    contact_id = api.post("/api/v1/contacts", json=PRIYA).get_json()["id"]
    step = session.scalar(select(Step).where(Step.key == "01-repeatability"))
    send_proof(session, step.current_version, "Marketer@Example.com", now=services.now(),
               as_contact=session.get(Contact, contact_id))
    session.commit()
    drain()
    proof = parse(outbox()[-1].raw)
    assert proof["To"] == "marketer@example.com"
    assert proof["Subject"] == "[Test] Priya, how repeatable is 5 µm?"
    html, _ = parts(proof)
    assert "/t/o/" not in html and "/t/c/" not in html
    assert "https://www.brightline.example/resources/repeatability-test-report" in html
    unsubscribe = proof["List-Unsubscribe"].split(",")[0].strip("<> ").removeprefix("https://nurture.test")
    client.post(unsubscribe, data={"List-Unsubscribe": "One-Click"})
    session.expire_all()
    assert session.get(Contact, contact_id).email_status == "active"
    assert session.scalars(select(Event.type).where(Event.contact_id == contact_id)).all() == []
