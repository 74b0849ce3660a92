"""Bounce (DSN) and complaint (ARF) reports suppress the right contacts."""
from __future__ import annotations

from sqlalchemy import select

from app.models import Contact, Event
from tests.loop_steps import PRIYA, parse

DSN = """From: MAILER-DAEMON@mx.example.net
To: hello@nurture.example
Subject: Undelivered Mail Returned to Sender
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="BOUNDARY"

--BOUNDARY
Content-Type: text/plain

This is the mail system at host mx.example.net. I'm sorry to have to inform you that your message
could not be delivered to one or more recipients.

--BOUNDARY
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.net
Arrival-Date: Mon,  2 Mar 2026 09:00:02 +0000

Final-Recipient: rfc822; {address}
Original-Recipient: rfc822;{address}
Action: failed
Status: 5.1.1
Diagnostic-Code: smtp; 550 5.1.1 <{address}>: Recipient address rejected: User unknown

--BOUNDARY
Content-Type: text/rfc822-headers

Message-ID: {message_id}
Subject: Hello
--BOUNDARY--
"""

ARF = """From: feedback@isp.example
To: abuse@nurture.example
Subject: Abuse report
MIME-Version: 1.0
Content-Type: multipart/report; report-type=feedback-report; boundary="B2"

--B2
Content-Type: text/plain

This is an email abuse report for an email message received from IP 192.0.2.1.

--B2
Content-Type: message/feedback-report

Feedback-Type: abuse
User-Agent: SomeISP/1.0
Version: 1

--B2
Content-Type: message/rfc822

From: hello@nurture.example
To: someone@isp.example
Message-ID: {message_id}
Subject: Hello

Body
--B2--
"""


def _sent(synced, services, session, clock, api, drain, outbox):
    from app.models import Enrollment
    from workers.scheduler import tick

    contact_id = api.post("/api/v1/contacts", json=PRIYA).get_json()["id"]
    clock.set(session.scalar(select(Enrollment.next_due_at)))
    tick(services)
    drain()
    return contact_id, parse(outbox()[-1].raw)["Message-ID"]


def test_a_hard_bounce_report_suppresses_the_contact_and_marks_the_message(synced, services, session, clock, api,
                                                                          client, drain, outbox, api_key):
    """A DSN with 5.1.1 for our message bounces the contact and the message."""
    contact_id, message_id = _sent(synced, services, session, clock, api, drain, outbox)
    body = DSN.format(address=PRIYA["email"], message_id=message_id).replace("\n", "\r\n").encode()
    response = client.post("/api/v1/bounces", data=body, content_type="message/rfc822",
                           headers={"Authorization": f"Bearer {api_key}"})
    assert response.status_code == 200
    assert response.get_json()["hard"] == [PRIYA["email"]]
    session.expire_all()
    assert session.get(Contact, contact_id).email_status == "bounced"
    assert session.scalar(select(Event.message_id).where(Event.type == "bounce")) is not None


def test_a_complaint_suppresses_the_contact(synced, services, session, clock, api, client, drain, outbox, api_key):
    """An ARF abuse report for our message marks the contact complained: no more email."""
    contact_id, message_id = _sent(synced, services, session, clock, api, drain, outbox)
    body = ARF.format(message_id=message_id).replace("\n", "\r\n").encode()
    response = client.post("/api/v1/bounces", data=body, headers={"Authorization": f"Bearer {api_key}"})
    assert response.get_json()["complaints"] == [PRIYA["email"]]
    session.expire_all()
    assert session.get(Contact, contact_id).email_status == "complained"


def test_an_empty_report_is_a_clear_error(api):
    """No body: 422 naming it."""
    response = api.post("/api/v1/bounces", data=b"")
    assert response.status_code == 422 and response.get_json()["error"]["field"] == "body"
