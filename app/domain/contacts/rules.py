"""The one rules engine behind personas, segments and fit criteria.

A rule is a condition `{field, op, value}` or a tree of them: `{all: [...]}`, `{any: [...]}`,
`{not: rule}`. Evaluation is pure; validation returns every problem as a readable message.
"""
from __future__ import annotations

import math
from typing import Any, Callable, Mapping

from app.domain.contacts.profile import derived


def _text(v: Any) -> str:
    return str(v).casefold()


def _num(v: Any) -> float | None:
    if isinstance(v, bool) or v is None:
        return None
    try:
        return float(v)
    except (TypeError, ValueError):
        return None
    except OverflowError:  # an int beyond float range (JSON allows any size): still ordered
        return math.inf if v > 0 else -math.inf


def _compare(pred: Callable[[float, float], bool]) -> Callable[[Any, Any], bool]:
    def op(actual, expected):
        a, e = _num(actual), _num(expected)
        return a is not None and e is not None and pred(a, e)
    return op


def _between(actual, bounds) -> bool:
    a = _num(actual)
    return a is not None and _num(bounds[0]) <= a <= _num(bounds[1])


def _present(v: Any) -> bool:
    return v is not None and v != "" and v != []


OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    "eq": lambda a, e: _present(a) and _text(a) == _text(e),
    "ne": lambda a, e: not (_present(a) and _text(a) == _text(e)),
    "in": lambda a, e: _present(a) and _text(a) in {_text(x) for x in e},
    "not_in": lambda a, e: not (_present(a) and _text(a) in {_text(x) for x in e}),
    "contains_any": lambda a, e: _present(a) and any(_text(x) in _text(a) for x in e),
    "ends_with_any": lambda a, e: _present(a) and any(_text(a).endswith(_text(x)) for x in e),
    "gte": _compare(lambda a, e: a >= e),
    "gt": _compare(lambda a, e: a > e),
    "lte": _compare(lambda a, e: a <= e),
    "lt": _compare(lambda a, e: a < e),
    "between": _between,
    "exists": lambda a, _e: _present(a),
    "not_exists": lambda a, _e: not _present(a),
}
LIST_OPERATORS = {"in", "not_in", "contains_any", "ends_with_any"}
NUMBER_OPERATORS = {"gte", "gt", "lte", "lt"}
NO_VALUE_OPERATORS = {"exists", "not_exists"}

CONTACT_FIELDS = (
    "email", "email_domain", "first_name", "last_name", "company", "title", "industry",
    "company_size", "budget", "timeline_months", "country", "timezone", "source",
    "seniority", "region",  # derived from title and country (app.domain.contacts.profile)
)


def field_value(fields: Mapping[str, Any], name: str) -> Any:
    """`fields.x` reads a custom field; seniority and region are derived; anything else a standard one."""
    if name.startswith("fields."):
        return (fields.get("fields") or {}).get(name[len("fields."):])
    if name in ("seniority", "region") and name not in fields:
        return derived(name, fields)
    return fields.get(name)


def evaluate(rule: Mapping[str, Any], fields: Mapping[str, Any]) -> bool:
    if "all" in rule:
        return all(evaluate(r, fields) for r in rule["all"])
    if "any" in rule:
        return any(evaluate(r, fields) for r in rule["any"])
    if "not" in rule:
        return not evaluate(rule["not"], fields)
    return condition_holds(rule, fields)


def condition_holds(condition: Mapping[str, Any], fields: Mapping[str, Any]) -> bool:
    return OPERATORS[condition["op"]](field_value(fields, condition["field"]), condition.get("value"))


def validate(rule: Any, where: str = "rules") -> list[str]:
    """Every problem in a rule tree, each prefixed with where it is."""
    if not isinstance(rule, Mapping):
        return [f"{where}: must be a mapping with all/any/not or field/op/value"]
    for key in ("all", "any"):
        if key in rule:
            if not isinstance(rule[key], list) or not rule[key]:
                return [f"{where}.{key}: must be a non-empty list of rules"]
            return [e for i, r in enumerate(rule[key]) for e in validate(r, f"{where}.{key}[{i}]")]
    if "not" in rule:
        return validate(rule["not"], f"{where}.not")
    return validate_condition(rule, where)


def validate_condition(cond: Mapping[str, Any], where: str) -> list[str]:
    errors = []
    name, op, value = cond.get("field"), cond.get("op"), cond.get("value")
    if not isinstance(name, str) or not (name in CONTACT_FIELDS or name.startswith("fields.")):
        errors.append(f"{where}: unknown field {name!r} (use one of {', '.join(CONTACT_FIELDS)} or fields.<custom>)")
    if not isinstance(op, str) or op not in OPERATORS:
        return errors + [f"{where}: unknown op {op!r} (use one of {', '.join(OPERATORS)})"]
    if op in LIST_OPERATORS and (not isinstance(value, list) or not value):
        errors.append(f"{where}: op {op} needs a non-empty list value")
    elif op in LIST_OPERATORS and any(isinstance(v, bool) or v is None for v in value):
        # YAML reads unquoted NO, YES, ON, OFF (Norway's code, say) as booleans.
        errors.append(f"{where}: list value {next(v for v in value if isinstance(v, bool) or v is None)!r} "
                      f"is not text; quote codes like \"NO\" and \"ON\"")
    elif op in NUMBER_OPERATORS and _num(value) is None:
        errors.append(f"{where}: op {op} needs a number value, got {value!r}")
    elif op == "between" and not (isinstance(value, list) and len(value) == 2
                                  and all(_num(v) is not None for v in value) and _num(value[0]) <= _num(value[1])):
        errors.append(f"{where}: op between needs [low, high] numbers with low ≤ high, got {value!r}")
    elif op in ("eq", "ne") and (value is None or isinstance(value, (list, dict))):
        errors.append(f"{where}: op {op} needs a single value")
    return errors


def describe(condition: Mapping[str, Any]) -> str:
    """A condition in words, for lead reports: 'company_size between 50 and 5000'."""
    op, value = condition["op"], condition.get("value")
    if op == "between":
        return f"{condition['field']} between {value[0]} and {value[1]}"
    if op in NO_VALUE_OPERATORS:
        return f"{condition['field']} {op.replace('_', ' ')}"
    shown = ", ".join(map(str, value)) if isinstance(value, list) else value
    return f"{condition['field']} {op.replace('_', ' ')} {shown}"
