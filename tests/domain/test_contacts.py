"""Contact input: parse_contact, parse_timeline and normalise_email."""
from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from app.domain.contacts.records import ALLOWED, normalise_email, parse_contact, parse_timeline
from app.domain.errors import ValidationError

FAST = settings(max_examples=150, deadline=None)


def refused(data, **kw) -> str:
    with pytest.raises(ValidationError) as err:
        parse_contact(data, **kw)
    return err.value.field


# --- valid input is normalised ----------------------------------------------------------------------

def test_a_full_contact_is_normalised():
    """Email lower-cased, industry slugged, country upper-cased, text trimmed, numbers and timeline read."""
    parsed = parse_contact({
        "email": "  Ada.Lovelace@ACME.Example ", "first_name": " Ada ", "last_name": "Lovelace",
        "company": "Acme", "title": "Controls Engineer", "source": "webinar",
        "industry": "Medical Devices", "company_size": "250", "budget": 12000, "timeline": "3 months",
        "country": "de", "timezone": "Europe/Berlin", "fields": {"department": "R&D", "seats": 12, "vip": True},
    })
    assert parsed == {
        "email": "ada.lovelace@acme.example", "first_name": "Ada", "last_name": "Lovelace", "company": "Acme",
        "title": "Controls Engineer", "source": "webinar", "industry": "medical_devices", "company_size": 250,
        "budget": 12000, "timeline_months": 3, "country": "DE", "timezone": "Europe/Berlin",
        "fields": {"department": "R&D", "seats": 12, "vip": True},
    }


@pytest.mark.parametrize("industry, slug", [
    ("Medical Devices", "medical_devices"), ("Food & Beverage", "food_beverage"),
    ("  Semiconductors ", "semiconductors"), ("packaging", "packaging"), ("Aero-Space / Defence", "aero_space_defence"),
])
def test_industry_is_slugged(industry, slug):
    """Industries are stored as lower-case slugs so rules can match them."""
    assert parse_contact({"email": "a@b.example", "industry": industry})["industry"] == slug


@pytest.mark.parametrize("industry", ["---", " & ", "/"])
def test_an_industry_without_letters_or_digits_is_cleared(industry):
    """An industry that slugs to nothing is stored as no industry, not an empty slug."""
    assert parse_contact({"email": "a@b.example", "industry": industry})["industry"] is None


@pytest.mark.parametrize("value, months", [
    ("3 months", 3), ("3", 3), (3, 3), ("6 weeks", 2), ("6w", 2), ("1 year", 12), ("2y", 24), ("10 days", 1),
    ("0 days", 0), ("now", 0), ("ASAP", 0), ("Immediately", 0), ("12 Months", 12), (None, None), ("", None),
])
def test_timeline_reads_months_weeks_years_and_now(value, months):
    """Timelines in months, weeks, days or years become whole months; 'now' is 0."""
    assert parse_timeline(value) == months


def test_timeline_months_key_is_accepted_too():
    """Either 'timeline' or 'timeline_months' fills timeline_months."""
    assert parse_contact({"email": "a@b.example", "timeline_months": "1 year"})["timeline_months"] == 12


def test_empty_optional_values_become_none():
    """Empty strings and nulls clear optional fields instead of failing."""
    parsed = parse_contact({"email": "a@b.example", "first_name": "", "company_size": "", "country": None,
                            "timezone": "", "industry": None})
    assert parsed == {"email": "a@b.example", "first_name": None, "company_size": None, "country": None,
                      "timezone": None, "industry": None}


def test_partial_updates_need_no_email():
    """A partial update checks only the fields it carries."""
    assert parse_contact({"title": "CTO"}, partial=True) == {"title": "CTO"}
    assert refused({"email": "nope"}, partial=True) == "email"


# --- invalid input names the field ------------------------------------------------------------------

@pytest.mark.parametrize("data, field", [
    ({}, "email"),
    ({"email": None}, "email"),
    ({"email": "   "}, "email"),
    ({"email": 42}, "email"),
    ({"email": "not-an-email"}, "email"),
    ({"email": "a@b"}, "email"),
    ({"email": "a b@c.example"}, "email"),
    ({"email": "a@-b.example"}, "email"),
    ({"email": "a\x00b@c.example"}, "email"),
    ({"email": "a@b.example", "colour": "red"}, "colour"),
    ({"email": "a@b.example", "company_size": -5}, "company_size"),
    ({"email": "a@b.example", "company_size": "-5"}, "company_size"),
    ({"email": "a@b.example", "company_size": "ten"}, "company_size"),
    ({"email": "a@b.example", "company_size": 12.5}, "company_size"),
    ({"email": "a@b.example", "company_size": True}, "company_size"),
    ({"email": "a@b.example", "company_size": "²"}, "company_size"),
    ({"email": "a@b.example", "company_size": "1" * 5000}, "company_size"),
    ({"email": "a@b.example", "budget": 10**13}, "budget"),
    ({"email": "a@b.example", "timeline": "soon"}, "timeline"),
    ({"email": "a@b.example", "timeline": "-3 months"}, "timeline"),
    ({"email": "a@b.example", "timeline": "²"}, "timeline"),
    ({"email": "a@b.example", "country": "USA"}, "country"),
    ({"email": "a@b.example", "country": "U1"}, "country"),
    ({"email": "a@b.example", "country": 49}, "country"),
    ({"email": "a@b.example", "timezone": "Mars/Base"}, "timezone"),
    ({"email": "a@b.example", "timezone": "America"}, "timezone"),
    ({"email": "a@b.example", "timezone": "../../etc/passwd"}, "timezone"),
    ({"email": "a@b.example", "fields": ["a"]}, "fields"),
    ({"email": "a@b.example", "fields": {"bad key": 1}}, "fields.bad key"),
    ({"email": "a@b.example", "fields": {"1st": 1}}, "fields.1st"),
    ({"email": "a@b.example", "fields": {"team": {"name": "x"}}}, "fields.team"),
    ({"email": "a@b.example", "fields": {"tags": ["a", "b"]}}, "fields.tags"),
    ({"email": "a@b.example", "fields": {"notes": "x" * 2001}}, "fields.notes"),
    ({"email": "a@b.example", "first_name": "Ada\r\nBcc: x@evil.example"}, "first_name"),
    ({"email": "a@b.example", "company": "Acme\n"}, "company"),
    ({"email": "a@b.example", "title": "\rCTO"}, "title"),
    ({"email": "a@b.example", "last_name": 7}, "last_name"),
    ({"email": "a@b.example", "source": "x" * 201}, "source"),
])
def test_each_invalid_field_is_refused_by_name(data, field):
    """Every invalid value raises a ValidationError whose field names what is wrong."""
    assert refused(data) == field


def test_a_body_that_is_not_an_object_is_refused():
    """A JSON list or string instead of an object is refused as 'body'."""
    assert refused(["a@b.example"]) == "body"
    assert refused("a@b.example") == "body"


def test_normalise_email_lower_cases_and_trims():
    """normalise_email trims surrounding space and lower-cases the address."""
    assert normalise_email("  Grace.Hopper+news@Navy.MIL.example ") == "grace.hopper+news@navy.mil.example"


# --- properties -------------------------------------------------------------------------------------

@FAST
@given(st.text(max_size=20), st.sampled_from(["\r", "\n", "\r\n"]), st.text(max_size=20))
def test_any_line_break_in_a_name_is_refused(before, line_break, after):
    """A first name containing CR or LF anywhere, even at the edges, is refused (no header injection)."""
    assert refused({"email": "a@b.example", "first_name": before + line_break + after}) == "first_name"


json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.integers(-10**30, 10**30), st.floats(allow_nan=False),
              st.text(max_size=12), st.sampled_from(["now", "3 months", "DE", "Europe/Berlin", "²", "a@b.example"])),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=6), inner, max_size=3)),
    max_leaves=10)
contact_like = st.dictionaries(st.one_of(st.sampled_from(sorted(ALLOWED)), st.text(max_size=8)), json_values, max_size=6)


@FAST
@given(st.one_of(contact_like, json_values), st.booleans())
def test_parse_only_ever_raises_validation_errors(data, partial):
    """Whatever JSON arrives, parse_contact returns fields or raises a ValidationError naming a field."""
    try:
        parse_contact(data, partial=partial)
    except ValidationError as err:
        assert isinstance(err.field, str)


@FAST
@given(st.fixed_dictionaries({"email": st.emails()}, optional={
    name: json_values for name in sorted(ALLOWED - {"email"})}))
def test_parsing_parsed_fields_again_changes_nothing(data):
    """A parsed contact parses to itself: normalisation is stable when the record is saved again."""
    try:
        parsed = parse_contact(data)
    except ValidationError:
        return
    assert parse_contact(parsed) == parsed
    assert parsed["email"] == parsed["email"].strip().lower()


@FAST
@given(st.emails())
def test_ordinary_addresses_are_accepted_and_lower_cased(email):
    """Well-formed addresses are accepted as their lower-case form."""
    assert normalise_email(email.upper()) == email.lower()
