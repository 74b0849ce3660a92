"""The agreement's pages: the agreement in force (and editing it), the what-if replay of a proposal
with suggestions from sales' feedback, and the criteria evidence report. Thin: parse, call the
domain, render."""
from __future__ import annotations

from datetime import datetime, timedelta

import yaml
from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from app.domain.contacts.inputs import FIRST_YEAR, LAST_YEAR, load_yaml, parse_time
from app.domain.errors import ValidationError
from app.domain.qualification.agreement import (AgreementError, agreement_data, apply_agreement, merged_with_current,
                                  proposed_agreement)
from app.domain.handoff.assignment import assigned_this_week
from app.domain.qualification.reports import criteria_evidence
from app.domain.qualification.whatif import replay, suggest
from app.extensions import db_session, services
from app.models import Role, User

from . import bp
from .access import AGREEMENT, MARKETER, has_role, roles_required

READERS = AGREEMENT
EDITORS = (MARKETER,)
WHATIF_SECTIONS = ("qualification", "scoring", "fit")
TEXT_MAX = 200_000


class _Dumper(yaml.SafeDumper):
    """Lists of plain values on one line ([A, B]), as people write agreement.yml."""


def _represent_list(dumper, values):
    flat = all(isinstance(v, (str, int, float, bool)) or v is None for v in values)
    return dumper.represent_sequence("tag:yaml.org,2002:seq", values, flow_style=flat)


_Dumper.add_representer(list, _represent_list)


def _yaml(data) -> str:
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=110)


def _parse_yaml(text: str) -> tuple[dict | None, list[str]]:
    if len(text) > TEXT_MAX:
        return None, [f"agreement: longer than {TEXT_MAX:,} characters"]
    try:
        data = load_yaml(text) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else "agreement"
        return None, [f"{where}: not valid YAML ({getattr(exc, 'problem', exc)})"]
    if not isinstance(data, dict):
        return None, ["agreement: must be a mapping with qualification, scoring, fit …"]
    return data, []


def _date(name: str) -> datetime | None:
    raw = request.values.get(name, "").strip()
    if not raw:
        return None
    try:
        return parse_time(raw, name, naive_as_utc=True)
    except ValidationError:  # not a date, or year 1 / 9999, where date arithmetic overflows
        abort(400, description=f"'{name}' must be a date as YYYY-MM-DD between the years {FIRST_YEAR} and {LAST_YEAR}.")


def _reps(session) -> list[dict]:
    reps = list(session.scalars(select(User).where(User.role.in_([Role.SALES, Role.SALES_MANAGER]))
                                .order_by(User.role, User.name)))
    week = assigned_this_week(session, [r.id for r in reps], services().now())
    managers = {r.id: r for r in reps}
    return [{"user": r, "this_week": week.get(r.id, 0),
             "manager": managers.get(r.manager_id).name if r.manager_id in managers else None} for r in reps]


@bp.get("/agreement")
@roles_required(*READERS)
def agreement():
    session = db_session()
    data = agreement_data(session)
    return render_template("agreement/show.html", data=data, text=_yaml(data), reps=_reps(session),
                           can_edit=has_role(current_user, EDITORS), problems=[], tab="agreement")


@bp.post("/agreement")
@roles_required(*EDITORS)
def save_agreement():
    session = db_session()
    text = request.form.get("agreement", "")
    data, problems = _parse_yaml(text)
    if data is not None:
        try:
            proposed_agreement(session, data)
        except AgreementError as exc:
            problems = exc.problems
    if problems or request.form.get("action") == "check":
        if not problems:
            flash("No problems found. Nothing was saved yet.", "info")
        return render_template("agreement/show.html", data=agreement_data(session), text=text, reps=_reps(session),
                               can_edit=True, problems=problems, tab="agreement"), 400 if problems else 200
    changed = apply_agreement(session, merged_with_current(session, data), services().now())
    session.commit()
    flash("Agreement saved. Every contact is re-scored under it within a minute." if changed
          else "Nothing changed: the agreement already reads like this.", "success")
    return redirect(url_for("ui.agreement"))


@bp.route("/agreement/whatif", methods=["GET", "POST"])
@roles_required(*READERS)
def whatif():
    session = db_session()
    suggestion = suggest(session)
    current = {k: agreement_data(session)[k] for k in WHATIF_SECTIONS}
    if request.method == "GET":
        text = _yaml(suggestion["agreement"] if request.args.get("use") == "suggestion" else current)
        return render_template("agreement/whatif.html", text=text, result=None, problems=[], suggestion=suggestion,
                               since=request.args.get("since", _default_since()), until="", tab="whatif")
    text = request.form.get("agreement", "")
    since, until = _date("since"), _date("until")
    data, problems = _parse_yaml(text)
    result = None
    if data is not None:
        try:
            result = replay(session, proposed_agreement(session, data), now=services().now(), since=since, until=until)
        except AgreementError as exc:
            problems = exc.problems
    return render_template("agreement/whatif.html", text=text, result=result, problems=problems,
                           suggestion=suggestion, since=request.form.get("since", ""),
                           until=request.form.get("until", ""), can_edit=has_role(current_user, EDITORS),
                           tab="whatif"), 400 if problems else 200


def _default_since() -> str:
    return (services().now() - timedelta(days=90)).strftime("%Y-%m-%d")


@bp.get("/reports/criteria")
@roles_required(*READERS)
def evidence():
    since, until = _date("since"), _date("until")
    report = criteria_evidence(db_session(), since=since, until=until)
    return render_template("agreement/evidence.html", report=report, since=request.args.get("since", ""),
                           until=request.args.get("until", ""), tab="evidence")
