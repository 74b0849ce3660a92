"""`nurture init`, `demo`, `user create|deactivate|activate|password` and `apikey create`: getting an
installation ready and managing who signs in."""
from __future__ import annotations

import json

import click

from app.cli import main, pass_services


def init_schema(services) -> None:
    from sqlalchemy.exc import OperationalError

    from app.db import upgrade

    if services.config.database_url.startswith("sqlite"):
        services.config.instance_path.mkdir(parents=True, exist_ok=True)
    try:
        upgrade(services.engine)
    except OperationalError as exc:
        raise click.ClickException(f"cannot reach the database: {exc.orig}") from None


def load_demo_data(services) -> dict:
    from app.cli.demo import load_demo

    with services.sessions() as session:
        counts = load_demo(session, now=services.now())
        session.commit()
    return counts


@main.command()
@pass_services
def init(services) -> None:
    """Create or upgrade the database schema (safe to run again)."""
    init_schema(services)
    click.echo(f"schema is up to date on {services.engine.url.render_as_string(hide_password=True)}")


@main.command()
@click.option("--i-know", "i_know", is_flag=True,
              help="Load it outside the embedded default anyway (its users share one published password).")
@pass_services
def demo(services, i_know: bool) -> None:
    """Load demo users, two sales reps and demo contacts (idempotent); embedded default only."""
    if not services.config.embedded and not i_know:
        raise click.ClickException(
            "the demo data is for the embedded default: its admin signs in with a published password. "
            "NURTURE_REDIS_URL is set (production mode), so nothing was loaded; add --i-know to load it anyway")
    click.echo(json.dumps(load_demo_data(services)))


@main.group()
def user() -> None:
    """People who sign in to the web UI."""


@user.command("create")
@click.argument("email")
@click.option("--role", required=True, type=click.Choice(["admin", "marketer", "sales", "sales_manager"]))
@click.option("--name", default="")
@click.option("--password", envvar="NURTURE_USER_PASSWORD", help="Default: generated and printed once.")
@pass_services
def user_create(services, email: str, role: str, name: str, password: str | None) -> None:
    """Create a user with a role."""
    from app.domain.contacts.users import create_user

    with services.sessions() as session:
        created, password = create_user(session, email, role, now=services.now(), name=name, password=password)
        session.commit()
    click.echo(f"created {role} {created.email}; password: {password}")


@user.command("deactivate")
@click.argument("email")
@pass_services
def user_deactivate(services, email: str) -> None:
    """Stop a user signing in; their open sessions end at their next request."""
    _set_active(services, email, False)


@user.command("activate")
@click.argument("email")
@pass_services
def user_activate(services, email: str) -> None:
    """Let a deactivated user sign in again."""
    _set_active(services, email, True)


def _set_active(services, email: str, active: bool) -> None:
    from app.domain.contacts.users import set_active

    with services.sessions() as session:
        changed = set_active(session, email, active)
        session.commit()
    click.echo(f"{changed.email} is {'active' if active else 'deactivated; their sessions have ended'}")


@user.command("password")
@click.argument("email")
@click.option("--password", envvar="NURTURE_USER_PASSWORD", help="Default: generated and printed once.")
@pass_services
def user_password(services, email: str, password: str | None) -> None:
    """Set a user's password; the sessions they have open end."""
    from app.domain.contacts.users import reset_password

    with services.sessions() as session:
        changed, password = reset_password(session, email, password)
        session.commit()
    click.echo(f"new password for {changed.email}: {password}")


@main.group()
def apikey() -> None:
    """Keys for the JSON API."""


@apikey.command("create")
@click.option("--name", default="default", help="What uses the key, e.g. crm-sync (shown in the audit trail).")
@click.option("--scope", "scopes", multiple=True, metavar="SCOPE",
              help="read, contacts:write, campaigns:manage, sales:act or admin (implies them all); repeat for "
                   "several. Default: read and contacts:write.")
@pass_services
def apikey_create(services, name: str, scopes: tuple[str, ...]) -> None:
    """Create an API key and print it (it is shown only once); its scopes go to stderr."""
    from app.domain.contacts.api_keys import DEFAULT_SCOPES, issue_api_key

    with services.sessions() as session:
        row, key = issue_api_key(session, name, services.now(), scopes or DEFAULT_SCOPES)
        session.commit()
        click.echo(key)
        click.echo(f"key {row.name} ({row.prefix}), id {row.id}, scopes: {', '.join(row.scopes)}; "
                   "store it now, it is not shown again", err=True)


@apikey.command("list")
@pass_services
def apikey_list(services) -> None:
    """Every key: id, prefix, name, scopes, created, last used (to the minute), revoked."""
    from app.domain.contacts.api_keys import list_api_keys

    def when(moment):
        return f"{moment:%Y-%m-%d %H:%M}" if moment else "-"

    with services.sessions() as session:
        keys = list_api_keys(session)
        click.echo("id\tprefix\tname\tscopes\tcreated\tlast used\trevoked")
        for k in keys:
            click.echo("\t".join([str(k.id), k.prefix, k.name, ",".join(k.scopes), when(k.created_at),
                                  when(k.last_used_at), when(k.revoked_at)]))
    if not keys:
        click.echo("no API keys yet: nurture apikey create --name crm-sync --scope read", err=True)


@apikey.command("revoke")
@click.argument("ref")
@pass_services
def apikey_revoke(services, ref: str) -> None:
    """Revoke a key by its prefix (as listed) or id; requests with it are refused at once."""
    from app.domain.contacts.api_keys import revoke_api_key

    with services.sessions() as session:
        key = revoke_api_key(session, ref, services.now())
        session.commit()
        click.echo(f"revoked key {key.name} ({key.prefix}), id {key.id}")
