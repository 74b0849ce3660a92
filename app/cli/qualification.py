"""`nurture rescore`, `rep set` and `webhook set|off`: scoring and handing leads to sales."""
from __future__ import annotations

import json

import click

from app.cli import main, pass_services


@main.command()
@click.option("--queue", "use_queue", is_flag=True, help="Fan out as RQ jobs (one per 5,000 contacts) instead of running here.")
@click.option("--chunk", default=1000, show_default=True, type=click.IntRange(10, 100_000), help="Contacts per transaction.")
@click.option("--no-handoff", is_flag=True, help="Only re-score; do not hand off contacts that now qualify.")
@pass_services
def rescore(services, use_queue: bool, chunk: int, no_handoff: bool) -> None:
    """Re-score every contact under the agreement in force (run after changing rules; deterministic)."""
    from app.domain.handoff.hand_off import hand_off_by_id
    from app.domain.handoff.periodic import enqueue_rescore
    from app.domain.qualification.rescoring import mark_rescored, rescore_all

    with services.sessions() as session:
        if use_queue:
            if services.config.embedded:
                raise click.ClickException("--queue needs NURTURE_REDIS_URL (the embedded queue lives in `nurture up`)")
            mark_rescored(session, now=services.now())
            session.commit()
            click.echo(f"queued {enqueue_rescore(services, session)} re-score job(s)")
            return
        stats = rescore_all(session, now=services.now(), chunk=chunk, hand_off=None if no_handoff else hand_off_by_id)
    rate = stats.contacts / stats.seconds if stats.seconds else 0
    click.echo(f"re-scored {stats.contacts} contacts in {stats.seconds:.2f} s ({rate:,.0f}/s): "
               f"{stats.changed} changed score or grade, {len(stats.handed_off)} newly qualified and handed off")


@main.group()
def rep() -> None:
    """Sales reps: territory, weekly cap, manager."""


@rep.command("set")
@click.argument("email")
@click.option("--territory", help='JSON, e.g. {"regions": ["EMEA"], "industries": ["automotive"], "company_size": [200, 5000]}; {} clears it.')
@click.option("--weekly-cap", help="Most leads a week (Monday to Sunday, UTC); 'none' removes the cap.")
@click.option("--manager", help="Email of their sales manager, who gets escalations; 'none' clears it.")
@click.option("--active/--inactive", default=None, help="Whether the rep takes new leads.")
@pass_services
def rep_set(services, email: str, territory: str | None, weekly_cap: str | None, manager: str | None,
            active: bool | None) -> None:
    """Change how leads are assigned to a rep."""
    from app.domain.handoff.reps import UNSET, find_user, parse_territory, rep_summary, update_rep

    with services.sessions() as session:
        user = find_user(session, email)
        boss = UNSET if manager is None else (None if manager.lower() == "none" else find_user(session, manager))
        update_rep(session, user, territory=parse_territory(territory) if territory is not None else UNSET,
                   weekly_cap=UNSET if weekly_cap is None else weekly_cap, manager=boss, active=active)
        session.commit()
        click.echo(json.dumps(rep_summary(user)))


@main.group()
def webhook() -> None:
    """The CRM webhook: the endpoint named "crm", a signed POST for every handoff event (more
    endpoints, and other events, in the web UI under Webhooks or the API's /webhooks)."""


@webhook.command("set")
@click.argument("url")
@click.option("--secret", envvar="NURTURE_WEBHOOK_SECRET", help="Shared secret (default: generated and printed once).")
@click.option("--allow-private", is_flag=True, help="Allow a loopback or private-network address (e.g. a CRM on the LAN).")
@pass_services
def webhook_set(services, url: str, secret: str | None, allow_private: bool) -> None:
    """Send handoff events to URL, signed with HMAC-SHA256 in the X-Nurture-Signature header."""
    from app.domain.contacts.webhook_endpoints import configure_crm

    with services.sessions() as session:
        secret = configure_crm(session, url, now=services.now(), secret=secret, allow_private=allow_private)
        session.commit()
    click.echo(f"webhook set to {url}; signing secret: {secret}")


@webhook.command("off")
@pass_services
def webhook_off(services) -> None:
    """Stop sending handoff events (deliveries already owed are still tried)."""
    from app.domain.contacts.webhook_endpoints import configure_crm

    with services.sessions() as session:
        configure_crm(session, None, now=services.now())
        session.commit()
    click.echo("webhook off")
