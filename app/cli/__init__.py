"""The `nurture` command: set up, load, and run the product's processes.

Commands get their services from click's context object: `main(obj=services)` or
`main(obj=factory)` hands them in (tests do); with no object they are built from the
environment, and only when a command first needs them.
"""
from __future__ import annotations

import functools

import click

from app.config import ConfigError, load_config
from app.domain.errors import Conflict, NotFound, ValidationError


def build_services():
    """Services for the configuration in the environment; a bad configuration is one clear line."""
    from app import create_app

    try:
        return create_app(load_config()).extensions["nurture"]
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None


def services_from(ctx: click.Context | None = None):
    """The services handed in as the context object (or made by the factory handed in), else built."""
    obj = (ctx or click.get_current_context()).obj
    if obj is None:
        return build_services()
    return obj() if callable(obj) else obj


def pass_services(command):
    """Call the command with the services as its first argument. Bad input the domain refuses
    (ValidationError, NotFound, Conflict) is one line and exit status 1, never a traceback."""
    @click.pass_context
    def with_services(ctx: click.Context, *args, **kwargs):
        try:
            return ctx.invoke(command, services_from(ctx), *args, **kwargs)
        except (ValidationError, NotFound, Conflict) as exc:
            raise click.ClickException(str(exc)) from None
    return functools.update_wrapper(with_services, command)


@click.group(help="Nurture: personas, drip campaigns, lead scoring and handoff to sales.")
def main() -> None:
    pass


# Each module registers its commands on `main` when imported.
from app.cli import campaigns, processes, qualification, sending, setup, tracking  # noqa: E402, F401
