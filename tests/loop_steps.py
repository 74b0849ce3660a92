"""The whole loop as reusable steps, run on the embedded default and on PostgreSQL + Redis + SMTP."""
from __future__ import annotations

import email
import re
from datetime import timedelta
from email import policy
from urllib.parse import urlsplit

from sqlalchemy import select

from app.models import Enrollment, EnrollmentStatus, Message, MessageKind, StageTransition
from workers.scheduler import tick

PRIYA = {"email": "priya.shah@acme-automation.example", "first_name": "Priya", "last_name": "Shah",
         "company": "Acme Automation", "title": "Senior Controls Engineer", "industry": "manufacturing",
         "company_size": 850, "budget": 60000, "timeline": "3 months", "country": "US",
         "timezone": "America/Chicago", "source": "webinar"}
BROWSER_UA = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15"


def parse(raw: bytes | str):
    if isinstance(raw, str):
        raw = raw.encode()
    return email.message_from_bytes(raw, policy=policy.default)


def parts(message) -> tuple[str, str]:
    html = message.get_body(("html",)).get_content()
    text = message.get_body(("plain",)).get_content()
    return html, text


def tracking_paths(html: str) -> tuple[str, list[str]]:
    """The open pixel's path and the click links' paths from a sent email."""
    pixel = re.search(r'src="(https://nurture\.test/t/o/[^"]+)"', html).group(1)
    clicks = re.findall(r'href="(https://nurture\.test/t/c/[^"]+)"', html)
    return urlsplit(pixel).path, [urlsplit(c).path for c in clicks]


def assert_nurture_email(message, to: str) -> None:
    assert message["To"] == to
    assert message["Message-ID"].startswith("<") and message["Message-ID"].endswith(">")
    assert message["Date"]
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    first = message["List-Unsubscribe"].split(",")[0].strip()
    assert first.startswith("<https://nurture.test/u/")
    html, text = parts(message)
    assert "Priya" in html and "Priya" in text            # merge field rendered
    assert "{{" not in html and "NURTURE" not in html      # no placeholder survived
    assert "style=" in html                               # premailer inlined the layout's CSS
    assert "https://nurture.test/t/c/" in text            # plain text carries tracked links too
    assert "<p>" not in text


def qualifying_events(email_address: str) -> list[dict]:
    """With a human open (5) and click (15): two pricing visits (50) and a form (30) make 100."""
    return [
        {"email": email_address, "type": "page_view", "url": "https://www.brightline.example/pricing"},
        {"email": email_address, "type": "page_view", "url": "https://www.brightline.example/pricing?plan=pro"},
        {"email": email_address, "type": "form_submitted", "url": "https://www.brightline.example/contact",
         "properties": {"form": "contact-sales"}},
    ]


def run_until_sent(services, clock, session, deliver):
    """Tick the scheduler, moving the clock to the next due time (send windows) if nothing is due."""
    for _ in range(3):
        planned = tick(services)["planned"]
        if planned:
            deliver()
            return planned
        due = session.scalar(select(Enrollment.next_due_at).where(Enrollment.status == EnrollmentStatus.ACTIVE)
                             .order_by(Enrollment.next_due_at))
        clock.set(due)
        session.expire_all()
    raise AssertionError("nothing became due")


def run_whole_loop(*, services, session, clock, api, client, make_user, deliver, delivered) -> None:
    """API contact → persona → drip → scheduler → RQ job → email → open and click → score →
    threshold → handoff with rep, report and notice → nurture stops. `deliver()` waits until queued
    jobs are done; `delivered()` lists the raw messages the mail sink holds."""
    rep_a = make_user("alex.rep@nurture.example")
    make_user("jordan.rep@nurture.example")

    created = api.post("/api/v1/contacts", json=PRIYA)
    assert created.status_code == 201, created.get_json()
    contact = created.get_json()
    assert (contact["persona"], contact["stage"], contact["grade"]) == ("engineer", "nurturing", "A")

    run_until_sent(services, clock, session, deliver)
    [sent] = delivered()
    message = parse(sent)
    assert message["Subject"] == "Priya, how repeatable is 5 µm?"
    assert_nurture_email(message, PRIYA["email"])
    html, _ = parts(message)
    pixel, clicks = tracking_paths(html)
    assert clicks

    clock.advance(timedelta(hours=2))  # a person reads later; instant clicks look like scanners
    assert client.get(pixel, headers={"User-Agent": BROWSER_UA}).status_code == 200
    redirect = client.get(clicks[0], headers={"User-Agent": BROWSER_UA})
    assert redirect.status_code == 302
    assert redirect.headers["Location"] == "https://www.brightline.example/resources/repeatability-test-report"
    engaged = api.get(f"/api/v1/contacts/{contact['id']}").get_json()
    assert engaged["score"] == 20
    assert {e["type"] for e in engaged["timeline"]} >= {"email_sent", "email_open", "email_click"}

    for event in qualifying_events(PRIYA["email"]):
        response = api.post("/api/v1/events", json=event)
        assert response.status_code == 202, response.get_json()

    qualified = api.get(f"/api/v1/contacts/{contact['id']}").get_json()
    assert (qualified["score"], qualified["stage"]) == (100, "handed_off")
    [handoff] = api.get("/api/v1/handoffs").get_json()["handoffs"]
    assert handoff["rep"]["email"] == rep_a.email
    assert handoff["reason"] == "score 100 ≥ 100 and grade A"
    report = handoff["report"]
    assert any(c["name"] == "Target industry" and c["value"] == "manufacturing" for c in report["fit"]["met"])
    assert sum(r["points"] for r in report["score"]["reasons"]) == 100
    assert any(e["type"] == "email_click" for e in report["timeline"])

    deliver()  # the rep's notice
    notice = parse(delivered()[-1])
    assert notice["To"] == rep_a.email
    assert notice["Subject"] == "New lead: Priya Shah at Acme Automation"
    assert f"https://nurture.test/handoffs/{handoff['id']}" in parts(notice)[1]

    # Nurture stops: weeks later nothing more is planned for her.
    clock.advance(timedelta(days=60))
    tick(services)
    deliver()
    # Only her one nurture email; the rep may meanwhile get the monthly review, depending on the date.
    assert [parse(m)["To"] for m in delivered()].count(PRIYA["email"]) == 1
    assert {parse(m)["To"] for m in delivered()} == {PRIYA["email"], rep_a.email}
    session.expire_all()
    nurture = session.scalars(select(Message).where(Message.contact_id == contact["id"],
                                                    Message.kind == MessageKind.NURTURE)).all()
    assert [m.status for m in nurture] == ["sent"]
    stages = session.scalars(select(StageTransition.to_value).where(
        StageTransition.contact_id == contact["id"], StageTransition.attribute == "stage")
        .order_by(StageTransition.id)).all()
    assert stages == ["nurturing", "mql", "handed_off"]
