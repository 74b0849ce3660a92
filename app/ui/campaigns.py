"""Personas and campaigns as marketing reads them: rules in words, steps with their numbers, previews."""
from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for

from app.domain.contacts.records import rule_fields
from app.domain.messages.composing import compiled_version
from app.domain.errors import ValidationError
from app.domain.sending.proofs import send_proof
from app.domain.messages.rendering import TemplateError, merge_context, personal_links, render
from app.extensions import db_session, services
from app.models import Campaign, Contact, Step
from app.models.base import MAX_ROW_ID

from . import bp, queries
from .access import MARKETING, roles_required
from .helpers import email_frame, get_or_404, whole_number

# Who a preview is for when no contact is chosen: nothing but an address, so every fallback shows.
BLANK = "blank"
SAMPLE_EMAIL = "sample.contact@example.com"
CONDITIONS = {
    "opened_previous": "only if the previous email was opened",
    "clicked_previous": "only if a link in the previous email was clicked",
    "not_opened_previous": "only if the previous email was not opened",
}


@bp.get("/personas")
@roles_required(*MARKETING)
def personas():
    found = queries.all_personas(db_session())
    return render_template("personas/list.html", personas=[(p, queries.example_results(p)) for p in found])


@bp.get("/campaigns")
@roles_required(*MARKETING)
def campaigns():
    return render_template("campaigns/list.html", rows=queries.campaigns_with_counts(db_session()))


@bp.get("/campaigns/<int:campaign_id>")
@roles_required(*MARKETING)
def campaign(campaign_id: int):
    session = db_session()
    found = get_or_404(Campaign, campaign_id)
    steps = list(found.steps)
    return render_template("campaigns/detail.html", campaign=found, steps=steps, subjects=_subjects(steps),
                           stats=queries.step_stats(session, found), conditions=CONDITIONS,
                           enrollments=queries.enrollment_counts(session, found))


@bp.get("/campaigns/<int:campaign_id>/steps/<int:step_id>/preview")
@roles_required(*MARKETING)
def preview(campaign_id: int, step_id: int):
    found, step = _campaign_step(campaign_id, step_id)
    samples = queries.sample_contacts(db_session(), found)
    chosen = _sample(request.args.get("contact", "").strip(), samples)
    version = step.current_version
    rendered, error = None, None
    try:
        rendered = _render(version, chosen)
    except TemplateError as exc:
        error = str(exc)
    return render_template("campaigns/preview.html", campaign=found, step=step, version=version, samples=samples,
                           chosen=chosen, rendered=rendered, error=error, sample_email=SAMPLE_EMAIL)


@bp.get("/campaigns/<int:campaign_id>/steps/<int:step_id>/preview.html")
@roles_required(*MARKETING)
def preview_html(campaign_id: int, step_id: int):
    """The preview's HTML for the page's sandboxed frame, under its own policy (see helpers.email_frame)."""
    found, step = _campaign_step(campaign_id, step_id)
    chosen = _sample(request.args.get("contact", "").strip(), queries.sample_contacts(db_session(), found))
    try:
        return email_frame(_render(step.current_version, chosen).html)
    except TemplateError as exc:
        abort(400, description=str(exc))


def _campaign_step(campaign_id: int, step_id: int) -> tuple[Campaign, Step]:
    found = get_or_404(Campaign, campaign_id)
    step = db_session().get(Step, step_id) if 0 < step_id <= MAX_ROW_ID else None
    if step is None or step.campaign_id != found.id or step.current_version is None:
        abort(404, description=f"Campaign {campaign_id} has no step {step_id} with content.")
    return found, step


def _subjects(steps: list[Step]) -> dict[int, str]:
    """Each step's subject as a contact with no fields would see it: fallbacks instead of template code."""
    out = {}
    for step in steps:
        if step.current_version is not None:
            try:
                out[step.id] = _render(step.current_version, None).subject
            except TemplateError:
                pass  # the raw subject is shown instead
    return out


def _render(version, contact: Contact | None):
    compiled = compiled_version(services(), version)
    context = _context(contact)
    return render(compiled, context, link_url=personal_links(compiled, context), pixel_url=None,
                  unsubscribe_url="#")


@bp.post("/campaigns/<int:campaign_id>/steps/<int:step_id>/test")
@roles_required(*MARKETING)
def send_test(campaign_id: int, step_id: int):
    """Queue a test send (proof) of the step to the address given, merged for the chosen contact."""
    step = get_or_404(Step, step_id)
    if step.campaign_id != campaign_id or step.current_version is None:
        abort(404)
    chosen = _sample(request.form.get("contact", BLANK), [])
    session = db_session()
    try:
        send_proof(session, step.current_version, request.form.get("email", ""), now=services().now(),
                   as_contact=chosen)
    except ValidationError as exc:
        flash(f"Test email not sent: {exc.message}.", "error")
    else:
        session.commit()
        flash(f"Test email queued to {request.form['email'].strip().lower()}.", "success")
    return redirect(url_for("ui.preview", campaign_id=campaign_id, step_id=step_id,
                            contact=chosen.id if chosen is not None else BLANK))


def _sample(arg: str, samples: list[Contact]) -> Contact | None:
    """`?contact=<id>` for a real contact, `blank` (or no contacts yet) for the fallbacks."""
    if arg == BLANK or (not arg and not samples):
        return None
    if not arg:
        return samples[0]
    if whole_number(arg) is None:
        abort(400, description="'contact' must be a contact id or 'blank'.")
    return get_or_404(Contact, whole_number(arg))


def _context(contact: Contact | None) -> dict:
    if contact is None:
        return merge_context({"email": SAMPLE_EMAIL, "email_domain": SAMPLE_EMAIL.split("@")[1]}, None, None)
    return merge_context(rule_fields(contact), contact.persona.slug if contact.persona else None, contact.segment)
