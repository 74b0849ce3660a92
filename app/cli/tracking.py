"""`nurture tracking …`, `nurture contacts …` and `nurture qr …`: draining hits, privacy requests, QR codes."""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import click

from app.cli import main, pass_services


@main.group()
def tracking() -> None:
    """Opens, clicks, scans and page views queued in Redis."""


@tracking.command("drain")
@click.option("--forever", is_flag=True, help="Keep draining every second until stopped.")
@click.option("--batch-size", type=click.IntRange(1, 50_000), default=None,
              help="Hits written per transaction (default 5000).")
@pass_services
def tracking_drain(services, forever: bool, batch_size: int | None) -> None:
    """Write queued hits to the database (RQ workers and the scheduler also do this)."""
    from app.domain.engagement.drain import BATCH_SIZE, drain

    while True:
        result = drain(services, batch_size=batch_size or BATCH_SIZE)
        if result.hits or not forever:
            click.echo(json.dumps(result.as_dict()))
        if not forever:
            if result.error:
                raise click.ClickException(result.error)
            return
        time.sleep(1)


@tracking.command("status")
@pass_services
def tracking_status(services) -> None:
    """Hits waiting in Redis and hits kept aside after failing on their own."""
    from app.infra.hit_buffer import backlog, dead_count

    click.echo(json.dumps({"queued": backlog(services.redis), "dead": dead_count(services.redis)}))


@tracking.command("domains")
@click.argument("domains", nargs=-1)
@click.option("--clear", is_flag=True, help="Remove every domain: no link carries the contact token.")
@pass_services
def tracking_domains(services, domains: tuple[str, ...], clear: bool) -> None:
    """Show or set the marketer's own site domains: links there carry ?nt= for the site snippet."""
    from app.domain.engagement.site import set_site_domains, site_domains

    with services.sessions() as session:
        if domains or clear:
            set_site_domains(session, list(domains), now=services.now())
            session.commit()
        click.echo(" ".join(site_domains(session)) or "(none: no link carries the contact token)")


@tracking.command("replay")
@click.argument("source", type=click.File("r"), default="-")
@pass_services
def tracking_replay(services, source) -> None:
    """Queue again hits logged as 'tracking hit not recorded' (one per line, the JSON at the end)."""
    from app.domain.engagement.hits import decode
    from app.infra.hit_buffer import push

    hits = []
    for line in source:
        start = line.find('["')
        if start >= 0:
            try:
                decode(line[start:].strip())
            except ValueError:
                continue
            hits.append(line[start:].strip())
    if hits:
        push(services.redis, hits)
    click.echo(f"queued {len(hits)} hit(s)")


@main.group()
def contacts() -> None:
    """Privacy requests: export everything held on a contact, or erase it."""


def _find(session, email):
    from app.domain.contacts.records import find_contact, normalise_email

    contact = find_contact(session, normalise_email(email))
    if contact is None:
        raise click.ClickException(f"no contact with the address {email}")
    return contact


@contacts.command("export")
@click.argument("email")
@pass_services
def contacts_export(services, email: str) -> None:
    """Print everything held on the contact as JSON."""
    from app.domain.contacts.privacy import export_contact

    with services.sessions() as session:
        click.echo(json.dumps(export_contact(session, _find(session, email)), indent=2, default=str))


@contacts.command("erase")
@click.argument("email")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@pass_services
def contacts_erase(services, email: str, yes: bool) -> None:
    """Delete the contact and everything naming it; keep only a hash so it is never re-added."""
    from app.domain.contacts.privacy import erase_contact

    with services.sessions() as session:
        contact = _find(session, email)
        if not yes:
            click.confirm(f"Erase {contact.email} and everything held on it?", abort=True)
        erase_contact(session, contact, now=services.now())
        session.commit()
    click.echo(f"erased {email}; the address is suppressed")


@main.group()
def qr() -> None:
    """QR codes for printed campaign material."""


@qr.command("create")
@click.option("--campaign", "slug", required=True, help="The campaign's slug.")
@click.option("--url", required=True, help="Where the code leads.")
@click.option("--label", default="")
@click.option("--format", "fmt", type=click.Choice(["svg", "png"]), default="svg", show_default=True)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="File to write (default: stdout).")
@pass_services
def qr_create(services, slug: str, url: str, label: str, fmt: str, out: Path | None) -> None:
    """Create a code for a campaign link and write it as SVG or PNG."""
    from sqlalchemy import select

    from app.domain.engagement.qr import create_qr, draw
    from app.models import Campaign

    with services.sessions() as session:
        campaign = session.scalar(select(Campaign).where(Campaign.slug == slug))
        if campaign is None:
            raise click.ClickException(f"no campaign with the slug {slug!r}")
        code = create_qr(session, campaign_id=campaign.id, url=url, label=label, now=services.now())
        session.commit()
        image = draw(services.tokens.qr_url(code.public_id), fmt)
    if out is None:
        sys.stdout.buffer.write(image)
    else:
        out.write_bytes(image)
        click.echo(f"wrote {out}: scans of {services.tokens.qr_url(code.public_id)} count for {slug}")
