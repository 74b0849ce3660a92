"""Handoff: giving a qualified lead to sales, and what sales says back.

Owns handing off (hand_off: re-score and hand off when the agreement is met, the lead report, the
audit trail), choosing the rep (assignment, reps), the SLA and escalation (sla), the rep's
decision, ratings, outcomes and recycling (feedback), monthly lead reviews (reviews), the emails to
sales (notices), what a handoff's webhooks carry (webhooks), and the periodic work of all of these
(periodic). It may call campaigns, qualification, messages, contacts, errors, settings, app.infra
and app.models.
"""
