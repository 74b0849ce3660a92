"""Campaigns as files: validated whole, applied idempotently, versioned on change."""
from __future__ import annotations

import shutil

import pytest
from sqlalchemy import func, select

from app.domain.campaigns.sync import SyncError, sync_directory
from app.models import Campaign, Enrollment, Message, Persona, Step, StepVersion
from tests.conftest import ROOT
from tests.loop_steps import PRIYA, parse
from workers.scheduler import tick


@pytest.fixture
def library(tmp_path):
    target = tmp_path / "campaigns"
    shutil.copytree(ROOT / "campaigns", target)
    return target


def sync(session, services, clock, directory):
    counts = sync_directory(session, directory, templates_dir=ROOT / "templates",
                            postal_address=services.config.postal_address, now=clock.now())
    session.commit()
    return counts


def test_the_shipped_library_syncs_and_a_second_sync_changes_nothing(session, services, clock, library):
    """Three personas and their campaigns load; syncing the same files again is a no-op."""
    first = sync(session, services, clock, library)
    assert first["personas"] == 3 and first["campaigns"] >= 6
    assert sync(session, services, clock, library) == {"personas": 0, "campaigns": 0, "step_versions": 0, "agreement": 0}
    kinds = dict(session.execute(select(Campaign.slug, Campaign.kind)).all())
    assert kinds["welcome"] == "autoresponder" and kinds["recycle"] == "recycle" and kinds["engineer-nurture"] == "drip"


def test_every_problem_is_listed_with_file_and_line_and_nothing_is_applied(session, services, clock, library):
    """Broken files are reported as file:line: message, all at once, and the database is untouched."""
    (library / "engineer-nurture" / "02-sizing.md").write_text(
        "---\nsubject: Sizing\ndelay: 3 fortnights\n---\nHello\n")
    step = library / "buyer-nurture" / "01-lead-times.md"
    step.write_text(step.read_text() + "\n{% if contact.first_name %}unclosed\n")
    (library / "personas" / "engineer.yml").write_text("name: Engineer\nrules: {field: shoe_size, op: gte, value: 9}\n")
    with pytest.raises(SyncError) as raised:
        sync(session, services, clock, library)
    problems = "\n".join(raised.value.problems)
    assert f"{library}/engineer-nurture/02-sizing.md:2: must be a duration" in problems
    assert f"{library}/buyer-nurture/01-lead-times.md:" in problems and "endif" in problems
    assert f"{library}/personas/engineer.yml:2: rules: unknown field 'shoe_size'" in problems
    assert session.scalar(select(func.count()).select_from(Persona)) == 0


def test_persona_examples_are_checked_against_its_rules(session, services, clock, library):
    """A documented example that the rules contradict stops the sync."""
    path = library / "personas" / "buyer.yml"
    path.write_text(path.read_text().replace("matches: true", "matches: false", 1))
    with pytest.raises(SyncError) as raised:
        sync(session, services, clock, library)
    assert any("should not match but does" in p for p in raised.value.problems)


def test_editing_a_step_creates_a_version_and_in_flight_contacts_continue(session, services, clock, library, api,
                                                                          drain, outbox):
    """A contact already past step 1 gets the edited step 2; step 1's old version stays for history."""
    sync(session, services, clock, library)
    api.post("/api/v1/contacts", json={**PRIYA, "timezone": "America/New_York"})
    clock.set(session.scalar(select(Enrollment.next_due_at)))
    tick(services)
    drain()
    path = library / "engineer-nurture" / "02-sizing.md"
    text = path.read_text()
    front, body = text.split("\n---\n", 1)
    new_subject = "Sizing your axis, revised"
    front = "\n".join(f'subject: "{new_subject}"' if line.startswith("subject:") else line for line in front.splitlines())
    path.write_text(front + "\n---\n" + body)
    assert sync(session, services, clock, library)["step_versions"] == 1
    versions = session.scalars(select(StepVersion.version).join(Step, Step.id == StepVersion.step_id).where(Step.key == "02-sizing")).all()
    assert sorted(versions) == [1, 2]
    clock.set(session.scalar(select(Enrollment.next_due_at)))
    tick(services)
    drain()
    assert parse(outbox()[-1].raw)["Subject"] == new_subject
    assert session.scalar(select(func.count()).select_from(Message)) == 2


def test_a_step_without_valid_front_matter_or_with_a_missing_layout_is_refused(session, services, clock, library):
    """Missing subject, unknown layout and unknown condition are all named."""
    (library / "welcome" / "02-extra.md").write_text("---\nlayout: fancy\ncondition: maybe\n---\nHi\n")
    with pytest.raises(SyncError) as raised:
        sync(session, services, clock, library)
    text = "\n".join(raised.value.problems)
    assert "subject is required" in text and "layout 'fancy' not found" in text and "condition must be one of" in text


@pytest.mark.parametrize("layout", ["notices/handoff", "../email/default", "handoff"])
def test_a_notice_to_sales_is_not_a_campaign_layout(session, services, clock, library, layout):
    """The notices' own layouts (templates/email/notices/) and paths out of templates/email/ are refused."""
    (library / "welcome" / "02-extra.md").write_text(f"---\nsubject: Hi\nlayout: {layout}\n---\nHi\n")
    with pytest.raises(SyncError) as raised:
        sync(session, services, clock, library)
    assert f"layout {layout!r} not found" in "\n".join(raised.value.problems)


def test_removing_a_step_retires_it(session, services, clock, library):
    """A step file that disappears is kept for history but no longer sent."""
    sync(session, services, clock, library)
    (library / "recycle" / "03-check-back.md").unlink()
    sync(session, services, clock, library)
    step = session.scalar(select(Step).where(Step.key == "03-check-back"))
    assert step.active is False


def test_unknown_merge_fields_are_refused_with_their_line(session, services, clock, library):
    """A typo in a merge field is caught at sync, with the line it is on, not at send time."""
    (library / "welcome" / "01-welcome.md").write_text(
        "---\nsubject: Hi {{ contact.frist_name }}\n---\nHello\n\n{{ contatc.company }}\n")
    with pytest.raises(SyncError) as raised:
        sync(session, services, clock, library)
    text = "\n".join(raised.value.problems)
    assert f"{library}/welcome/01-welcome.md:2: unknown field contact.frist_name" in text
    assert f"{library}/welcome/01-welcome.md:6: unknown variable 'contatc'" in text


def test_a_layout_without_an_unsubscribe_link_is_refused(session, services, clock, library, tmp_path):
    """Every email must carry an unsubscribe link; a layout that drops it stops the sync."""
    templates = tmp_path / "templates"
    shutil.copytree(ROOT / "templates", templates)
    html = templates / "email" / "default.html"
    html.write_text(html.read_text().replace('<a href="{{ unsubscribe_url }}">Unsubscribe</a>', ""))
    with pytest.raises(SyncError) as raised:
        sync_directory(session, library, templates_dir=templates, postal_address="x", now=clock.now())
    assert any("has no unsubscribe link" in p for p in raised.value.problems)


def test_export_writes_files_that_sync_back_unchanged(session, services, clock, library, tmp_path):
    """What the database holds round-trips through files: re-syncing an export changes nothing."""
    from app.domain.campaigns.export import export_library

    sync(session, services, clock, library)
    exported = tmp_path / "exported"
    counts = export_library(session, exported)
    assert counts["personas"] == 3 and counts["steps"] >= 20
    assert (exported / "engineer-nurture" / "01-repeatability.md").read_text().startswith("---\nsubject:")
    assert sync(session, services, clock, exported) == {"personas": 0, "campaigns": 0, "step_versions": 0,
                                                        "agreement": 0}


def test_a_campaign_rate_limit_is_read_from_the_file_exported_and_validated(session, services, clock, library, tmp_path):
    """rate_per_minute in campaign.yml becomes the campaign's limit, survives an export, and a bad value is refused."""
    from app.domain.campaigns.export import export_library

    campaign_file = library / "buyer-nurture" / "campaign.yml"
    original = campaign_file.read_text()
    campaign_file.write_text(original + "rate_per_minute: 120\n")
    sync(session, services, clock, library)
    assert session.scalar(select(Campaign.rate_per_minute).where(Campaign.slug == "buyer-nurture")) == 120
    exported = tmp_path / "exported"
    export_library(session, exported)
    assert "rate_per_minute: 120" in (exported / "buyer-nurture" / "campaign.yml").read_text()

    campaign_file.write_text(original + "rate_per_minute: lots\n")
    with pytest.raises(SyncError) as raised:
        sync(session, services, clock, library)
    line = len(original.splitlines()) + 1
    assert f"{campaign_file}:{line}: rate_per_minute is a whole number of emails a minute" in "\n".join(raised.value.problems)
    assert session.scalar(select(Campaign.rate_per_minute).where(Campaign.slug == "buyer-nurture")) == 120
