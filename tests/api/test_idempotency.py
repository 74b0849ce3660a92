"""Idempotency-Key on POSTs: a replay answers the stored result without doing the work again; the same key
for another request is refused; keys belong to one API key and last 24 hours."""
from __future__ import annotations

from sqlalchemy import func, select

from app.models import Contact, Event


def _post(client, key, path, body, idempotency_key=None):
    headers = {"Authorization": f"Bearer {key}"}
    if idempotency_key is not None:
        headers["Idempotency-Key"] = idempotency_key
    return client.post(path, json=body, headers=headers)


def _count(session, model) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(model))


def test_a_replayed_contact_post_creates_one_contact_and_answers_the_same_body(client, api_key, session):
    body = {"email": "ana@example.org", "title": "Controls Engineer"}
    first = _post(client, api_key, "/api/v1/contacts", body, "crm-sync-0001")
    # changed in between: a replay must not redo the work (it would answer 200 with the new title)
    _post(client, api_key, "/api/v1/contacts", {"email": "ana@example.org", "title": "Head of Controls"})
    again = _post(client, api_key, "/api/v1/contacts", body, "crm-sync-0001")
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.get_data() == first.get_data() and again.get_json()["title"] == "Controls Engineer"
    assert again.headers["Idempotent-Replayed"] == "true" and "Idempotent-Replayed" not in first.headers
    assert _count(session, Contact) == 1
    assert session.scalar(select(Contact.title)) == "Head of Controls"


def test_the_same_key_with_another_body_is_refused(client, api_key, session):
    assert _post(client, api_key, "/api/v1/contacts", {"email": "a@example.org"}, "k-1").status_code == 201
    refused = _post(client, api_key, "/api/v1/contacts", {"email": "b@example.org"}, "k-1")
    assert refused.status_code == 422
    assert refused.get_json()["error"]["field"] == "Idempotency-Key"
    assert "different request" in refused.get_json()["error"]["message"]
    assert _post(client, api_key, "/api/v1/events", {"email": "a@example.org", "type": "page_view"},
                 "k-1").status_code == 422  # another path is another request
    assert _count(session, Contact) == 1


def test_a_replayed_batch_records_its_events_once(client, api_key, session):
    batch = {"events": [{"email": "a@example.org", "type": "page_view", "url": "https://a.example/pricing"}] * 3}
    first = _post(client, api_key, "/api/v1/events/batch", batch, "batch-7")
    again = _post(client, api_key, "/api/v1/events/batch", batch, "batch-7")
    assert first.status_code == again.status_code == 202 and again.get_json() == first.get_json()
    assert _count(session, Event) == 3


def test_a_refusal_is_replayed_too_and_a_bad_key_is_named(client, api_key):
    first = _post(client, api_key, "/api/v1/contacts", {"email": "a@example.org", "country": "USA"}, "r-1")
    again = _post(client, api_key, "/api/v1/contacts", {"email": "a@example.org", "country": "USA"}, "r-1")
    assert first.status_code == again.status_code == 422 and again.headers["Idempotent-Replayed"] == "true"
    bad = _post(client, api_key, "/api/v1/contacts", {"email": "a@example.org"}, "with space")
    assert bad.status_code == 422 and bad.get_json()["error"]["field"] == "Idempotency-Key"
    assert _post(client, api_key, "/api/v1/contacts", {"email": "a@example.org"}, "x" * 256).status_code == 422


def test_keys_belong_to_one_api_key_and_expire_after_a_day(client, api_key, session, clock):
    from app.domain.contacts.api_keys import issue_api_key

    _, other = issue_api_key(session, "other", clock.now())
    session.commit()
    assert _post(client, api_key, "/api/v1/contacts", {"email": "a@example.org"}, "shared").status_code == 201
    # another API key's "shared" is its own: the work is done (the contact exists, so 200)
    assert "Idempotent-Replayed" not in _post(client, other, "/api/v1/contacts", {"email": "a@example.org"},
                                               "shared").headers
    clock.advance(24 * 3600 + 1)
    later = _post(client, api_key, "/api/v1/contacts", {"email": "b@example.org"}, "shared")
    assert later.status_code == 201 and "Idempotent-Replayed" not in later.headers


def test_a_key_still_in_use_answers_409(client, api_key, session, clock):
    """While the first request with a key runs, a second one with it is told to retry, not run twice."""
    from app.domain.contacts import idempotency
    from app.domain.contacts.api_keys import hash_api_key
    from app.models import ApiKey

    body = {"email": "a@example.org"}
    print_ = idempotency.fingerprint("POST", "/api/v1/contacts", b"",
                                     client.application.json.dumps(body).encode())
    key_id = session.scalar(select(ApiKey.id).where(ApiKey.key_hash == hash_api_key(api_key)))
    idempotency.claim(session, key_id, "busy", print_, now=clock.now())
    session.commit()
    busy = client.post("/api/v1/contacts", data=client.application.json.dumps(body),
                       content_type="application/json",
                       headers={"Authorization": f"Bearer {api_key}", "Idempotency-Key": "busy"})
    assert busy.status_code == 409 and busy.get_json()["error"]["code"] == "conflict"
    assert _count(session, Contact) == 0
