"""`nurture init`, `demo`, `user create` and `apikey create`: getting an installation ready."""
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
@pass_services
def demo(services) -> None:
    """Load demo users, two sales reps and demo contacts (idempotent)."""
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
    from app.domain.errors import Conflict, ValidationError

    with services.sessions() as session:
        try:
            created, password = create_user(session, email, role, now=services.now(), name=name, password=password)
        except (ValidationError, Conflict) as exc:
            raise click.ClickException(str(exc)) from None
        session.commit()
    click.echo(f"created {role} {created.email}; password: {password}")


@main.group()
def apikey() -> None:
    """Keys for the JSON API."""


@apikey.command("create")
@click.option("--name", default="default")
@pass_services
def apikey_create(services, name: str) -> None:
    """Create an API key and print it (it is shown only once)."""
    from app.domain.contacts.api_keys import create_api_key

    with services.sessions() as session:
        key = create_api_key(session, name, services.now())
        session.commit()
    click.echo(key)
