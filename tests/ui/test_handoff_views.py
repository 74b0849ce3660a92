"""Handoffs through the test client: the lead report, accepting, rejecting, and who may do what."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from app.models import Contact, Feedback, Handoff

from .conftest import text_of


# Handoffs ---------------------------------------------------------------------------------------

def test_rep_reads_the_lead_report_and_accepts_with_a_rating(client, people, login, handoff, session):
    """The assigned rep sees why, the evidence and the timeline, accepts with 4 stars, and it shows."""
    login(people["rep"])
    listing = text_of(client.get("/handoffs"))
    assert "Your leads" in listing and "Priya Shah" in listing and "fast track" in listing
    report = text_of(client.get(f"/handoffs/{handoff.id}"))
    assert "Why this lead" in report and "fast track: demo request by a grade A contact" in report
    assert "Target industry" in report and "Pricing page visit" in report
    assert "Viewed https://www.brightline.example/pricing" in report
    assert "Accept lead" in report and "Not the decision maker" in report
    assert "Senior Controls Engineer" in report and "Buying in" in report  # the contact's profile
    response = client.post(f"/handoffs/{handoff.id}/respond",
                           data={"decision": "accept", "rating": "4", "comment": "Calling Monday."})
    assert response.status_code == 302
    page = text_of(client.get(response.headers["Location"]))
    assert "Lead accepted" in page and "badge-accepted" in page and "Calling Monday." in page
    assert "Accept lead" not in page
    session.expire_all()
    assert session.get(Handoff, handoff.id).status == "accepted"
    assert session.get(Contact, handoff.contact_id).stage == "sal"
    assert session.scalar(select(Feedback.rating)) == 4


def test_rejecting_needs_a_reason_and_then_records_it(client, people, login, handoff, session):
    """Reject without a reason is a 400 form error; with reasons the lead goes back to marketing."""
    login(people["rep"])
    refused = client.post(f"/handoffs/{handoff.id}/respond", data={"decision": "reject", "rating": "2"})
    assert refused.status_code == 400
    assert "say why the lead is rejected" in text_of(refused)
    assert 'value="2" checked' in refused.get_data(as_text=True)   # the form keeps what was entered
    response = client.post(f"/handoffs/{handoff.id}/respond",
                           data={"decision": "reject", "rating": "2", "reject_reasons": ["no budget", "bad timing"]})
    assert response.status_code == 302
    session.expire_all()
    assert session.get(Handoff, handoff.id).status == "rejected"
    assert session.get(Contact, handoff.contact_id).stage == "rejected"
    page = text_of(client.get(f"/handoffs/{handoff.id}"))
    assert "Rejected" in page and "no budget" in page and "bad timing" in page


def test_the_decision_form_offers_the_agreed_reasons(client, people, login, handoff, session, synced, clock):
    """The checkboxes are the agreement's lists, as edited; an accepted lead keeps its accept reasons."""
    from app.domain.qualification.agreement import apply_agreement, merged_with_current

    apply_agreement(synced, merged_with_current(synced, {"feedback": {
        "reject_reasons": ["wrong plant", "no budget"], "accept_reasons": ["retrofit planned"],
        "lost_reasons": ["price"]}}), clock.now())
    synced.commit()
    login(people["rep"])
    report = text_of(client.get(f"/handoffs/{handoff.id}"))
    assert 'name="reject_reasons" value="wrong plant"' in report and "Not the decision maker" not in report
    assert 'name="accept_reasons" value="retrofit planned"' in report
    response = client.post(f"/handoffs/{handoff.id}/respond",
                           data={"decision": "accept", "rating": "5", "accept_reasons": ["retrofit planned"]})
    assert response.status_code == 302
    session.expire_all()
    assert session.scalar(select(Feedback.reasons)) == ["retrofit planned"]
    assert "retrofit planned" in text_of(client.get(f"/handoffs/{handoff.id}"))


def test_answering_twice_is_a_conflict_not_an_error(client, people, login, handoff):
    """A second decision on an answered lead answers 409 with the reason, never a 500."""
    login(people["manager"])
    assert client.post(f"/handoffs/{handoff.id}/respond", data={"decision": "accept"}).status_code == 302
    again = client.post(f"/handoffs/{handoff.id}/respond", data={"decision": "reject", "reject_reasons": ["no need"]})
    assert again.status_code == 409 and "already accepted" in text_of(again)


@pytest.mark.parametrize("data,message", [
    ({"decision": "maybe"}, "Choose Accept or Reject"),
    ({"decision": "accept", "rating": "four"}, "number from 1 to 5"),
    ({"decision": "accept", "rating": "9"}, "must be between 1 and 5"),
    ({"decision": "reject", "reject_reasons": ["smells"]}, "unknown reason"),
    ({"decision": "accept", "reject_reasons": ["no budget"]}, "You ticked reasons to reject but chose Accept"),
    ({"decision": "reject", "accept_reasons": ["active project"]}, "You ticked reasons to accept but chose Reject"),
])
def test_bad_decision_input_is_a_form_error(client, people, login, handoff, data, message):
    """Malformed answers come back as a 400 with the message on the form."""
    login(people["rep"])
    response = client.post(f"/handoffs/{handoff.id}/respond", data=data)
    assert response.status_code == 400 and message in text_of(response)


def test_who_may_see_and_decide_a_handoff(client, people, login, handoff, make_user):
    """Another rep may not open it; marketing reads it but cannot decide; the manager can."""
    other = make_user("jordan.rep@nurture.test", "sales", name="Jordan Rep")
    login(other)
    assert client.get(f"/handoffs/{handoff.id}").status_code == 403
    assert "Priya" not in text_of(client.get("/handoffs"))
    assert client.post(f"/handoffs/{handoff.id}/respond", data={"decision": "accept"}).status_code == 403
    login(people["marketer"])
    page = text_of(client.get(f"/handoffs/{handoff.id}"))
    assert "Why this lead" in page and "Accept lead" not in page
    assert client.post(f"/handoffs/{handoff.id}/respond", data={"decision": "accept"}).status_code == 403
    login(people["manager"])
    assert "Accept lead" in text_of(client.get(f"/handoffs/{handoff.id}"))


def test_handoff_list_filters_by_status(client, people, login, handoff):
    """The status tabs filter; an unknown status is a 400."""
    login(people["manager"])
    assert "Priya" in text_of(client.get("/handoffs?status=pending"))
    assert "Priya" not in text_of(client.get("/handoffs?status=accepted"))
    assert client.get("/handoffs?status=lost-in-space").status_code == 400
