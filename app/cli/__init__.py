"""The `nurture` command: set up, load, and run the product's processes."""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click

from app.config import ConfigError, load_config


def _services(**overrides):
    from app import create_app

    try:
        config = load_config()
        if overrides:
            config = config.with_overrides(**overrides)
        return create_app(config).extensions["nurture"]
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None


def _init_schema(services) -> None:
    from sqlalchemy.exc import OperationalError

    from app.db import upgrade

    if services.config.database_url.startswith("sqlite"):
        services.config.instance_path.mkdir(parents=True, exist_ok=True)
    try:
        upgrade(services.engine)
    except OperationalError as exc:
        raise click.ClickException(f"cannot reach the database: {exc.orig}") from None


@click.group(help="Nurture: personas, drip campaigns, lead scoring and handoff to sales.")
def main() -> None:
    pass


@main.command()
def init() -> None:
    """Create or upgrade the database schema (safe to run again)."""
    services = _services()
    _init_schema(services)
    click.echo(f"schema is up to date on {services.engine.url.render_as_string(hide_password=True)}")


@main.group()
def campaigns() -> None:
    """Personas and campaigns as files."""


@campaigns.command("sync")
@click.argument("directory", required=False, type=click.Path(path_type=Path))
def campaigns_sync(directory: Path | None) -> None:
    """Validate DIRECTORY (default campaigns/) and load it; nothing is applied if anything is wrong."""
    services = _services()
    counts = _sync(services, directory or services.config.campaigns_dir)
    click.echo("synced: " + ", ".join(f"{v} {k} changed" for k, v in counts.items()))


@campaigns.command("export")
@click.argument("directory", required=False, type=click.Path(path_type=Path, file_okay=False))
def campaigns_export(directory: Path | None) -> None:
    """Write personas, campaigns and the agreement from the database to DIRECTORY (default campaigns/)."""
    from app.domain.campaigns.export import export_library

    services = _services()
    target = directory or services.config.campaigns_dir
    with services.sessions() as session:
        counts = export_library(session, target)
    click.echo(f"exported to {target}: " + ", ".join(f"{v} {k}" for k, v in counts.items()))


def _sync(services, directory: Path) -> dict:
    from app.domain.campaigns.sync import SyncError, sync_directory

    with services.sessions() as session:
        try:
            counts = sync_directory(session, directory, templates_dir=services.config.templates_dir,
                                    postal_address=services.config.postal_address, now=services.now())
        except SyncError as exc:
            for problem in exc.problems:
                click.echo(problem, err=True)
            raise click.ClickException(f"{len(exc.problems)} problem(s) in {directory}; nothing was applied") from None
        session.commit()
    return counts


@main.command()
def demo() -> None:
    """Load demo users, two sales reps and demo contacts (idempotent)."""
    services = _services()
    click.echo(json.dumps(_demo(services)))


def _demo(services) -> dict:
    from app.cli.demo import load_demo

    with services.sessions() as session:
        counts = load_demo(session, now=services.now())
        session.commit()
    return counts


@main.group()
def user() -> None:
    """People who sign in to the web UI."""


@user.command("create")
@click.argument("email")
@click.option("--role", required=True, type=click.Choice(["admin", "marketer", "sales", "sales_manager"]))
@click.option("--name", default="")
@click.option("--password", envvar="NURTURE_USER_PASSWORD", help="Default: generated and printed once.")
def user_create(email: str, role: str, name: str, password: str | None) -> None:
    """Create a user with a role."""
    from app.domain.errors import Conflict, ValidationError
    from app.domain.contacts.users import create_user

    services = _services()
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
def apikey_create(name: str) -> None:
    """Create an API key and print it (it is shown only once)."""
    from app.api.auth import create_api_key

    services = _services()
    with services.sessions() as session:
        key = create_api_key(session, name, services.now())
        session.commit()
    click.echo(key)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=click.IntRange(1, 65535))
def up(host: str, port: int) -> None:
    """Everything in one process on the embedded default: web, worker, scheduler, outbox."""
    from app.cli.demo import DEMO_PASSWORD

    if not os.environ.get("NURTURE_BASE_URL"):
        os.environ["NURTURE_BASE_URL"] = f"http://{host}:{port}"
    config = load_config()
    if not config.embedded:
        raise click.ClickException("`nurture up` is the embedded default; unset NURTURE_REDIS_URL, or run web, worker and scheduler")
    from app import create_app
    from workers.embedded import EmbeddedRuntime

    app = create_app(config)
    services = app.extensions["nurture"]
    _init_schema(services)
    counts = _sync(services, config.campaigns_dir)
    demo_counts = _demo(services)
    EmbeddedRuntime(services, scheduler_interval=min(config.scheduler_interval, 2.0)).start()
    click.echo(f"\n  Nurture is running at {config.base_url}/")
    click.echo(f"  Sign in as admin@nurture.example (or marketer@, alex.rep@) with password {DEMO_PASSWORD}")
    click.echo(f"  Campaigns synced ({counts}); demo data {demo_counts}. Emails land in the Outbox page.\n")
    from werkzeug.serving import run_simple

    run_simple(host, port, app, threaded=True, use_reloader=False)


@main.command()
@click.option("--host", default="0.0.0.0", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 256))
@click.option("--server", type=click.Choice(["granian", "gunicorn"]), default="granian", show_default=True,
              help="granian (Rust HTTP, keep-alive) serves tracking hits 2-3x faster than gunicorn sync; "
                   "see bench/track.py")
def web(host: str, port: int, workers: int, server: str) -> None:
    """Serve the web UI, API and tracking endpoints with granian (or gunicorn sync workers)."""
    _services()  # fail here, with a clear message, if the configuration is wrong
    if server == "granian":
        os.execvp(sys.executable, [sys.executable, "-m", "granian", "--interface", "wsgi", "--host", host, "--port",
                                   str(port), "--workers", str(workers), "--blocking-threads", "1",
                                   "--runtime-mode", "st", "--http", "1", "--no-ws", "app.wsgi:app"])
    os.execvp(sys.executable, [sys.executable, "-m", "gunicorn", "--workers", str(workers), "--bind",
                               f"{host}:{port}", "--access-logfile", "-", "app.wsgi:app"])


@main.command()
@click.option("--burst", is_flag=True, help="Exit when the queue is empty.")
def worker(burst: bool) -> None:
    """Run an RQ worker on NURTURE_REDIS_URL; start as many as you like, on any machine."""
    from rq import Queue, SimpleWorker

    from workers import runtime

    services = _services()
    if services.config.embedded:
        raise click.ClickException("NURTURE_REDIS_URL is not set: workers need Redis (or use `nurture up`)")
    runtime.bind(services)
    queues = [Queue("default", connection=services.redis)]
    SimpleWorker(queues, connection=services.redis).work(burst=burst)


@main.command()
@click.option("--once", is_flag=True, help="Run one tick and exit.")
def scheduler(once: bool) -> None:
    """Plan due campaign steps into messages and re-queue stale ones, every few seconds."""
    from workers.scheduler import run_forever, tick

    services = _services()
    if services.config.embedded:
        raise click.ClickException("NURTURE_REDIS_URL is not set: the scheduler needs Redis (or use `nurture up`)")
    if once:
        click.echo(json.dumps(tick(services)))
        return
    run_forever(services, interval=services.config.scheduler_interval)


@main.command()
def status() -> None:
    """Sending state: messages by status and per campaign, queue depth, failed jobs, alerts."""
    from app.domain.sending.operations import delivery_status

    services = _services()
    with services.sessions() as session:
        click.echo(json.dumps(delivery_status(session, services, now=services.now()), indent=2))


@main.command()
@click.option("--queue", "use_queue", is_flag=True, help="Fan out as RQ jobs (one per 5,000 contacts) instead of running here.")
@click.option("--chunk", default=1000, show_default=True, type=click.IntRange(10, 100_000), help="Contacts per transaction.")
@click.option("--no-handoff", is_flag=True, help="Only re-score; do not hand off contacts that now qualify.")
def rescore(use_queue: bool, chunk: int, no_handoff: bool) -> None:
    """Re-score every contact under the agreement in force (run after changing rules; deterministic)."""
    from app.domain.handoff.periodic import enqueue_rescore
    from app.domain.qualification.rescoring import mark_rescored, rescore_all

    services = _services()
    with services.sessions() as session:
        if use_queue:
            if services.config.embedded:
                raise click.ClickException("--queue needs NURTURE_REDIS_URL (the embedded queue lives in `nurture up`)")
            mark_rescored(session, now=services.now())
            session.commit()
            click.echo(f"queued {enqueue_rescore(services, session)} re-score job(s)")
            return
        stats = rescore_all(session, now=services.now(), chunk=chunk, hand_off=not no_handoff)
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
def rep_set(email: str, territory: str | None, weekly_cap: str | None, manager: str | None, active: bool | None) -> None:
    """Change how leads are assigned to a rep."""
    from app.domain.errors import NotFound, ValidationError
    from app.domain.handoff.reps import UNSET, find_user, parse_territory, rep_summary, update_rep

    services = _services()
    with services.sessions() as session:
        try:
            user = find_user(session, email)
            boss = UNSET if manager is None else (None if manager.lower() == "none" else find_user(session, manager))
            update_rep(session, user, territory=parse_territory(territory) if territory is not None else UNSET,
                       weekly_cap=UNSET if weekly_cap is None else weekly_cap, manager=boss, active=active)
        except (ValidationError, NotFound) as exc:
            raise click.ClickException(str(exc)) from None
        session.commit()
        click.echo(json.dumps(rep_summary(user)))


@main.group()
def webhook() -> None:
    """The CRM webhook: a signed POST for every handoff event."""


@webhook.command("set")
@click.argument("url")
@click.option("--secret", envvar="NURTURE_WEBHOOK_SECRET", help="Shared secret (default: generated and printed once).")
def webhook_set(url: str, secret: str | None) -> None:
    """Send handoff events to URL, signed with HMAC-SHA256 in the X-Nurture-Signature header."""
    from app.domain.errors import ValidationError
    from app.domain.handoff.webhooks import configure

    services = _services()
    with services.sessions() as session:
        try:
            secret = configure(session, url, now=services.now(), secret=secret)
        except ValidationError as exc:
            raise click.ClickException(str(exc)) from None
        session.commit()
    click.echo(f"webhook set to {url}; signing secret: {secret}")


@webhook.command("off")
def webhook_off() -> None:
    """Stop sending handoff events (deliveries already owed are still tried)."""
    from app.domain.handoff.webhooks import configure

    services = _services()
    with services.sessions() as session:
        configure(session, None, now=services.now())
        session.commit()
    click.echo("webhook off")


from app.cli.tracking import register as _register_tracking  # noqa: E402

_register_tracking(main, lambda **overrides: _services(**overrides))


@main.group()
def limits() -> None:
    """Sending limits: per destination domain and the warm-up of a new sending domain."""


@limits.command("show")
def limits_show() -> None:
    """Print the limits in force."""
    from app.domain.settings import get_setting

    services = _services()
    with services.sessions() as session:
        click.echo(json.dumps(get_setting(session, "delivery"), indent=2))


@limits.command("set")
@click.option("--per-domain", "per_domain", multiple=True, metavar="DOMAIN=N",
              help="Emails a minute to a destination domain; '*' for any domain. Repeat for several.")
@click.option("--warmup-start", metavar="YYYY-MM-DD", help="First day of the warm-up schedule for a new domain.")
@click.option("--warmup-daily", metavar="N,N,…", help="Daily caps from the start day (default: a doubling schedule).")
@click.option("--clear", is_flag=True, help="Remove every limit first.")
def limits_set(per_domain: tuple[str, ...], warmup_start: str | None, warmup_daily: str | None, clear: bool) -> None:
    """Set sending limits; they apply to every worker within a minute."""
    from datetime import date

    from app.domain.settings import get_setting, put_setting

    rates = {}
    for item in per_domain:
        domain, _, number = item.partition("=")
        if not domain or not number.isdigit() or int(number) < 1:
            raise click.BadParameter(f"{item!r}: use DOMAIN=N with N ≥ 1, e.g. gmail.com=600", param_hint="--per-domain")
        rates[domain.strip().lower()] = int(number)
    warmup = None
    if warmup_start:
        try:
            date.fromisoformat(warmup_start)
        except ValueError:
            raise click.BadParameter(f"{warmup_start!r} is not a date like 2026-11-01", param_hint="--warmup-start") from None
        warmup = {"start": warmup_start}
        if warmup_daily:
            parts = [p.strip() for p in warmup_daily.split(",")]
            if not all(p.isdigit() for p in parts):
                raise click.BadParameter("use whole numbers separated by commas", param_hint="--warmup-daily")
            warmup["daily"] = [int(p) for p in parts]
    services = _services()
    with services.sessions() as session:
        current = {} if clear else get_setting(session, "delivery")
        if rates:
            current["per_domain_per_minute"] = {**(current.get("per_domain_per_minute") or {}), **rates}
        if warmup:
            current["warmup"] = warmup
        put_setting(session, "delivery", current, services.now())
        session.commit()
    click.echo(json.dumps(current, indent=2))


if __name__ == "__main__":
    main()
