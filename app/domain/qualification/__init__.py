"""Qualification: what a good lead is, and whether a contact is one.

Owns the marketing–sales agreement and its checks (agreement, checks), behaviour scoring with decay
and the fit grade (scoring), scoring one contact and the one qualification rule every path applies
(qualify.qualifying_reason), re-scoring in bulk when the agreement changes (rescoring), the
criteria evidence report (reports) and the what-if replay (whatif). It decides; it never hands a
lead off itself: re-scoring hands off through the function its caller passes. It may call
contacts, messages, errors, settings, app.infra and app.models.
"""
