"""`nurture limits show|set`: sending limits per destination domain and the warm-up of a new sending domain."""
from __future__ import annotations

import json

import click

from app.cli import main, pass_services, services_from


@main.group()
def limits() -> None:
    """Sending limits: per destination domain and the warm-up of a new sending domain."""


@limits.command("show")
@pass_services
def limits_show(services) -> None:
    """Print the limits in force."""
    from app.domain.settings import get_setting

    with services.sessions() as session:
        click.echo(json.dumps(get_setting(session, "delivery"), indent=2))


@limits.command("set")
@click.option("--per-domain", "per_domain", multiple=True, metavar="DOMAIN=N",
              help="Emails a minute to a destination domain; '*' for any domain. Repeat for several.")
@click.option("--warmup-start", metavar="YYYY-MM-DD", help="First day of the warm-up schedule for a new domain.")
@click.option("--warmup-daily", metavar="N,N,…", help="Daily caps from the start day (default: a doubling schedule).")
@click.option("--clear", is_flag=True, help="Remove every limit first.")
@click.pass_context
def limits_set(ctx: click.Context, per_domain: tuple[str, ...], warmup_start: str | None, warmup_daily: str | None,
               clear: bool) -> None:
    """Set sending limits; they apply to every worker within a minute."""
    from app.domain.errors import ValidationError
    from app.domain.sending.throttling import LimitsChange, set_limits

    try:
        change = LimitsChange.parse(per_domain, warmup_start, warmup_daily, clear=clear)
    except ValidationError as exc:  # a bad value is a usage error, named by its option
        raise click.BadParameter(exc.message, param_hint="--" + exc.field.replace("_", "-")) from None
    services = services_from(ctx)  # after checking the options, so a typo needs no configuration
    with services.sessions() as session:
        current = set_limits(session, change, now=services.now())
        session.commit()
    click.echo(json.dumps(current, indent=2))
