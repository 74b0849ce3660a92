"""YAML (the agreement editor, campaign files) is read as plain data: anchors and aliases, whose few
lines can expand to billions of values, are refused with a clear problem, and so is an oversized document."""
from __future__ import annotations

import shutil

import pytest

from app.domain.campaigns.sync import SyncError, sync_directory
from tests.conftest import ROOT

from .conftest import page

LAUGHS = "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n" + "".join(
    f"{chr(99 + i)}: &{chr(99 + i)} [{', '.join(['*' + chr(98 + i)] * 9)}]\n" for i in range(7))


@pytest.mark.parametrize("path", ["/agreement", "/agreement/whatif"])
def test_the_agreement_editor_refuses_anchors_and_aliases(client, login, people, synced, path):
    login(people["admin"])
    response = client.post(path, data={"agreement": "qualification:\n  min_score: &m 100\nfit:\n  grades: {A: *m}\n",
                                       "action": "check"})
    assert response.status_code == 400
    assert "line 2" in page(response) and "anchors and aliases (&name, *name) are not accepted" in page(response)


def test_a_billion_laughs_is_refused_at_once(client, login, people, synced):
    login(people["admin"])
    response = client.post("/agreement/whatif", data={"agreement": LAUGHS})
    assert response.status_code == 400 and "anchors and aliases" in page(response)


def test_an_oversized_or_too_deep_document_is_refused(client, login, people, synced):
    login(people["admin"])
    huge = client.post("/agreement/whatif", data={"agreement": "# " + "é" * 150_000})  # 300 kB in 150,000 characters
    assert huge.status_code == 400 and "longer than 256 kB" in page(huge)
    deep = client.post("/agreement/whatif", data={"agreement": "a: " + "[" * 500 + "]" * 500})
    assert deep.status_code == 400 and "nested more than 32 levels deep" in page(deep)
    digits = client.post("/agreement/whatif", data={"agreement": "qualification: {min_score: " + "9" * 5000 + "}"})
    assert digits.status_code == 400 and "cannot be read" in page(digits)


def test_the_what_if_page_refuses_a_window_at_year_1_or_9999(client, login, people, synced):
    login(people["admin"])
    for since in ("0001-01-01", "9999-12-31"):
        response = client.post("/agreement/whatif", data={"agreement": "{}", "since": since})
        assert response.status_code == 400 and "between the years 1900 and 2999" in page(response)


def test_campaign_files_with_an_alias_are_a_problem_with_file_and_line(session, services, clock, tmp_path):
    library = tmp_path / "campaigns"
    shutil.copytree(ROOT / "campaigns", library)
    persona = library / "personas" / "engineer.yml"
    persona.write_text("defaults: &d {field: title, op: contains, value: engineer}\n" + persona.read_text()
                       + "\nextra: *d\n")
    with pytest.raises(SyncError) as raised:
        sync_directory(session, library, templates_dir=ROOT / "templates",
                       postal_address=services.config.postal_address, now=clock.now())
    assert any(p.startswith(f"{persona}:1:") and "anchors and aliases" in p for p in raised.value.problems)
