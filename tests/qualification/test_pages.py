"""The agreement's pages: settings, what-if, evidence, follow-up with outcome and recycling, reviews."""
from __future__ import annotations


import pytest
from sqlalchemy import select

from app.domain.handoff.feedback import respond
from app.models import FitCriterion, Handoff

from .conftest import page, reload, words


@pytest.fixture
def handed(people, lead):
    return lead("priya@acme.example")


def test_marketer_reads_the_agreement_and_saves_a_change(client, login, people, synced):
    """The agreement page shows rules and criteria; a valid edit saves, a bad one lists every problem."""
    login(people["marketer"])
    shown = page(client.get("/agreement"))
    assert "score ≥ 100 and grade A or B" in words(client.get("/agreement"))
    assert "30+ page views in 30 days" in shown and "Target industry" in shown
    text = shown.split('name="agreement" rows="28" spellcheck="false" class="plain-text">')[1].split("</textarea>")[0]
    bad = client.post("/agreement", data={"agreement": text.replace("min_score: 100", "min_score: lots")
                                          .replace("sla_action: escalate", "sla_action: shrug"), "action": "save"})
    assert bad.status_code == 400
    assert "2 problems; nothing was saved." in page(bad) and "qualification.min_score" in page(bad)
    assert client.post("/agreement", data={"agreement": "qualification: [", "action": "save"}).status_code == 400
    checked = client.post("/agreement", data={"agreement": text, "action": "check"})
    assert checked.status_code == 200 and "No problems found" in page(checked)
    saved = client.post("/agreement", data={"agreement": text.replace("min_score: 100", "min_score: 120"),
                                            "action": "save"})
    assert saved.status_code == 302
    assert "score ≥ 120" in words(client.get("/agreement"))


def test_sales_may_not_open_or_change_the_agreement(client, login, people):
    """A rep is refused the agreement pages (403) but not their review."""
    login(people["rep"])
    assert client.get("/agreement").status_code == 403
    assert client.post("/agreement", data={"agreement": "{}"}).status_code == 403
    assert client.get("/agreement/whatif").status_code == 403
    assert client.get("/reviews").status_code == 302
    login(people["manager"])
    assert client.get("/agreement").status_code == 200
    assert client.post("/agreement", data={"agreement": "{}"}).status_code == 403


def test_whatif_replays_a_proposal_without_saving_it(client, login, people, handed, synced):
    """A stricter threshold replayed on history drops the real handoff; the agreement is unchanged."""
    login(people["marketer"])
    form = page(client.get("/agreement/whatif"))
    assert "Suggested from sales' feedback" in form
    result = client.post("/agreement/whatif", data={"agreement": "qualification:\n  min_score: 100\n  fast_track: []\n",
                                                    "since": "", "until": ""})
    text = words(result)
    assert result.status_code == 200 and "1 no longer handed off" in text and "Priya Shah" in text
    assert synced.scalar(select(FitCriterion.id)) is not None
    bad = client.post("/agreement/whatif", data={"agreement": "qualification:\n  grades: [Z]\n"})
    assert bad.status_code == 400 and "qualification.grades" in page(bad)
    assert client.post("/agreement/whatif", data={"agreement": "", "since": "yesterday"}).status_code == 400


def test_evidence_report_page(client, login, people, handed, synced, clock):
    """The evidence page lists each criterion met/missed with acceptance, and grades and score bands."""
    respond(synced, handed, people["rep"], accept=True, rating=4, reasons=[], comment="", now=clock.now())
    synced.commit()
    login(people["manager"])
    text = words(client.get("/reports/criteria"))
    assert "Target industry" in text and "100 % 1 of 1" in text and "not enough evidence" in text
    assert client.get("/reports/criteria?since=nope").status_code == 400


def test_rep_records_the_outcome_and_marketing_recycles_a_lost_lead(client, login, people, handed, synced, clock):
    """Accepted → won with amount on the follow-up page; errors are form errors; a lost lead is recycled."""
    respond(synced, handed, people["rep"], accept=True, rating=4, reasons=[], comment="", now=clock.now())
    synced.commit()
    login(people["rep"])
    follow = page(client.get(f"/handoffs/{handed.id}/follow-up"))
    assert "Record the outcome" in follow and "Audit trail" in follow and "Assigned" in follow
    refused = client.post(f"/handoffs/{handed.id}/outcome", data={"outcome": "won", "amount": "lots"})
    assert refused.status_code == 400 and "Amount: must be a whole number" in page(refused)
    lost = client.post(f"/handoffs/{handed.id}/outcome", data={"outcome": "lost", "reason": "price"})
    assert lost.status_code == 302
    assert reload(synced, handed).outcome == "lost"
    again = client.post(f"/handoffs/{handed.id}/outcome", data={"outcome": "won", "amount": "5"})
    assert again.status_code == 409
    login(people["marketer"])
    assert "Recycle this lead" in page(client.get(f"/handoffs/{handed.id}/follow-up"))
    assert client.post(f"/handoffs/{handed.id}/outcome", data={"outcome": "won"}).status_code == 403
    assert client.post(f"/handoffs/{handed.id}/recycle").status_code == 302
    assert reload(synced, handed.contact).stage == "nurturing"


def test_monthly_review_page_lists_leads_and_missing_feedback(client, login, people, handed, synced, clock, make_user):
    """The rep's review shows the month's lead and what is missing; other reps may not open it."""
    month = f"{handed.assigned_at:%Y-%m}"
    login(people["rep"])
    text = words(client.get(f"/reviews/{people['rep'].id}/{month}"))
    assert "Priya Shah" in text and "accept or reject, rating" in text
    assert client.get(f"/reviews/{people['rep'].id}/2026-13").status_code == 400
    other = make_user("jordan@nurture.test", "sales", name="Jordan")
    login(other)
    assert client.get(f"/reviews/{people['rep'].id}/{month}").status_code == 403
    login(people["manager"])
    listing = page(client.get(f"/reviews?month={month}"))
    assert "Alex" in listing and "Jordan" in listing


def test_a_replayed_proposal_can_be_saved_from_the_whatif_page(client, login, people, handed, synced):
    """After the replay, the marketer can adopt the proposal in one step; only then does it change."""
    login(people["marketer"])
    replayed = page(client.post("/agreement/whatif", data={"agreement": "qualification:\n  min_score: 140\n"}))
    assert "Save this proposal as the agreement" in replayed
    assert synced.scalar(select(Handoff.id)) is not None
    saved = client.post("/agreement", data={"agreement": "qualification:\n  min_score: 140\n", "action": "save"})
    assert saved.status_code == 302
    assert "score ≥ 140 and grade A or B" in words(client.get("/agreement"))
