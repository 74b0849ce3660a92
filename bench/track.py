"""Tracking endpoints under load: the open pixel and the click redirect against two baselines.

    .venv/bin/python bench/track.py [--duration 5] [--rounds 3] [--connections 64] [--servers gunicorn,granian]

Everything runs on 127.0.0.1 and is stopped at the end. Baselines, measured in the same run:
  nginx     nginx's empty_gif: the physical limit of this machine
  flask     a bare Flask view returning the same GIF, under the same server settings (gunicorn sync ×2)
and the real endpoints doing all their work (verify the token, push the hit to Redis, answer; the
click also resolves its destination). Afterwards the queued hits are drained into PostgreSQL and
counted: every request the server answered must be exactly one event. Needs PostgreSQL and Redis on
127.0.0.1 (NURTURE_TEST_PG, NURTURE_BENCH_TRACK_REDIS); installs nginx and wrk with apt-get when missing.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from contextlib import ExitStack
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PG_ADMIN_URL = os.environ.get("NURTURE_TEST_PG", "postgresql://root@127.0.0.1:5432/test")
# A database of its own: bench/send flushes db 12, and a flush mid-drain would look like lost hits.
REDIS_URL = os.environ.get("NURTURE_BENCH_TRACK_REDIS", "redis://127.0.0.1:6379/11")
DRAINERS = 2
BARE_FLASK = '''
import base64
from flask import Flask, Response
app = Flask(__name__)
PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
@app.get("/t/o/<token>.gif")
def pixel(token):
    return Response(PIXEL, mimetype="image/gif", headers={"Cache-Control": "no-store, no-cache, must-revalidate, private"})
'''
NGINX = '''
worker_processes 2;
pid {dir}/nginx.pid;
error_log {dir}/error.log;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  client_body_temp_path {dir}; proxy_temp_path {dir}; fastcgi_temp_path {dir}; uwsgi_temp_path {dir}; scgi_temp_path {dir};
  server {{ listen 127.0.0.1:{port}; location / {{ empty_gif; }} }}
}}
'''
WRK_PATHS = '''
local paths = {{{paths}}}
local i = 0
request = function()
  i = i + 1
  return wrk.format("GET", paths[(i % #paths) + 1], {{["User-Agent"] = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15"}})
end
'''


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ensure_tools() -> None:
    missing = [tool for tool in ("nginx", "wrk") if not shutil.which(tool) and not Path(f"/usr/sbin/{tool}").exists()]
    if missing:
        if os.geteuid() != 0:
            sys.exit(f"bench/track needs {', '.join(missing)}: run as root or install them")
        print(f"installing {' '.join(missing)} …", flush=True)
        subprocess.run(["apt-get", "update", "-qq"], check=True)
        subprocess.run(["apt-get", "install", "-y", "-qq", *missing], check=True,
                       env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})


def ensure_python(package: str) -> None:
    try:
        __import__(package)
    except ImportError:
        print(f"installing {package} into the venv …", flush=True)
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", package], check=True)


def wait_http(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"no answer from {url} within {timeout}s")


def start(stack: ExitStack, argv: list[str], env: dict | None = None, cwd: Path = ROOT) -> subprocess.Popen:
    process = subprocess.Popen(argv, cwd=cwd, env={**os.environ, **(env or {})}, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, start_new_session=True)

    def stop():
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
    stack.callback(stop)
    return process


def server_argv(server: str, module: str, port: int, workers: int) -> list[str]:
    if server == "granian":
        return [sys.executable, "-m", "granian", "--interface", "wsgi", "--host", "127.0.0.1", "--port", str(port),
                "--workers", str(workers), "--blocking-threads", "1", "--runtime-mode", "st", "--http", "1",
                "--no-ws", "--log-level", "warning", module]
    return [sys.executable, "-m", "gunicorn", "--workers", str(workers), "--worker-class", "sync", "--bind",
            f"127.0.0.1:{port}", "--log-level", "warning", "--backlog", "2048", module]


def wrk(url: str, paths: list[str], *, duration: int, connections: int, threads: int = 2) -> dict:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(WRK_PATHS.format(paths=",".join(f'"{p}"' for p in paths)))
    try:
        out = subprocess.run(["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--latency", "--timeout",
                              "5s", "-s", script.name, url], capture_output=True, text=True,
                             timeout=duration + 30).stdout
    finally:
        os.unlink(script.name)

    def latency(label: str) -> float:
        match = re.search(rf"^\s*{label}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        value, unit = float(match.group(1)), match.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(r"Socket errors: (.*)", out)
    return {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
            "requests": int(re.search(r"(\d+) requests in", out).group(1)),
            "p50": latency("50"), "p99": latency("99"), "bad": int(errors.group(1)) if errors else 0,
            "socket_errors": socket_errors.group(1) if socket_errors else ""}


def prepare_database(env: dict, messages: int) -> tuple[list[str], list[str]]:
    """A migrated PostgreSQL database with one campaign and `messages` sent emails; their pixel and click paths."""
    from datetime import timedelta

    from sqlalchemy import select

    from app import create_app
    from app.config import load_config
    from app.db import upgrade
    from app.domain.campaigns.sync import sync_directory
    from app.domain.engagement.arrivals import upsert_contact
    from app.models import Campaign, Message, Step

    app = create_app(load_config(env))
    services = app.extensions["nurture"]
    upgrade(services.engine)
    now = services.now()
    pixels, clicks = [], []
    with services.sessions() as session:
        sync_directory(session, ROOT / "campaigns", templates_dir=ROOT / "templates",
                       postal_address=services.config.postal_address, now=now)
        campaign = session.scalar(select(Campaign).where(Campaign.kind == "drip").order_by(Campaign.id))
        step = session.scalar(select(Step).where(Step.campaign_id == campaign.id).order_by(Step.position))
        for i in range(messages):
            contact, _ = upsert_contact(session, {"email": f"bench{i}@example.org", "first_name": "Bench"}, now=now)
            message = Message(public_id=uuid.uuid4().hex, contact_id=contact.id, campaign_id=campaign.id,
                              step_id=step.id, step_version_id=step.current_version_id, to_email=contact.email,
                              subject="bench", status="sent", created_at=now, sent_at=now - timedelta(hours=2))
            session.add(message)
            session.flush()
            pixels.append(f"/t/o/{services.tokens.sign('open', message.public_id)}.gif")
            clicks.append(f"/t/c/{services.tokens.sign('click', message.public_id, 0)}")
        session.commit()
    services.engine.dispose()
    return pixels, clicks


def drain_and_count(env: dict) -> dict:
    from sqlalchemy import func, select

    from app import create_app
    from app.config import load_config
    from app.infra import hit_buffer
    from app.models import Event

    services = create_app(load_config(env)).extensions["nurture"]
    queued = hit_buffer.backlog(services.redis)
    started = time.perf_counter()
    drainers = [subprocess.Popen([sys.executable, "-m", "app.cli", "tracking", "drain"], cwd=ROOT,
                                 env={**os.environ, **env}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                for _ in range(DRAINERS)]  # several at once are safe (atomic claims, idempotent writes)
    outputs = [d.communicate(timeout=1800) for d in drainers]
    seconds = time.perf_counter() - started
    summaries = [json.loads(out.strip().splitlines()[-1]) for out, _ in outputs if out.strip()]
    written = sum(summary.get("written", 0) for summary in summaries)
    errors = [summary["error"] for summary in summaries if summary.get("error")]
    errors += [err.strip().splitlines()[-1] for out, err in outputs if not out.strip() and err.strip()]
    left = hit_buffer.backlog(services.redis)
    if left:
        errors.append(f"{left:,} hits still queued after the drain")
    result = type("Drained", (), {"written": written, "error": "; ".join(errors) or None})
    with services.sessions() as session:
        counts = dict(session.execute(select(Event.type, func.count()).where(Event.type.in_(["email_open", "email_click"]))
                                      .group_by(Event.type)).all())
        distinct = session.scalar(select(func.count(func.distinct(Event.dedupe_key))).where(
            Event.type.in_(["email_open", "email_click"])))
    services.engine.dispose()
    return {"queued": queued, "written": result.written, "drain_seconds": seconds, "opens": counts.get("email_open", 0),
            "clicks": counts.get("email_click", 0), "distinct": distinct, "error": result.error}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=3, help="seconds per wrk run")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--messages", type=int, default=1000, help="distinct emails whose links are hit")
    parser.add_argument("--servers", default="gunicorn,granian",
                        help="servers for the real endpoints, comma-separated (gunicorn sync, granian); the Flask "
                             "baseline always runs under gunicorn sync")
    parser.add_argument("--rounds", type=int, default=3,
                        help="interleaved rounds; the median round of each target is reported (shared machines are noisy)")
    args = parser.parse_args()
    ensure_tools()
    servers = [name.strip() for name in args.servers.split(",") if name.strip()]
    if not servers or set(servers) - {"gunicorn", "granian"}:
        parser.error("--servers takes gunicorn and/or granian")
    ensure_python("gunicorn")
    if "granian" in servers:
        ensure_python("granian")
    import psycopg
    from redis import Redis

    admin = psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5)
    database = f"nurture_bench_{uuid.uuid4().hex[:8]}"
    admin.execute(f'CREATE DATABASE "{database}"')
    redis = Redis.from_url(REDIS_URL)
    redis.flushdb()
    work = Path(tempfile.mkdtemp(prefix="nurture-bench-"))
    env = {"NURTURE_DATABASE_URL": f"{PG_ADMIN_URL.rsplit('/', 1)[0]}/{database}", "NURTURE_REDIS_URL": REDIS_URL,
           "NURTURE_SECRET_KEY": "bench-secret-0123456789abcdef0123456789abcdef", "NURTURE_BASE_URL": "https://nurture.bench",
           "NURTURE_INSTANCE_PATH": str(work)}
    results: dict[str, dict] = {}
    try:
        with ExitStack() as stack:
            print(f"preparing {args.messages} sent emails in {database} …", flush=True)
            pixels, clicks = prepare_database(env, args.messages)
            redis.flushdb()

            nginx_port = free_port()
            (work / "nginx.conf").write_text(NGINX.format(dir=work, port=nginx_port))
            nginx = "nginx" if shutil.which("nginx") else "/usr/sbin/nginx"
            start(stack, [nginx, "-c", str(work / "nginx.conf"), "-p", str(work), "-g", "daemon off;"])
            wait_http(f"http://127.0.0.1:{nginx_port}/")

            (work / "bare_flask.py").write_text(BARE_FLASK)
            flask_port = free_port()
            start(stack, server_argv("gunicorn", "bare_flask:app", flask_port, args.workers), cwd=work,
                  env={"PYTHONPATH": str(work)})
            wait_http(f"http://127.0.0.1:{flask_port}{pixels[0]}")

            targets = [("nginx empty_gif", f"http://127.0.0.1:{nginx_port}", ["/t/o/x.gif"]),
                       ("bare Flask GIF (gunicorn sync ×2)", f"http://127.0.0.1:{flask_port}", pixels)]
            warmup = 0
            for server in servers:
                port = free_port()
                start(stack, server_argv(server, "app.wsgi:app", port, args.workers), env=env)
                wait_http(f"http://127.0.0.1:{port}/login")
                for path in pixels + clicks:  # warm up every worker's caches; these hits are counted too
                    _get(port, path)
                warmup += len(pixels) + len(clicks)
                label = "gunicorn sync" if server == "gunicorn" else server
                targets += [(f"open pixel ({label} ×{args.workers})", f"http://127.0.0.1:{port}", pixels),
                            (f"click redirect ({label} ×{args.workers})", f"http://127.0.0.1:{port}", clicks)]

            print(f"wrk: {args.connections} connections, {args.duration}s a run, 2 threads, {args.rounds} rounds …",
                  flush=True)
            runs: dict[str, list[dict]] = {label: [] for label, _, _ in targets}
            for _ in range(args.rounds):
                for label, url, paths in targets:
                    runs[label].append(wrk(url, paths, duration=args.duration, connections=args.connections))
            for label, measured in runs.items():
                results[label] = sorted(measured, key=lambda r: r["rps"])[len(measured) // 2]
                results[label]["all_requests"] = sum(r["requests"] for r in measured)
        counted = drain_and_count(env)
    finally:
        redis.flushdb()
        admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        admin.close()
        shutil.rmtree(work, ignore_errors=True)

    report(results, counted, warmup, args)


def _get(port: int, path: str) -> None:
    import http.client

    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    connection.request("GET", path, headers={"User-Agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/127.0"})
    connection.getresponse().read()
    connection.close()


def report(results: dict, counted: dict, warmup: int, args) -> None:
    nginx = results["nginx empty_gif"]["rps"]
    flask = results["bare Flask GIF (gunicorn sync ×2)"]["rps"]
    print(f"\nmedian of {args.rounds} rounds, {args.connections} connections:")
    print(f"{'':40} {'req/s':>10} {'p50 ms':>8} {'p99 ms':>8} {'÷ nginx':>8} {'÷ Flask':>8}  non-2xx/3xx")
    for label, r in results.items():
        print(f"{label:40} {r['rps']:>10,.0f} {r['p50']:>8.2f} {r['p99']:>8.2f} {r['rps'] / nginx:>8.3f} "
              f"{r['rps'] / flask:>8.2f}  {r['bad']}{'  socket errors: ' + r['socket_errors'] if r['socket_errors'] else ''}")
    real = {k: r for k, r in results.items() if k.startswith(("open pixel", "click redirect"))}
    counted_by_wrk = sum(r["all_requests"] for r in real.values()) + warmup
    events = counted["opens"] + counted["clicks"]
    print(f"\nhits queued by the servers: {counted['queued']:,}; drained by {DRAINERS} drainer(s) in "
          f"{counted['drain_seconds']:.1f}s ({counted['written'] / max(counted['drain_seconds'], 1e-9):,.0f} events/s, "
          f"with scoring)")
    print(f"events written: {events:,} ({counted['opens']:,} opens, {counted['clicks']:,} clicks), "
          f"distinct hit ids: {counted['distinct']:,}")
    slack = 2 * args.connections * len(real) * args.rounds
    print(f"responses wrk counted (with {warmup:,} warm-up requests): {counted_by_wrk:,}; requests in flight when a "
          f"wrk run stops are answered but not counted by wrk (at most {slack:,} here)")
    exact = events == counted["queued"] == counted["distinct"] and 0 <= events - counted_by_wrk <= slack
    print(f"every request became exactly one event: {'yes' if exact else 'NO'}"
          + (f" ({counted['error']})" if counted["error"] else ""))
    for server in sorted({k.split("(")[1].split(" ×")[0] for k in real}):
        mine = [r for k, r in real.items() if f"({server} ×" in k]
        met = min(r["rps"] for r in mine) >= flask and max(r["p99"] for r in mine) < 20
        print(f"target with {server} (pixel and click ≥ bare Flask req/s, p99 < 20 ms): {'met' if met else 'NOT met'}"
              f" — lowest {min(r['rps'] for r in mine) / flask:.2f}× Flask, worst p99 {max(r['p99'] for r in mine):.1f} ms")


if __name__ == "__main__":
    main()
