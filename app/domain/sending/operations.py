"""What an operator needs to see: the queue, sending state per campaign, failures, alerts."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.models import Alert, Campaign, DomainThrottle, Message, SendLane


def delivery_status(session: Session, services, *, now: datetime) -> dict[str, Any]:
    """Messages by status overall and per campaign, queue depth, failed jobs, paused domains, open alerts."""
    overall = dict(session.execute(select(Message.status, func.count()).group_by(Message.status)).all())
    per_campaign: dict[str, dict[str, int]] = {}
    rows = session.execute(select(Campaign.name, Message.status, func.count())
                           .join(Campaign, Campaign.id == Message.campaign_id)
                           .group_by(Campaign.name, Message.status)).all()
    for name, status, count in rows:
        per_campaign.setdefault(name, {})[str(status)] = count
    retrying = session.scalar(select(func.count()).select_from(Message).where(
        Message.status == "pending", Message.attempts > 0)) or 0
    paused = [{"domain": d.domain, "until": d.paused_until.isoformat(), "reason": d.reason}
              for d in session.scalars(select(DomainThrottle).where(DomainThrottle.paused_until > now))]
    alerts = [{"id": a.id, "kind": a.kind, "subject": a.subject, "detail": a.detail, "at": a.created_at.isoformat()}
              for a in session.scalars(select(Alert).where(Alert.resolved_at.is_(None)).order_by(Alert.id.desc()))]
    return {"messages": {str(k): v for k, v in overall.items()}, "retrying": retrying,
            "per_campaign": per_campaign, "sending_now": sending_now(session, now=now), "paused_domains": paused,
            "alerts": alerts, **queue_state(services)}


def sending_now(session: Session, *, now: datetime) -> list[dict[str, Any]]:
    """Each SMTP connection at work (a send lane): which worker, how far along, and whether its lease
    ran out (its worker stopped; the scheduler's sweeper settles it from its journal)."""
    # A lane done with all its messages stands past its end while the job's other lanes go on.
    return [{"worker": lane.worker, "handed_over": min(lane.position + 1, len(lane.message_ids)),
             "messages": len(lane.message_ids), "since": lane.started_at.isoformat(),
             "lease_until": lane.lease_until.isoformat(), "stalled": lane.lease_until < now}
            for lane in session.scalars(select(SendLane).order_by(SendLane.id).limit(200))]


def queue_state(services) -> dict[str, Any]:
    """Queue depth and the most recent failed jobs with their reason; empty if Redis is away."""
    try:
        queue = services.queue()
        failed = queue.failed_job_registry
        jobs = []
        for job_id in failed.get_job_ids(0, 19):
            job = queue.fetch_job(job_id)
            if job is None:
                continue
            reason = (job.latest_result().exc_string if job.latest_result() else "") or ""
            jobs.append({"id": job_id, "function": job.func_name,
                         "reason": reason.strip().splitlines()[-1] if reason.strip() else "unknown"})
        return {"queue": {"queued": queue.count, "started": queue.started_job_registry.count,
                          "failed": failed.count}, "failed_jobs": jobs}
    except Exception as exc:  # Redis down: the database still says what is owed
        return {"queue": {"error": f"queue unavailable: {exc}"}, "failed_jobs": []}
