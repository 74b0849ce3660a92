"""Who may decide on a lead, record its outcome and send it back to nurture: one rule each, in the domain."""
from __future__ import annotations

from types import SimpleNamespace

import pytest

from app.domain.handoff.feedback import may_decide, may_record_outcome, may_recycle
from app.models import Role

LEAD = SimpleNamespace(rep_id=7)


def user(role: Role, ident: int = 1):
    return SimpleNamespace(role=role, id=ident)


@pytest.mark.parametrize("who, decides, recycles", [
    (user(Role.ADMIN), True, True),
    (user(Role.SALES_MANAGER), True, True),
    (user(Role.SALES, 7), True, True),  # the assigned rep
    (user(Role.SALES, 8), False, False),  # another rep
    (user(Role.MARKETER), False, True),  # marketing watches, and takes leads back
])
def test_each_role_may_do_what_the_agreement_says(who, decides, recycles):
    assert may_decide(who, LEAD) is decides
    assert may_record_outcome(who, LEAD) is decides
    assert may_recycle(who, LEAD) is recycles
