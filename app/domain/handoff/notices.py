"""Emails to sales (rendered at send time from our own trusted layouts, autoescaped): the new-lead
notice, the escalation to a manager, and the monthly lead review. Which one a message is comes
from its dedupe key: handoff:<id>:notify…, handoff:<id>:escalated, review:<rep id>:<yyyy-mm>."""
from __future__ import annotations

from sqlalchemy.orm import object_session

from app.models import Message, User

from app.domain.handoff.reviews import month_review, parse_month
from app.domain.messages.rendering import RenderedEmail, layout_environment


def render_notification(services, message: Message) -> RenderedEmail:
    key = message.dedupe_key or ""
    if key.startswith("review:"):
        return render_review(services, message)
    if key.endswith(":escalated"):
        return _render(services, message, "escalation", _handoff_context(services, message))
    return render_handoff_notice(services, message)


def render_handoff_notice(services, message: Message) -> RenderedEmail:
    """The rep's new-lead notice."""
    context = _handoff_context(services, message, respond_by_unknown="soon")
    del context["rep"]
    return _render(services, message, "handoff", context)


def _render(services, message: Message, layout: str, context: dict) -> RenderedEmail:
    env = layout_environment(str(services.config.templates_dir))
    return RenderedEmail(subject=message.subject, html=env.get_template(f"email/notices/{layout}.html").render(context),
                         text=env.get_template(f"email/notices/{layout}.txt").render(context))


def _handoff_context(services, message: Message, respond_by_unknown: str = "—") -> dict:
    handoff = message.handoff
    return {"handoff": handoff, "contact": handoff.contact, "report": handoff.report, "rep": handoff.rep,
            "report_url": f"{services.config.base_url}/handoffs/{handoff.id}",
            "respond_by": handoff.respond_by.strftime("%Y-%m-%d %H:%M UTC") if handoff.respond_by else respond_by_unknown}


def render_review(services, message: Message) -> RenderedEmail:
    _, rep_id, month = (message.dedupe_key or "").split(":", 2)
    session = object_session(message)
    rep = session.get(User, int(rep_id))
    review = month_review(session, rep, parse_month(month), now=services.now())
    return _render(services, message, "review", {
        "review": review, "rep": rep,
        "review_url": f"{services.config.base_url}/reviews/{rep.id}/{month}",
        "base_url": services.config.base_url})
