"""Contacts: who the prospects are and what is known about them, and the people who use Nurture.

Owns contact records and the validation of contact input (records), the rules engine that matches
contact fields (rules) and the fields derived from them (profile), consent with its basis and
source (consent), every recorded stage and email-status change (lifecycle), notes, privacy
requests and the suppression of erased addresses (privacy), users and API keys, and webhooks:
endpoints (webhook_endpoints) and owing, signing, sending and retrying deliveries (webhooks), here
because every room emits them; and what any input must be before a rule reads it, for every room
and edge (inputs: JSON and YAML within limits, text without NUL, times within range, addresses a
visitor may be sent to). It is the lowest room: it may call only errors, settings, app.infra
and app.models, never another room.
"""
