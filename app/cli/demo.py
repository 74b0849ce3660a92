"""Demo data for the embedded default: users, two sales reps, and contacts that show the loop."""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import User

from app.domain.engagement.arrivals import upsert_contact
from app.domain.engagement.events import record_event
from app.domain.contacts.users import create_user

DEMO_PASSWORD = "nurture-demo"
DEMO_USERS = [
    ("admin@nurture.example", "admin", "Avery Admin"),
    ("marketer@nurture.example", "marketer", "Morgan Marketer"),
    ("manager@nurture.example", "sales_manager", "Sam Manager"),
    ("alex.rep@nurture.example", "sales", "Alex Rep"),
    ("jordan.rep@nurture.example", "sales", "Jordan Rep"),
]
DEMO_CONTACTS = [
    {"email": "priya.shah@acme-automation.example", "first_name": "Priya", "last_name": "Shah",
     "company": "Acme Automation", "title": "Senior Controls Engineer", "industry": "manufacturing",
     "company_size": 850, "budget": 60000, "timeline": "3 months", "country": "US",
     "timezone": "America/Chicago", "source": "webinar"},
    {"email": "tom.becker@fahrwerk.example", "first_name": "Tom", "last_name": "Becker", "company": "Fahrwerk GmbH",
     "title": "Procurement Manager", "industry": "automotive", "company_size": 2400, "budget": 150000,
     "timeline": "6 months", "country": "DE", "timezone": "Europe/Berlin", "source": "trade show"},
    {"email": "lena.ortiz@medline-devices.example", "first_name": "Lena", "last_name": "Ortiz",
     "company": "Medline Devices", "title": "VP Operations", "industry": "medical_devices", "company_size": 1200,
     "budget": 250000, "timeline": "2 months", "country": "US", "timezone": "America/New_York",
     "source": "paid search"},
    {"email": "kenji.mori@packright.example", "first_name": "Kenji", "last_name": "Mori", "company": "PackRight",
     "title": "Automation Engineer", "industry": "packaging", "company_size": 90, "budget": 8000,
     "timeline": "12 months", "country": "JP", "timezone": "Asia/Tokyo", "source": "blog"},
    {"email": "ruth.adams@northfield-foods.example", "first_name": "Ruth", "last_name": "Adams",
     "company": "Northfield Foods", "title": "Purchasing Lead", "industry": "food_and_beverage",
     "company_size": 400, "budget": 40000, "timeline": "4 months", "country": "GB",
     "timezone": "Europe/London", "source": "content download"},
]


def load_demo(session: Session, *, now: datetime) -> dict[str, int]:
    """Idempotent: users that exist are kept; contacts are upserted by email."""
    users = 0
    for email, role, name in DEMO_USERS:
        if session.scalar(select(User.id).where(User.email == email)) is None:
            create_user(session, email, role, now=now, name=name, password=DEMO_PASSWORD)
            users += 1
    for data in DEMO_CONTACTS:
        upsert_contact(session, data, now=now, actor="demo")
    # One contact already engaged, so the lead score and timeline have something to show.
    contact, _ = upsert_contact(session, DEMO_CONTACTS[2], now=now, actor="demo")
    for minutes, url in ((50, "https://www.brightline.example/solutions/medical"),
                         (40, "https://www.brightline.example/case-studies/cleanroom"),
                         (30, "https://www.brightline.example/pricing")):
        record_event(session, contact, "page_view", now=now, occurred_at=now - timedelta(minutes=minutes), url=url,
                     source="demo", dedupe_key=f"demo:{contact.email}:{minutes}")
    return {"users": users, "contacts": len(DEMO_CONTACTS)}
