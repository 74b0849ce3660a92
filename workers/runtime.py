"""The services a job runs with: the embedded app's, or one built from the environment per process."""
from __future__ import annotations

import os
import threading

_lock = threading.Lock()
_services = None
_pid = None


def bind(services) -> None:
    """Embedded mode: jobs run in this process and use the web app's own services."""
    global _services, _pid
    _services, _pid = services, os.getpid()


def current():
    global _pid
    with _lock:
        if _services is not None and _pid != os.getpid():
            # A forked work horse must not share the parent's database connections.
            _services.engine.dispose(close=False)
            _pid = os.getpid()
        if _services is None:
            from app import create_app

            bind(create_app().extensions["nurture"])
        return _services
