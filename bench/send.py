"""End-to-end sending throughput on PostgreSQL + Redis + RQ workers, against raw smtplib.

    .venv/bin/python bench/send.py [--messages 20000] [--workers 1,2] [--connections 4] [--batch 500]
                                   [--skip-latency] [--skip-tick]

1. Baseline: plain smtplib pushing one prebuilt message over one connection into postfix's
   smtp-sink, as fast as it can; run right before and right after each pipeline run.
2. The pipeline: N contacts with a due step; scheduler ticks plan and enqueue, `nurture worker`
   processes render, send into the same smtp-sink and record every message. With 1 and 2 workers,
   four SMTP connections each (a nearby relay), and the CPU each part used per message.
3. A relay 20 ms away (bench/relay.py): throughput against the number of SMTP connections.
4. Scheduler tick time: 10,000 due steps among 1,000,000 enrollments vs among 10,000.
Everything runs on 127.0.0.1; what the bench starts, it stops.
"""
from __future__ import annotations

import argparse
import os
import shutil
import smtplib
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PG = os.environ.get("NURTURE_BENCH_PG", "postgresql://root@127.0.0.1:5432/test")
REDIS = os.environ.get("NURTURE_BENCH_REDIS", "redis://127.0.0.1:6379/12")
STEP = ("---\nsubject: \"{{ contact.first_name | default('Hi') }}, how repeatable is 5 µm?\"\ndelay: 0s\n---\n"
        + (ROOT / "campaigns/engineer-nurture/01-repeatability.md").read_text().split("---\n", 2)[2])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ensure_smtp_sink() -> str:
    if shutil.which("smtp-sink") is None:
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
        subprocess.run(["apt-get", "install", "-y", "-qq", "postfix"], check=True, env=env, stdout=subprocess.DEVNULL)
    return shutil.which("smtp-sink") or "/usr/sbin/smtp-sink"


class ScratchDatabase:
    def __init__(self):
        import psycopg

        self.admin = psycopg.connect(PG, autocommit=True)
        self.name = f"nurture_bench_{uuid.uuid4().hex[:8]}"
        self.admin.execute(f'CREATE DATABASE "{self.name}"')
        self.url = f"{PG.rsplit('/', 1)[0]}/{self.name}"

    def drop(self):
        self.admin.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


def make_services(env: dict):
    from app import create_app
    from app.config import load_config

    return create_app(load_config(env)).extensions["nurture"]


def prepare(services, tmp: Path) -> int:
    """Schema and one drip campaign with the real engineer step; returns the campaign id."""
    from sqlalchemy import select

    from app.db import upgrade
    from app.domain.campaigns.sync import sync_directory
    from app.models import Campaign

    upgrade(services.engine)
    library = tmp / "campaigns"
    (library / "personas").mkdir(parents=True, exist_ok=True)
    (library / "personas" / "everyone.yml").write_text("name: Everyone\nrules: {field: email, op: exists}\n")
    (library / "bench").mkdir(exist_ok=True)
    (library / "bench" / "campaign.yml").write_text("name: Bench\nkind: drip\npersona: everyone\nstatus: active\n")
    (library / "bench" / "01-step.md").write_text(STEP)
    with services.sessions() as session:
        sync_directory(session, library, templates_dir=ROOT / "templates", postal_address="1 Main St",
                       now=services.now())
        session.commit()
        return session.scalar(select(Campaign.id))


def seed(services, campaign_id: int, contacts: int, due: int) -> None:
    """`contacts` enrolled contacts, of which `due` have their step due now (bulk SQL)."""
    from sqlalchemy import text

    with services.engine.begin() as conn:
        conn.execute(text("TRUNCATE events, messages, enrollments, stage_transitions, contacts RESTART IDENTITY CASCADE"))
        conn.execute(text("""
            INSERT INTO contacts (email, email_domain, first_name, stage, email_status, email_consent, tracking_consent,
                                  fields, score, grade, score_reasons, fit_reasons, created_at, updated_at{extra_columns})
            SELECT 'c' || g || '@d' || (g % 50) || '.example', 'd' || (g % 50) || '.example',
                   (ARRAY['Ana','Bo','Chen','Dara','Émile'])[1 + g % 5], 'nurturing', 'active', true, true,
                   '{{}}', 0, 'D', '[]', '{{}}', now(), now(){extra_values}
            FROM generate_series(1, :n) AS g""".format(**_contact_extras(conn))), {"n": contacts})
        conn.execute(text("""
            INSERT INTO enrollments (contact_id, campaign_id, cycle, status, next_position, next_due_at, source, enrolled_at)
            SELECT id, :campaign, 1, 'active', 0,
                   CASE WHEN id <= :due THEN now() - interval '1 minute' ELSE now() + interval '30 days' END,
                   'bench', now()
            FROM contacts"""), {"campaign": campaign_id, "due": due})
        conn.execute(text("ANALYZE contacts; ANALYZE enrollments"))


def _contact_extras(conn) -> dict[str, str]:
    """Columns without defaults that later schema versions add (a random public id)."""
    from sqlalchemy import inspect

    names = {c["name"] for c in inspect(conn).get_columns("contacts")}
    if "public_id" in names:
        return {"extra_columns": ", public_id", "extra_values": ", md5(g::text || random()::text)"}
    return {"extra_columns": "", "extra_values": ""}


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def cpu_seconds(pids) -> float:
    """User + system CPU time of these processes so far (from /proc; gone processes count 0)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def postgres_pids() -> list[int]:
    return [int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit() and _comm(p) == "postgres"]


def _comm(proc: Path) -> str:
    try:
        return (proc / "comm").read_text().strip()
    except OSError:
        return ""


def vacuum_while(url: str, done: threading.Event, every: float = 3.0) -> None:
    """What autovacuum does in production (this machine's PostgreSQL runs with it off): clear the
    dead row versions that every state change of a message leaves, so index scans stay short."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        while not done.wait(every):
            conn.execute("VACUUM messages, events, enrollments, send_lanes")


LAST_CPU: dict[str, float] = {}  # where the CPU went in the last pipeline run, µs per message


def run_pipeline(env: dict, services, campaign_id: int, messages: int, workers: int,
                 sink_pid: int | None = None) -> tuple[float, list[float]]:
    """Seconds from the first tick until every message is recorded sent; returns (msgs/s, worker RSS MiB)."""
    from redis import Redis
    from sqlalchemy import func, select

    from app.models import Message
    from workers.scheduler import tick

    Redis.from_url(env["NURTURE_REDIS_URL"]).flushdb()
    seed(services, campaign_id, messages, messages)
    processes = [subprocess.Popen([sys.executable, "-m", "app.cli", "worker"], cwd=ROOT, env={**os.environ, **env},
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for _ in range(workers)]
    time.sleep(2.0)  # workers import and connect; the clock starts at the first tick
    start = time.perf_counter()
    # PostgreSQL backends come and go with connections; count the ones alive at the end too.
    pg_before = {pid: cpu_seconds([pid]) for pid in postgres_pids()}
    worker_before = cpu_seconds(p.pid for p in processes)
    own_before = time.process_time()
    sink_before = cpu_seconds([sink_pid]) if sink_pid else 0.0

    def schedule():
        while tick(services, plan_limit=5000)["planned"]:
            pass

    scheduler = threading.Thread(target=schedule)
    scheduler.start()
    done = threading.Event()
    vacuum = threading.Thread(target=vacuum_while, args=(env["NURTURE_DATABASE_URL"], done))
    vacuum.start()
    while True:
        with services.sessions() as session:
            sent = session.scalar(select(func.count()).select_from(Message).where(Message.status == "sent"))
        if sent >= messages:
            break
        if any(p.poll() is not None for p in processes):
            raise SystemExit("a worker died during the bench")
        # Counting costs the database too: look rarely until the end is near.
        time.sleep(0.05 if sent > 0.95 * messages else 0.5)
    elapsed = time.perf_counter() - start
    done.set()
    vacuum.join()
    scheduler.join()
    pg_after = {pid: cpu_seconds([pid]) for pid in postgres_pids()}
    per_message = 1e6 / messages
    LAST_CPU.clear()
    LAST_CPU.update({
        "workers": (cpu_seconds(p.pid for p in processes) - worker_before) * per_message,
        "PostgreSQL": sum(after - pg_before.get(pid, 0.0) for pid, after in pg_after.items()) * per_message,
        "scheduler": (time.process_time() - own_before) * per_message,
        "smtp-sink": (cpu_seconds([sink_pid]) - sink_before) * per_message if sink_pid else 0.0})
    memory = [rss_mib(p.pid) for p in processes]
    for p in processes:
        p.terminate()
    for p in processes:
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:  # still in a job after 10 s: it must not linger into the next run
            p.kill()
            p.wait()
    return messages / elapsed, memory


def baseline_smtplib(port: int, messages: int, raw: bytes) -> float:
    client = smtplib.SMTP("127.0.0.1", port, timeout=30)
    start = time.perf_counter()
    for i in range(messages):
        client.sendmail("hello@brightline.example", [f"c{i}@d{i % 50}.example"], raw)
    elapsed = time.perf_counter() - start
    client.quit()
    return messages / elapsed


def sample_message(services) -> bytes:
    from sqlalchemy import select

    from app.domain.messages.composing import build_mime, render_message
    from app.models import Message

    with services.sessions() as session:
        message = session.scalars(select(Message).limit(1)).first()
        return build_mime(services, message, render_message(services, message), services.now())[1]


def tick_times(services, campaign_id: int, rounds: int = 3) -> tuple[float, float]:
    """Median tick time for 10,000 due steps among 1,000,000 enrollments, then among 10,000. Between
    rounds the same steps are made due again and enrollments vacuumed, as autovacuum would (it is
    off on this machine's PostgreSQL), and a checkpoint writes the setup's pages out, so no round
    pays for flushing the bulk load before it."""
    import statistics

    from redis import Redis
    from sqlalchemy import text

    from workers.scheduler import tick

    def settle_storage():
        with services.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE enrollments"))
            conn.execute(text("CHECKPOINT"))

    medians = []
    for total in (1_000_000, 10_000):
        seed(services, campaign_id, total, 10_000)
        settle_storage()
        times = []
        for _ in range(rounds):
            Redis.from_url(REDIS).flushdb()
            start = time.perf_counter()
            planned = tick(services, plan_limit=10_000)["planned"]
            times.append(time.perf_counter() - start)
            assert planned == 10_000, planned
            with services.engine.begin() as conn:
                conn.execute(text("TRUNCATE events, messages CASCADE"))
                conn.execute(text("""
                    UPDATE enrollments SET status = 'active', next_position = 0, ended_at = NULL,
                                           next_due_at = now() - interval '1 minute'
                    WHERE id <= 10000"""))
            settle_storage()
        medians.append(statistics.median(times))
    return medians[0], medians[1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=20000)
    parser.add_argument("--skip-latency", action="store_true")
    parser.add_argument("--skip-tick", action="store_true")
    # The product's default: a job drives its connections in rounds, so one journal write covers
    # a message on each. Distant relays want more (the relay sweep below).
    parser.add_argument("--connections", type=int, default=4,
                        help="SMTP connections per worker into smtp-sink (the default of NURTURE_SMTP_CONNECTIONS)")
    parser.add_argument("--workers", default="1,2", help="worker process counts to measure, comma-separated")
    parser.add_argument("--batch", type=int, default=500, help="messages per send job (the default of NURTURE_SEND_BATCH_SIZE)")
    args = parser.parse_args()
    sink_bin = ensure_smtp_sink()
    sink_port = free_port()
    sink = subprocess.Popen([sink_bin, "-u", "nobody", f"127.0.0.1:{sink_port}", "1024"], stdout=subprocess.DEVNULL)
    db = ScratchDatabase()
    tmp = Path(f"/tmp/{db.name}")
    tmp.mkdir()
    env = {"NURTURE_DATABASE_URL": db.url, "NURTURE_REDIS_URL": REDIS, "NURTURE_SECRET_KEY": "bench-0123456789abcdef0123456789abcdef",
           "NURTURE_SMTP_URL": f"smtp://127.0.0.1:{sink_port}?timeout=30", "NURTURE_BASE_URL": "https://go.example.com",
           "NURTURE_FROM": "Brightline Motion <hello@brightline.example>", "NURTURE_INSTANCE_PATH": str(tmp),
           "NURTURE_SMTP_CONNECTIONS": str(args.connections), "NURTURE_SEND_BATCH_SIZE": str(args.batch), "NURTURE_SMTP_MAX_CONNECTIONS": "128"}
    relay = None
    try:
        services = make_services(env)
        campaign_id = prepare(services, tmp)
        time.sleep(0.5)
        seed(services, campaign_id, 1, 1)
        from app.domain.qualification.rescoring import mark_rescored
        from workers.scheduler import tick
        with services.sessions() as session:  # a full re-score is not what this measures: none is due
            mark_rescored(session, now=services.now())
            session.commit()
        tick(services)
        raw = sample_message(services)
        for workers in (int(n) for n in args.workers.split(",")):
            # Measured right before and right after each pipeline run, so drift on a shared host
            # moves both sides of the ratio alike.
            before = baseline_smtplib(sink_port, args.messages, raw)
            rate, memory = run_pipeline(env, services, campaign_id, args.messages, workers, sink.pid)
            after = baseline_smtplib(sink_port, args.messages, raw)
            base = (before + after) / 2
            print(f"baseline: smtplib, prebuilt {len(raw) / 1024:.1f} KiB message, one connection → smtp-sink: "
                  f"{base:,.0f} msgs/s ({before:,.0f} before the pipeline run, {after:,.0f} after)")
            print(f"pipeline: {args.messages:,} due sends, scheduler + Redis + {workers} worker process(es) × "
                  f"{env['NURTURE_SMTP_CONNECTIONS']} connections, render + bookkeeping on PostgreSQL → smtp-sink: "
                  f"{rate:,.0f} msgs/s = {rate / base:.2f}× baseline; worker RSS {', '.join(f'{m:.0f}' for m in memory)} MiB")
            print("          CPU per message: " + ", ".join(f"{name} {us:.0f} µs" for name, us in LAST_CPU.items())
                  + f" (all {sum(LAST_CPU.values()):.0f} µs; 2 cores give {2e6 / rate:.0f} µs per message at this rate)")
        if not args.skip_latency:
            relay_port = free_port()
            relay = subprocess.Popen([sys.executable, str(ROOT / "bench/relay.py"), str(relay_port), "0.02"],
                                     stdout=subprocess.PIPE)
            relay.stdout.readline()
            for connections in (1, 8, 32, 64):
                per_worker = max(1, connections // 2)
                latency_env = {**env, "NURTURE_SMTP_URL": f"smtp://127.0.0.1:{relay_port}?timeout=30",
                               "NURTURE_SMTP_CONNECTIONS": str(per_worker),
                               "NURTURE_SEND_BATCH_SIZE": str(per_worker * 40)}
                count = max(200, min(args.messages, connections * 150))  # ~150 per connection: sustained, not start-up
                rate, _ = run_pipeline(latency_env, make_services(latency_env), campaign_id, count,
                                       2 if connections > 1 else 1)
                print(f"relay 20 ms away: {connections:>3} connection(s) ({'2 workers' if connections > 1 else '1 worker'}): "
                      f"{rate:,.0f} msgs/s ({count} messages)")
        if not args.skip_tick:
            among_million, among_ten_thousand = tick_times(services, campaign_id)
            print(f"scheduler tick, 10,000 due (median of 3): among 1,000,000 enrollments {among_million:.2f} s, "
                  f"among 10,000 {among_ten_thousand:.2f} s, ratio {among_million / among_ten_thousand:.2f}× (target ≤ 1.5×)")
    finally:
        sink.terminate()
        if relay is not None:
            relay.terminate()
        try:
            services.engine.dispose()
        except NameError:
            pass
        db.drop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
