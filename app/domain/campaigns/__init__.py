"""Campaigns: personas and the drips and autoresponders that keep a prospect warm.

Owns persona matching and entering a persona's drips (personas), enrollment, planning due steps
into owed messages, stopping drips when a contact may no longer be emailed (enrollment), delays and
send windows (scheduling), subscription preferences, and the campaign library as files: loading,
validating, syncing and exporting campaigns/ (files, sync, export). It may call qualification (the
agreement travels with the files), messages, contacts, errors, settings, app.infra and app.models.
"""
