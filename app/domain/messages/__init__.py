"""Messages: what an email says and the bytes that carry it.

Owns the rendering pipeline of a step version (rendering: Markdown → HTML → layout → premailer,
compiled once; per recipient only the merge, piece by piece), the slow conversions (formats), the
checks on what authors write (authoring), the signed tracking links and the honeypot (links), MIME
and DKIM (mime), turning a campaign or test message row into an email (composing), and the email
asking a contact to confirm a form (confirmations). It may call contacts (the fields a template
sees), errors, settings, app.infra and app.models.
"""
