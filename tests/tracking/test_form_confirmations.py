"""Anonymous forms never rewrite a known contact on their own say-so: the submission is held, the
contact is emailed a signed link, and only their confirmation applies it (double opt-in). Forms also
cannot put a visitor's text into a subject line, nor send an autoresponder to one address twice a day."""
from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import urlsplit

from sqlalchemy import func, select

from app.models import Contact, Event, FormConfirmation, Handoff
from tests.loop_steps import parse, parts
from workers.scheduler import tick

KNOWN = {"email": "lee.wong@acme-automation.example", "first_name": "Lee", "company": "Acme Automation",
         "title": "Controls Engineer", "industry": "manufacturing", "company_size": 850, "country": "US"}
ATTACK = {"email": KNOWN["email"], "company": "Attacker Chosen Inc", "title": "VP Procurement", "budget": "500000",
          "timeline": "now", "event": "demo_request"}
CONFIRM_SUBJECT = "Please confirm the form you sent us"


def _known(api, session) -> Contact:
    created = api.post("/api/v1/contacts", json=KNOWN)
    assert created.status_code == 201 and created.get_json()["grade"] == "B"
    return session.get(Contact, created.get_json()["id"])


def _confirmation_emails(outbox):
    return [parse(m.raw) for m in outbox() if m.subject == CONFIRM_SUBJECT]


def _confirm_path(message) -> str:
    _, text = parts(message)
    return urlsplit(re.search(r"https://nurture\.test/f/confirm/\S+", text).group(0)).path


def _count(session, model, *where) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(model).where(*where))


def test_a_form_about_a_known_contact_changes_nothing_until_the_contact_confirms(synced, api, client, session,
                                                                                   drain, outbox):
    """Someone else's address with company=Attacker Chosen Inc and event=demo_request: the contact keeps
    grade B, no demo request is recorded and nobody is handed to sales. The contact gets a confirmation
    email; opening its link only shows what was sent; confirming applies it through the form's own path."""
    contact = _known(api, session)
    posted = client.post("/f/contact-sales", data=ATTACK)
    assert posted.status_code == 200 and b"Thank you" in posted.data
    session.expire_all()
    assert (contact.company, contact.title, contact.budget, contact.grade) == ("Acme Automation", "Controls Engineer",
                                                                               None, "B")
    assert _count(session, Event, Event.type == "demo_request") == 0 and _count(session, Handoff) == 0

    drain()
    [email] = _confirmation_emails(outbox)
    assert email["To"] == KNOWN["email"] and "List-Unsubscribe" not in email
    html, text = parts(email)
    assert "Attacker" not in html + text and "contact-sales" not in html + text  # nothing a visitor typed
    path = _confirm_path(email)

    shown = client.get(path)
    assert shown.status_code == 200 and b"Attacker Chosen Inc" in shown.data and b"Asked for a demo" in shown.data
    session.expire_all()
    assert contact.company == "Acme Automation" and _count(session, Event, Event.type == "demo_request") == 0

    held = session.scalar(select(FormConfirmation))
    confirmed = client.post(path, data={"submission": held.public_id})
    assert confirmed.status_code == 200 and b"Confirmed" in confirmed.data
    session.expire_all()
    assert (contact.company, contact.budget, contact.timeline_months, contact.grade) == ("Attacker Chosen Inc", 500000,
                                                                                         0, "A")
    [event] = session.scalars(select(Event).where(Event.type == "demo_request")).all()
    assert event.properties["form"] == "contact-sales" and event.occurred_at == held.created_at
    assert _count(session, Handoff, Handoff.contact_id == contact.id) == 1

    again = client.post(path, data={"submission": held.public_id})
    assert again.status_code == 200 and b"Confirmed" in again.data
    assert _count(session, Event, Event.type == "demo_request") == 1


def test_the_json_form_holds_a_known_contacts_submission_too(synced, api, client, session):
    """POST /f/<form>.json answers as before, and changes nothing about a known contact."""
    contact = _known(api, session)
    answer = client.post("/f/contact-sales.json", json=ATTACK)
    assert answer.status_code == 200 and answer.get_json() == {"status": "ok"}
    session.expire_all()
    assert (contact.company, contact.grade) == ("Acme Automation", "B") and _count(session, Handoff) == 0
    assert _count(session, FormConfirmation, FormConfirmation.confirmed_at.is_(None)) == 1


def test_the_marketers_server_is_trusted_by_its_key(synced, api, session):
    """POST /api/v1/forms/<form> with a key updates the known contact at once, as before."""
    contact = _known(api, session)
    answer = api.post("/api/v1/forms/contact-sales", json={"email": KNOWN["email"], "company": "Acme Robotics"})
    assert answer.status_code == 200 and answer.get_json()["contact_id"] == contact.id
    session.expire_all()
    assert contact.company == "Acme Robotics" and _count(session, FormConfirmation) == 0


def test_one_confirmation_email_a_day_and_its_page_lists_every_waiting_form(synced, api, client, session, drain,
                                                                           outbox, clock):
    """A flood of forms about one address sends it one email a day; the page of that email's link shows
    every submission still waiting, and each can be confirmed on its own."""
    contact = _known(api, session)
    for company in ("First Co", "Second Co", "Third Co"):
        client.post("/f/contact-sales", data={"email": KNOWN["email"], "company": company})
        clock.advance(timedelta(minutes=5))
    drain()
    [email] = _confirmation_emails(outbox)
    path = _confirm_path(email)
    page = client.get(path).data.decode()
    assert page.index("First Co") < page.index("Second Co") < page.index("Third Co")
    third = session.scalars(select(FormConfirmation).order_by(FormConfirmation.id)).all()[2]
    assert client.post(path, data={"submission": third.public_id}).status_code == 200
    session.expire_all()
    assert contact.company == "Third Co"
    assert client.post(path, data={"submission": "0" * 32}).status_code == 422

    clock.advance(timedelta(days=1, minutes=1))
    client.post("/f/contact-sales", data={"email": KNOWN["email"], "company": "Next Day Co"})
    drain()
    assert len(_confirmation_emails(outbox)) == 2


def test_forged_and_week_old_confirmation_links_do_nothing(synced, api, client, session, drain, outbox, clock):
    """A tampered token or a link more than a week old gets our 'not valid' page, never a change."""
    contact = _known(api, session)
    client.post("/f/contact-sales", data={"email": KNOWN["email"], "company": "Attacker Chosen Inc"})
    drain()
    path = _confirm_path(_confirmation_emails(outbox)[0])
    forged = path[:-2] + ("AA" if not path.endswith("AA") else "BB")
    assert client.get(forged).status_code == 404 and client.post(forged).status_code == 404
    clock.advance(timedelta(days=8))
    assert client.get(path).status_code == 404 and client.post(path).status_code == 404
    session.expire_all()
    assert contact.company == "Acme Automation"


def test_the_sign_up_form_never_puts_a_visitors_text_in_the_welcome_subject(synced, client, services, session,
                                                                            drain, outbox):
    """The shipped sign-up form and Welcome autoresponder: a first name of 'URGENT verify your account at …'
    is stored, but the subject reads as for a contact without a first name."""
    lure = "URGENT verify your account at brightline-support.example"
    posted = client.post("/f/newsletter", data={"email": "victim@example.org", "first_name": lure, "event": "sign_up"})
    assert posted.status_code == 200
    assert session.scalar(select(Contact.first_name).where(Contact.email == "victim@example.org")) == lure
    tick(services)
    drain()
    [welcome] = [parse(m.raw) for m in outbox()]
    assert welcome["To"] == "victim@example.org"
    assert welcome["Subject"] == "Welcome to Brightline, and thanks for signing up"


def test_a_name_the_contact_vouched_for_is_merged_into_the_subject(synced, api, services, drain, outbox):
    """Sent by the marketer's server with its key (or confirmed by the contact), the name is theirs."""
    api.post("/api/v1/forms/newsletter", json={"email": "rui@example.org", "first_name": "Rui", "event": "sign_up"})
    tick(services)
    drain()
    assert [parse(m.raw)["Subject"] for m in outbox()] == ["Welcome to Brightline, Rui"]


def test_the_welcome_autoresponder_reaches_an_address_at_most_once_a_day(synced, api, client, services, session,
                                                                         drain, outbox, clock):
    """Posting the sign-up form again and again, or sending sign_up events, sends one welcome a day."""
    def welcomes():
        tick(services)
        drain()
        return [m for m in outbox() if m.subject.startswith("Welcome to Brightline")]

    sign_up = {"email": "dana@example.org", "first_name": "Dana", "event": "sign_up"}
    client.post("/f/newsletter", data=sign_up)
    assert len(welcomes()) == 1
    for _ in range(3):
        clock.advance(timedelta(minutes=10))
        client.post("/f/newsletter", data=sign_up)
        api.post("/api/v1/events", json={"email": "dana@example.org", "type": "sign_up"})
        assert len(welcomes()) == 1
    clock.advance(timedelta(days=1))
    api.post("/api/v1/events", json={"email": "dana@example.org", "type": "sign_up"})
    assert len(welcomes()) == 2


def test_a_held_form_is_exported_with_the_contact_and_erased_with_it(synced, api, api_key, client, session, drain,
                                                                   outbox):
    """What a form sent about a person is data about them: in their export, and gone with their erasure
    (the confirmation link then lands on the 'not valid' page)."""
    contact = _known(api, session)
    client.post("/f/contact-sales", data={"email": KNOWN["email"], "company": "Attacker Chosen Inc"})
    drain()
    path = _confirm_path(_confirmation_emails(outbox)[0])
    exported = api.get(f"/api/v1/contacts/{contact.id}/export").get_json()
    assert [row["fields"]["company"] for row in exported["form_confirmations"]] == ["Attacker Chosen Inc"]
    erased = client.delete(f"/api/v1/contacts/{contact.id}", headers={"Authorization": f"Bearer {api_key}"})
    assert erased.status_code == 200
    assert _count(session, FormConfirmation) == 0 and client.get(path).status_code == 404


def test_an_address_that_never_answers_stops_getting_confirmation_emails(synced, api, client, session, drain, outbox,
                                                                        clock):
    """Someone posting another person's address every day gets them three emails, not one a day forever;
    once the person confirms one, they hear from us again."""
    _known(api, session)
    for _ in range(5):
        client.post("/f/contact-sales", data={"email": KNOWN["email"], "company": "Daily Co"})
        clock.advance(timedelta(days=1, minutes=1))
    drain()
    emails = _confirmation_emails(outbox)
    assert len(emails) == 3
    assert client.post(_confirm_path(emails[-1])).status_code == 200
    client.post("/f/contact-sales", data={"email": KNOWN["email"], "company": "Daily Co"})
    drain()
    assert len(_confirmation_emails(outbox)) == 4
