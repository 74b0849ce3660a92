"""The rules engine behind personas, segments and fit criteria."""
from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from app.domain.contacts.rules import CONTACT_FIELDS, OPERATORS, describe, evaluate, validate

CONTACT = {
    "email": "ada@acme.example", "email_domain": "acme.example", "first_name": "Ada", "last_name": "Lovelace",
    "company": "Acme Packaging", "title": "Senior Controls Engineer", "industry": "packaging",
    "company_size": 300, "budget": 25000, "timeline_months": 3, "country": "DE", "timezone": "Europe/Berlin",
    "source": "", "fields": {"department": "R&D", "seats": "12", "empty": None},
}


def holds(field, op, value=None, fields=CONTACT):
    rule = {"field": field, "op": op} if value is None else {"field": field, "op": op, "value": value}
    assert validate(rule) == [], validate(rule)
    return evaluate(rule, fields)


@pytest.mark.parametrize("field, op, value, expected", [
    ("industry", "eq", "packaging", True),
    ("industry", "eq", "automotive", False),
    ("company_size", "eq", "300", True),
    ("industry", "ne", "automotive", True),
    ("industry", "ne", "packaging", False),
    ("country", "in", ["US", "DE", "AT"], True),
    ("country", "in", ["US", "GB"], False),
    ("country", "not_in", ["US", "GB"], True),
    ("country", "not_in", ["DE"], False),
    ("title", "contains_any", ["architect", "engineer"], True),
    ("title", "contains_any", ["director", "cfo"], False),
    ("email_domain", "ends_with_any", [".de", ".example"], True),
    ("email_domain", "ends_with_any", [".de", ".at"], False),
    ("company_size", "gte", 300, True),
    ("company_size", "gte", 301, False),
    ("company_size", "gt", 299, True),
    ("company_size", "gt", 300, False),
    ("company_size", "lte", 300, True),
    ("company_size", "lte", 299, False),
    ("company_size", "lt", 301, True),
    ("company_size", "lt", 300, False),
    ("company_size", "between", [50, 300], True),
    ("company_size", "between", [300, 5000], True),
    ("company_size", "between", [301, 5000], False),
    ("budget", "gte", "10000", True),
    ("title", "exists", None, True),
    ("source", "exists", None, False),
    ("source", "not_exists", None, True),
    ("title", "not_exists", None, False),
])
def test_each_operator_decides_as_documented(field, op, value, expected):
    """Every operator gives the documented answer on an ordinary contact."""
    assert holds(field, op, value) is expected


def test_every_operator_is_covered_by_the_table():
    """The operator table above exercises every operator the engine offers."""
    assert set(OPERATORS) == {"eq", "ne", "in", "not_in", "contains_any", "ends_with_any", "gte", "gt",
                              "lte", "lt", "between", "exists", "not_exists"}


@pytest.mark.parametrize("field, op, value", [
    ("industry", "eq", "PACKAGING"),
    ("country", "in", ["de"]),
    ("title", "contains_any", ["ENGINEER"]),
    ("email_domain", "ends_with_any", [".EXAMPLE"]),
    ("fields.department", "eq", "r&d"),
])
def test_text_comparisons_ignore_case(field, op, value):
    """Text operators match regardless of upper or lower case."""
    assert holds(field, op, value)


def test_contains_any_matches_inside_words():
    """contains_any is a substring match: 'engineer' matches 'Engineering Manager'."""
    assert holds("title", "contains_any", ["engineer"], {"title": "Engineering Manager"})


@pytest.mark.parametrize("op, value", [
    ("eq", "x"), ("in", ["x", "none"]), ("contains_any", ["x", ""]), ("ends_with_any", ["x", ""]),
    ("gte", 0), ("gt", -1), ("lte", 10**9), ("lt", 10**9), ("between", [-10**9, 10**9]), ("exists", None),
])
@pytest.mark.parametrize("missing", [{}, {"title": None}, {"title": ""}])
def test_missing_field_never_matches_a_positive_operator(op, value, missing):
    """A contact without the field (absent, None or empty) never matches a positive condition."""
    assert holds("title", op, value, missing) is False


@pytest.mark.parametrize("op, value", [("ne", "x"), ("not_in", ["x"]), ("not_exists", None)])
def test_missing_field_matches_negative_operators(op, value):
    """ne, not_in and not_exists hold for a contact without the field."""
    assert holds("budget", op, value, {}) is True


@pytest.mark.parametrize("value", ["many", "", None, True])
def test_numeric_operators_are_false_on_non_numbers(value):
    """gte/between never match a field value that is not a number."""
    fields = {"company_size": value}
    assert not holds("company_size", "gte", 0, fields)
    assert not holds("company_size", "between", [-1, 1], fields)


def test_custom_fields_are_read_through_fields_prefix():
    """'fields.x' reads the custom field x; an unknown custom field is simply missing."""
    assert holds("fields.department", "eq", "R&D")
    assert holds("fields.seats", "gte", 10)
    assert not holds("fields.nope", "exists")
    assert not holds("fields.empty", "exists")
    assert holds("fields.department", "exists", None, {"fields": {"department": "Ops"}})
    assert not holds("fields.department", "exists", None, {"email": "a@b.example"})


def test_nested_all_any_not_trees_combine_conditions():
    """all/any/not combine as documented in the campaign README example."""
    rule = {"all": [
        {"field": "industry", "op": "in", "value": ["packaging", "food_and_beverage"]},
        {"any": [{"field": "company_size", "op": "gte", "value": 200},
                 {"field": "budget", "op": "gte", "value": 50000}]},
        {"not": {"field": "email_domain", "op": "ends_with_any", "value": ["gmail.com", "outlook.com"]}},
    ]}
    assert validate(rule) == []
    assert evaluate(rule, CONTACT)
    assert not evaluate(rule, {**CONTACT, "email_domain": "gmail.com"})
    assert not evaluate(rule, {**CONTACT, "company_size": 10, "budget": 100})
    assert evaluate(rule, {**CONTACT, "company_size": 10, "budget": 60000})
    assert not evaluate(rule, {**CONTACT, "industry": "automotive"})


def test_not_of_a_missing_field_condition_is_true():
    """A condition on a missing field is false, so under not it is true."""
    assert evaluate({"not": {"field": "budget", "op": "gte", "value": 1}}, {})


# --- validation -------------------------------------------------------------------------------------

@pytest.mark.parametrize("rule, fragment", [
    ({"field": "colour", "op": "eq", "value": "red"}, "rules: unknown field 'colour'"),
    ({"field": "title", "op": "like", "value": "x"}, "rules: unknown op 'like'"),
    ({"field": "title", "op": "in", "value": "engineer"}, "op in needs a non-empty list value"),
    ({"field": "title", "op": "not_in", "value": []}, "op not_in needs a non-empty list value"),
    ({"field": "title", "op": "contains_any", "value": "x"}, "op contains_any needs a non-empty list value"),
    ({"field": "title", "op": "ends_with_any", "value": None}, "op ends_with_any needs a non-empty list value"),
    ({"field": "budget", "op": "gte", "value": "lots"}, "op gte needs a number value"),
    ({"field": "budget", "op": "lt", "value": True}, "op lt needs a number value"),
    ({"field": "budget", "op": "between", "value": [10]}, "op between needs [low, high]"),
    ({"field": "budget", "op": "between", "value": [10, "x"]}, "op between needs [low, high]"),
    ({"field": "budget", "op": "between", "value": [100, 10]}, "op between needs [low, high]"),
    ({"field": "budget", "op": "between", "value": "10-100"}, "op between needs [low, high]"),
    ({"field": "title", "op": "eq", "value": ["a"]}, "op eq needs a single value"),
    ({"field": "title", "op": "ne"}, "op ne needs a single value"),
    ({"all": []}, "rules.all: must be a non-empty list of rules"),
    ({"any": "x"}, "rules.any: must be a non-empty list of rules"),
    ("industry = packaging", "rules: must be a mapping"),
])
def test_validate_explains_each_problem_readably(rule, fragment):
    """Each kind of mistake produces a message that says what is wrong and where."""
    errors = validate(rule)
    assert any(fragment in e for e in errors), errors


def test_validate_names_the_path_of_a_nested_problem():
    """Errors in a tree say which branch they are in."""
    rule = {"all": [{"field": "title", "op": "exists"},
                    {"not": {"field": "title", "op": "like", "value": "x"}},
                    {"any": [{"field": "shoe_size", "op": "gt", "value": 40}]}]}
    errors = validate(rule, "persona.rules")
    assert any(e.startswith("persona.rules.all[1].not: unknown op 'like'") for e in errors), errors
    assert any(e.startswith("persona.rules.all[2].any[0]: unknown field 'shoe_size'") for e in errors), errors
    assert len(errors) == 2


def test_validate_lists_the_allowed_fields_and_ops():
    """Unknown-field and unknown-op messages tell the author what they may use instead."""
    [field_error] = validate({"field": "colour", "op": "eq", "value": "x"})
    assert "fields.<custom>" in field_error and "company_size" in field_error
    [op_error] = validate({"field": "title", "op": "like", "value": "x"})
    assert "contains_any" in op_error and "between" in op_error


@pytest.mark.parametrize("rule", [
    {"field": "title", "op": "contains_any", "value": ["engineer"]},
    {"field": "fields.department", "op": "eq", "value": "R&D"},
    {"field": "company_size", "op": "between", "value": [50, 50]},
    {"field": "budget", "op": "gte", "value": "10000"},
    {"field": "source", "op": "not_exists"},
    {"not": {"any": [{"field": "country", "op": "in", "value": ["US"]},
                     {"all": [{"field": "budget", "op": "lt", "value": 5.5}]}]}},
])
def test_validate_accepts_valid_trees(rule):
    """Well-formed rules produce no errors."""
    assert validate(rule) == []


# --- describe ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("condition, words", [
    ({"field": "company_size", "op": "between", "value": [50, 5000]}, "company_size between 50 and 5000"),
    ({"field": "title", "op": "contains_any", "value": ["engineer", "architect"]},
     "title contains any engineer, architect"),
    ({"field": "country", "op": "not_in", "value": ["US", "CA"]}, "country not in US, CA"),
    ({"field": "budget", "op": "gte", "value": 10000}, "budget gte 10000"),
    ({"field": "industry", "op": "eq", "value": "packaging"}, "industry eq packaging"),
    ({"field": "budget", "op": "exists"}, "budget exists"),
    ({"field": "fields.department", "op": "not_exists"}, "fields.department not exists"),
])
def test_describe_puts_a_condition_into_words(condition, words):
    """Lead reports show each criterion as a short phrase."""
    assert describe(condition) == words


# --- properties -------------------------------------------------------------------------------------

FIELDS = list(CONTACT_FIELDS) + ["fields.department", "fields.seats"]
scalars = st.one_of(st.text(max_size=12), st.integers(-10**6, 10**6),
                    st.floats(allow_nan=False, allow_infinity=False, width=32))
numbers = st.one_of(st.integers(-10**6, 10**6), st.floats(-1e6, 1e6, allow_nan=False),
                    st.integers(-1000, 1000).map(str))
conditions = st.one_of(
    st.builds(lambda f, o, v: {"field": f, "op": o, "value": v}, st.sampled_from(FIELDS), st.sampled_from(["eq", "ne"]),
              scalars),
    st.builds(lambda f, o, v: {"field": f, "op": o, "value": v}, st.sampled_from(FIELDS),
              st.sampled_from(["in", "not_in", "contains_any", "ends_with_any"]), st.lists(scalars, min_size=1, max_size=4)),
    st.builds(lambda f, o, v: {"field": f, "op": o, "value": v}, st.sampled_from(FIELDS),
              st.sampled_from(["gte", "gt", "lte", "lt"]), numbers),
    st.builds(lambda f, a, b: {"field": f, "op": "between", "value": sorted([a, b])}, st.sampled_from(FIELDS),
              st.integers(-10**6, 10**6), st.integers(-10**6, 10**6)),
    st.builds(lambda f, o: {"field": f, "op": o}, st.sampled_from(FIELDS), st.sampled_from(["exists", "not_exists"])),
)
trees = st.recursive(conditions, lambda inner: st.one_of(
    st.builds(lambda rs: {"all": rs}, st.lists(inner, min_size=1, max_size=3)),
    st.builds(lambda rs: {"any": rs}, st.lists(inner, min_size=1, max_size=3)),
    st.builds(lambda r: {"not": r}, inner),
), max_leaves=8)
field_values = st.one_of(st.none(), st.text(max_size=20), st.integers(), st.integers(-10**400, 10**400),
                         st.floats(), st.booleans())
contacts = st.builds(lambda std, custom: {**std, "fields": custom},
                     st.dictionaries(st.sampled_from(CONTACT_FIELDS), field_values),
                     st.dictionaries(st.sampled_from(["department", "seats"]), field_values))
json_like = st.recursive(st.one_of(st.none(), st.booleans(), st.integers(-10**400, 10**400), st.floats(), st.text(max_size=10)),
                         lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                 st.dictionaries(st.sampled_from(["all", "any", "not", "field", "op", "value"]),
                                                                 inner, max_size=4)),
                         max_leaves=12)
FAST = settings(max_examples=150, deadline=None)


@FAST
@given(trees)
def test_generated_valid_trees_pass_validation(rule):
    """Any tree built only from well-formed conditions validates cleanly."""
    assert validate(rule) == []


@FAST
@given(trees, contacts)
def test_evaluation_never_raises_on_validated_rules(rule, fields):
    """A validated rule evaluates to True or False for any field values (text, numbers, None, huge ints, NaN)."""
    assert evaluate(rule, fields) in (True, False)


@FAST
@given(trees, contacts)
def test_not_inverts_a_rule(rule, fields):
    """{not: r} is true exactly when r is false."""
    assert evaluate({"not": rule}, fields) is (not evaluate(rule, fields))


@FAST
@given(trees, contacts)
def test_all_or_any_of_one_rule_equals_the_rule(rule, fields):
    """Wrapping a single rule in all or any changes nothing."""
    assert evaluate({"all": [rule]}, fields) == evaluate(rule, fields) == evaluate({"any": [rule]}, fields)


@FAST
@given(st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ &-", min_size=1, max_size=20))
def test_eq_ignores_case_for_any_ascii_text(text):
    """eq matches a value written in a different case."""
    fields = {"title": text}
    for variant in (text.upper(), text.lower(), text.swapcase()):
        assert evaluate({"field": "title", "op": "eq", "value": variant}, fields)
        assert evaluate({"field": "title", "op": "in", "value": [variant]}, fields)


@FAST
@given(json_like)
def test_validate_never_raises_on_arbitrary_input(rule):
    """validate answers with a list of messages for anything a YAML file could contain, never an exception."""
    errors = validate(rule)
    assert isinstance(errors, list) and all(isinstance(e, str) for e in errors)
