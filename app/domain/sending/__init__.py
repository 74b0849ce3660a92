"""Sending: getting owed messages to the relay exactly once.

Owns send jobs and their SMTP lanes (delivery), the per-lane journal that makes a kill -9 safe
(journal), loading outgoing messages (outgoing), what each kind of message says (contents), SMTP
reply classes (smtp_replies), sending limits and warm-up (throttling), the sweep that settles
abandoned lanes and re-queues (sweeper), test sends (proofs) and the operations view. It may call
handoff (notices to sales are messages too), campaigns, messages, contacts, errors, settings,
app.infra and app.models; it never calls engagement, and engagement never calls it.
"""
