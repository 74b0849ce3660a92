"""Idempotency-Key on every POST (app.domain.contacts.idempotency decides): the first request with a
key is done and its answer stored; a replay answers the stored status and body, marked
`Idempotent-Replayed: true`."""
from __future__ import annotations

from typing import Callable

from flask import current_app, g, request

from app.domain.contacts import idempotency
from app.extensions import services


def idempotent(run: Callable):
    key, api_key = request.headers.get("Idempotency-Key"), g.get("api_key")
    if key is None or api_key is None:
        return run()
    nurture = services()
    print_ = idempotency.fingerprint(request.method, request.path, request.query_string,
                                     request.get_data(cache=True))
    with nurture.sessions() as session:  # its own session: the key is held before the work begins
        stored = idempotency.claim(session, api_key.id, key, print_, now=nurture.now())
        session.commit()
    if stored is not None:
        replay = current_app.response_class(stored.body, status=stored.status, content_type=stored.content_type)
        replay.headers["Idempotent-Replayed"] = "true"
        return replay
    try:
        response = current_app.make_response(_answer(run))
    except BaseException:
        _finish(lambda s: idempotency.release(s, api_key.id, key))
        raise
    _finish(lambda s: idempotency.settle(s, api_key.id, key, status=response.status_code,
                                         body=response.get_data(as_text=True), content_type=response.content_type))
    return response


def _answer(run: Callable):
    """The view's answer, with a refusal it raised (a ValidationError, a NotFound …) turned into its 4xx
    answer here, so that the refusal is what a replay gets too."""
    try:
        return run()
    except Exception as exc:  # noqa: BLE001  (what no handler answers is raised again by Flask)
        return current_app.handle_user_exception(exc)


def _finish(change: Callable) -> None:
    with services().sessions() as session:
        change(session)
        session.commit()

