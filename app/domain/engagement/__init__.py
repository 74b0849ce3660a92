"""Engagement: what prospects do, and what it sets in motion.

Owns the path of a tracking hit: what a hit is (hits), accepting it into the buffer (buffer),
draining the buffer (drain), recording each hit once with machine opens and scanner clicks told
apart (recording, bots), and the reactions: exit goals, autoresponders, unsubscribes, re-scoring
and handoff (events, batches). Also where tracked links lead and one-click unsubscribe
(destinations), a contact arriving by API, form, import or event (arrivals), forms and the
confirmation a known contact gives a form (forms, form_entries, confirmations), the site snippet's
page views and their human pace (site, pace), QR codes, forwards and bounce or complaint reports.
It is a top room: it may call handoff, campaigns, qualification, messages, contacts, errors,
settings, app.infra and app.models; it never calls sending, and sending never calls it.
"""
