"""`nurture up`, `web`, `worker`, `scheduler` and `status`: running the product and watching it send."""
from __future__ import annotations

import json
import os
import sys

import click

from app.cli import main, pass_services
from app.config import ConfigError, load_config


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=click.IntRange(1, 65535))
def up(host: str, port: int) -> None:
    """Everything in one process on the embedded default: web, worker, scheduler, outbox."""
    from app.cli.campaigns import sync_campaigns
    from app.cli.demo import DEMO_PASSWORD
    from app.cli.setup import init_schema, load_demo_data

    if not os.environ.get("NURTURE_BASE_URL"):
        os.environ["NURTURE_BASE_URL"] = f"http://{host}:{port}"
    try:
        config = load_config()
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    if not config.embedded:
        raise click.ClickException("`nurture up` is the embedded default; unset NURTURE_REDIS_URL, or run web, worker and scheduler")
    from app import create_app
    from workers.embedded import EmbeddedRuntime

    # Serves the app it builds, so it makes its own services rather than take them from the context.
    app = create_app(config)
    services = app.extensions["nurture"]
    init_schema(services)
    counts = sync_campaigns(services, config.campaigns_dir)
    demo_counts = load_demo_data(services)
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
@pass_services  # fail here, with a clear message, if the configuration is wrong
def web(_services, host: str, port: int, workers: int, server: str) -> None:
    """Serve the web UI, API and tracking endpoints with granian (or gunicorn sync workers)."""
    if server == "granian":
        os.execvp(sys.executable, [sys.executable, "-m", "granian", "--interface", "wsgi", "--host", host, "--port",
                                   str(port), "--workers", str(workers), "--blocking-threads", "1",
                                   "--runtime-mode", "st", "--http", "1", "--no-ws", "app.wsgi:app"])
    os.execvp(sys.executable, [sys.executable, "-m", "gunicorn", "--workers", str(workers), "--bind",
                               f"{host}:{port}", "--access-logfile", "-", "app.wsgi:app"])


@main.command()
@click.option("--burst", is_flag=True, help="Exit when the queue is empty.")
@pass_services
def worker(services, burst: bool) -> None:
    """Run an RQ worker on NURTURE_REDIS_URL; start as many as you like, on any machine."""
    from rq import Queue, SimpleWorker

    from workers import runtime

    if services.config.embedded:
        raise click.ClickException("NURTURE_REDIS_URL is not set: workers need Redis (or use `nurture up`)")
    runtime.bind(services)
    queues = [Queue("default", connection=services.redis)]
    SimpleWorker(queues, connection=services.redis).work(burst=burst)


@main.command()
@click.option("--once", is_flag=True, help="Run one tick and exit.")
@pass_services
def scheduler(services, once: bool) -> None:
    """Plan due campaign steps into messages and re-queue stale ones, every few seconds."""
    from workers.scheduler import run_forever, tick

    if services.config.embedded:
        raise click.ClickException("NURTURE_REDIS_URL is not set: the scheduler needs Redis (or use `nurture up`)")
    if once:
        click.echo(json.dumps(tick(services)))
        return
    run_forever(services, interval=services.config.scheduler_interval)


@main.command()
@pass_services
def status(services) -> None:
    """Sending state: messages by status and per campaign, queue depth, failed jobs, alerts."""
    from app.domain.sending.operations import delivery_status

    with services.sessions() as session:
        click.echo(json.dumps(delivery_status(session, services, now=services.now()), indent=2))
