"""Sessions end when they should (deactivation, sign-out, a new password), sign-in failures are
throttled per account and per address, and an unknown email costs the same hash check as a known one."""
from __future__ import annotations

from datetime import timedelta

import pytest
from werkzeug import security

from app.domain.contacts.users import set_active
from app.models import user as user_model
from tests.ui.conftest import PASSWORD, csrf_token, text_of

NEW_PASSWORD = "a-much-longer-secret"


def sign_in(client, email, password=PASSWORD, address="127.0.0.1"):
    return client.post("/login", data={"email": email, "password": password}, environ_base={"REMOTE_ADDR": address})


def signed_in(client) -> bool:
    """Whether the browser still gets a signed-in page rather than the sign-in form."""
    return client.get("/contacts").status_code == 200


def copy_of(client, app):
    """A second browser holding an exact copy of this one's session cookie."""
    other = app.test_client()
    other.set_cookie("session", client.get_cookie("session").value)
    return other


def test_a_deactivated_user_is_signed_out_at_the_next_request(client, people, login, session):
    """An admin deactivates a signed-in rep; the rep's very next page is the sign-in form."""
    login(people["rep"])
    assert client.get("/dashboard").status_code == 200
    set_active(session, people["rep"].email, False)
    session.commit()
    page = client.get("/dashboard")
    assert page.status_code == 302 and "/login" in page.headers["Location"]
    assert sign_in(client, people["rep"].email).status_code == 401


def test_reactivating_does_not_bring_old_sessions_back(client, people, login, session):
    login(people["rep"])
    set_active(session, people["rep"].email, False)
    session.commit()
    set_active(session, people["rep"].email, True)
    session.commit()
    assert not signed_in(client)
    login(people["rep"])
    assert signed_in(client)


def test_a_cookie_copied_before_sign_out_stops_working(app, client, people, login):
    """Sign-out ends every session of the user: a stolen copy of the cookie and another browser too."""
    login(people["marketer"])
    stolen = copy_of(client, app)
    laptop = app.test_client()
    assert sign_in(laptop, people["marketer"].email).status_code == 302
    assert signed_in(stolen) and signed_in(laptop)
    client.post("/logout")
    assert not signed_in(client)
    assert not signed_in(stolen)
    assert not signed_in(laptop)
    assert sign_in(laptop, people["marketer"].email).status_code == 302 and signed_in(laptop)


def test_changing_the_password_keeps_this_session_and_ends_the_others(app, client, people, login):
    login(people["rep"])
    account = text_of(client.get("/dashboard"))
    assert 'href="/account"' in account
    other = app.test_client()
    assert sign_in(other, people["rep"].email).status_code == 302

    def change(current, new, again):
        return client.post("/account/password", data={"current_password": current, "new_password": new,
                                                        "new_password_again": again})

    wrong = change("not-my-password", NEW_PASSWORD, NEW_PASSWORD)
    assert wrong.status_code == 400 and "Current password is wrong." in text_of(wrong)
    short = change(PASSWORD, "short", "short")
    assert short.status_code == 400 and "New password must be at least 8 characters." in text_of(short)
    mismatch = change(PASSWORD, NEW_PASSWORD, NEW_PASSWORD + "!")
    assert mismatch.status_code == 400 and "The repeated new password does not match." in text_of(mismatch)
    assert signed_in(other)

    done = change(PASSWORD, NEW_PASSWORD, NEW_PASSWORD)
    assert done.status_code == 302
    page = client.get("/account")
    assert page.status_code == 200 and "Your password is changed." in text_of(page)
    assert not signed_in(other)
    assert sign_in(other, people["rep"].email, PASSWORD).status_code == 401
    assert sign_in(other, people["rep"].email, NEW_PASSWORD).status_code == 302


def test_the_password_form_needs_its_csrf_token(client, people):
    """Forms carry a CSRF token; a forged post (no token) changes nothing."""
    page = client.get("/login").get_data(as_text=True)
    client.post("/login", data={"email": people["rep"].email, "password": PASSWORD, "csrf_token": csrf_token(page)})
    forged = client.post("/account/password", data={"current_password": PASSWORD, "new_password": NEW_PASSWORD,
                                                     "new_password_again": NEW_PASSWORD})
    assert forged.status_code == 400
    form = client.get("/account").get_data(as_text=True)
    real = client.post("/account/password", data={"current_password": PASSWORD, "new_password": NEW_PASSWORD,
                                                   "new_password_again": NEW_PASSWORD, "csrf_token": csrf_token(form)})
    assert real.status_code == 302


def test_five_failures_block_the_account_for_a_while(app, client, people, no_csrf, clock):
    """After 5 wrong passwords in 15 minutes even the right one is refused (429), with a clear message;
    other accounts are unaffected, and the block ends by itself."""
    rep = people["rep"].email
    for _ in range(5):
        assert sign_in(client, rep, "wrong-password").status_code == 401
    blocked = sign_in(client, rep)
    assert blocked.status_code == 429 and int(blocked.headers["Retry-After"]) > 0
    assert "Too many failed sign-ins for this account. Please try again in 15 minutes." in text_of(blocked)
    assert sign_in(app.test_client(), rep, address="198.51.100.7").status_code == 429  # wherever it comes from
    assert sign_in(app.test_client(), people["marketer"].email).status_code == 302
    clock.advance(timedelta(minutes=15, seconds=1))
    assert sign_in(client, rep).status_code == 302


def test_a_success_resets_the_account_count(client, people, no_csrf):
    rep = people["rep"].email
    for _ in range(4):
        assert sign_in(client, rep, "wrong-password").status_code == 401
    assert sign_in(client, rep).status_code == 302
    for _ in range(4):
        assert sign_in(client, rep, "wrong-password").status_code == 401
    assert sign_in(client, rep).status_code == 302


def test_twenty_failures_from_one_address_block_that_address(app, client, people, no_csrf, clock):
    """Guessing across many emails from one address: the 21st attempt is refused, from that address only."""
    for n in range(20):
        assert sign_in(client, f"guess{n}@nurture.test", "wrong-password", address="203.0.113.9").status_code == 401
    refused = sign_in(client, people["rep"].email, address="203.0.113.9")
    assert refused.status_code == 429 and "Too many failed sign-ins for your network." in text_of(refused)
    assert sign_in(app.test_client(), people["rep"].email, address="203.0.113.10").status_code == 302
    clock.advance(timedelta(minutes=16))
    assert sign_in(app.test_client(), people["rep"].email, address="203.0.113.9").status_code == 302


@pytest.fixture
def hash_checks(monkeypatch):
    calls = []
    real = security.check_password_hash

    def counting(pwhash, password):
        calls.append(pwhash)
        return real(pwhash, password)
    monkeypatch.setattr(security, "check_password_hash", counting)
    monkeypatch.setattr(user_model, "check_password_hash", counting, raising=False)  # if imported by name
    return calls


def test_an_unknown_email_costs_the_same_hash_check_as_a_known_one(client, people, no_csrf, hash_checks, session):
    """The answer's time must not tell whether an email has an account: one check of a hash of the same
    kind for a known email, an unknown one and a deactivated user."""
    set_active(session, people["manager"].email, False)
    session.commit()
    for email in (people["rep"].email, "nobody@nurture.test", people["manager"].email):
        hash_checks.clear()
        assert sign_in(client, email, "wrong-password").status_code == 401
        assert len(hash_checks) == 1, email
        assert hash_checks[0].split("$")[0] == people["rep"].password_hash.split("$")[0]
