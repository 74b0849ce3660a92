"""Step conditions, checked when a step comes due: skip or branch on what the contact did."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from app.domain.campaigns.sync import SyncError, sync_directory
from app.models import Enrollment, Message, Step
from tests.conftest import ROOT
from workers.scheduler import tick

PERSONA = "name: Everyone\nrules: {field: email, op: exists}\n"
CAMPAIGN = "name: Branching\nkind: drip\npersona: everyone\nstatus: active\n"


def step(subject, delay="0s", extra=""):
    return f"---\nsubject: {subject}\ndelay: {delay}\n{extra}---\nHello, see [pricing](https://www.example.com/pricing).\n"


@pytest.fixture
def library(tmp_path):
    root = tmp_path / "campaigns"
    (root / "personas").mkdir(parents=True)
    (root / "personas" / "everyone.yml").write_text(PERSONA)
    (root / "branching").mkdir()
    (root / "branching" / "campaign.yml").write_text(CAMPAIGN)
    return root


def sync(session, services, clock, root):
    sync_directory(session, root, templates_dir=ROOT / "templates", postal_address="1 Main St", now=clock.now())
    session.commit()


def run(services, session, clock, api, contact, events=()):
    api.post("/api/v1/contacts", json=contact)
    for event in events:
        assert api.post("/api/v1/events", json=event).status_code == 202
    for _ in range(6):
        tick(services)
        clock.advance(timedelta(days=1))
    session.expire_all()
    return [(m.subject or m.status, m.status) for m in session.scalars(select(Message).order_by(Message.id))]


def test_visited_pricing_skips_the_pricing_pitch(library, session, services, clock, api):
    """{not_visited: */pricing*}: a contact who already saw pricing does not get the pricing email."""
    (library / "branching" / "01-intro.md").write_text(step("Intro"))
    (library / "branching" / "02-pricing.md").write_text(step("Pricing", "1d", 'condition: {not_visited: "*/pricing*"}\n'))
    (library / "branching" / "03-case.md").write_text(step("Case study", "1d"))
    sync(session, services, clock, library)
    statuses = run(services, session, clock, api, {"email": "a@example.org"},
                   [{"email": "a@example.org", "type": "page_view", "url": "https://www.example.com/pricing"}])
    assert [s for _, s in statuses] == ["pending", "skipped", "pending"]


def test_field_condition_and_branch_jump_to_a_later_step(library, session, services, clock, api):
    """A field rule that fails with `otherwise` jumps ahead, skipping the steps in between."""
    (library / "branching" / "01-intro.md").write_text(step("Intro"))
    (library / "branching" / "02-enterprise.md").write_text(
        step("Enterprise", "1d", "condition: {field: company_size, op: gte, value: 1000}\notherwise: 04-small\n"))
    (library / "branching" / "03-enterprise-2.md").write_text(step("Enterprise 2", "1d"))
    (library / "branching" / "04-small.md").write_text(step("Small", "1d"))
    sync(session, services, clock, library)
    statuses = run(services, session, clock, api, {"email": "b@example.org", "company_size": 40})
    assert [s for _, s in statuses] == ["pending", "skipped", "pending"]
    keys = session.scalars(select(Step.key).join(Message, Message.step_id == Step.id).order_by(Message.id)).all()
    assert keys == ["01-intro", "02-enterprise", "04-small"]
    assert session.scalar(select(Enrollment.status)) == "completed"


def test_a_branch_to_an_unknown_or_earlier_step_is_refused(library, session, services, clock):
    """`otherwise` must name a later step; loops are impossible."""
    (library / "branching" / "01-intro.md").write_text(step("Intro"))
    (library / "branching" / "02-x.md").write_text(step("X", "1d", "condition: clicked_previous\notherwise: 01-intro\n"))
    with pytest.raises(SyncError) as raised:
        sync(session, services, clock, library)
    assert any("is not a later step" in p for p in raised.value.problems)


def test_a_malformed_condition_is_refused(library, session, services, clock):
    """Unknown condition shapes are listed with their file."""
    (library / "branching" / "01-intro.md").write_text(step("Intro", extra="condition: {visited: 3}\n"))
    with pytest.raises(SyncError) as raised:
        sync(session, services, clock, library)
    assert any("takes one URL pattern" in p for p in raised.value.problems)
