"""Per-recipient render cost: the cached pipeline vs running premailer for every recipient.

    .venv/bin/python bench/render.py [--recipients 2000]

Both paths produce the same finished message bytes (merge, signed links, pixel, MIME). The cached
path compiles each step version once (Markdown, layout, premailer) and only merges per recipient.
"""
from __future__ import annotations

import argparse
import resource
import statistics
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.config import load_config  # noqa: E402
from app.domain.campaigns.files import load_library  # noqa: E402
from app.domain.messages.composing import build_mime  # noqa: E402
from app.domain.messages.rendering import compile_step, merge_context, render  # noqa: E402
from app.domain.messages.links import Tokens  # noqa: E402


def recipients(n: int) -> list[dict]:
    names = ["Ana", "Bo", "Chen", "Dara", "Émile", "Farah", "Grete", "Hiro", "", "Jo"]
    return [{"email": f"user{i}@example.org", "first_name": names[i % len(names)],
             "company": f"Company {i}" if i % 3 else None, "title": "Controls Engineer"} for i in range(n)]


def one(compiled, contact: dict, i: int, services) -> bytes:
    public_id = f"{i:032x}"
    tokens = services.tokens
    out = render(compiled, merge_context(contact, "engineer", "medium"),
                 link_url=lambda k: tokens.click_url(public_id, k), pixel_url=tokens.open_url(public_id),
                 unsubscribe_url=tokens.unsubscribe_url(public_id))
    message = SimpleNamespace(public_id=public_id, kind="nurture", to_email=contact["email"], campaign_id=1,
                              step_id=1, campaign=SimpleNamespace(from_name="Dana at Brightline"))
    return build_mime(services, message, out, datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc))[1]


def measure(label: str, fn, people: list[dict]) -> list[float]:
    timings = []
    for i, person in enumerate(people):
        start = time.perf_counter()
        fn(person, i)
        timings.append((time.perf_counter() - start) * 1e6)
    q = statistics.quantiles(timings, n=100)
    print(f"{label:<34} {statistics.mean(timings):>9.1f} µs/recipient   p50 {q[49]:>8.1f}   p99 {q[98]:>8.1f}"
          f"   ({len(people)} recipients, {sum(timings) / 1e6:.2f} s)")
    return timings


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--recipients", type=int, default=2000)
    args = parser.parse_args()
    config = load_config({"NURTURE_SECRET_KEY": "bench-0123456789abcdef0123456789abcdef", "NURTURE_INSTANCE_PATH": "/tmp/nurture-bench",
                          "NURTURE_FROM": "Brightline <hello@brightline.example>"})
    services = SimpleNamespace(config=config, tokens=Tokens("bench", "https://go.example.com"))
    library, problems = load_library(ROOT / "campaigns", ROOT / "templates", config.postal_address)
    assert not problems, problems
    steps = [s for c in library.campaigns for s in c.steps]
    print(f"shipped layouts, {len(steps)} shipped steps; message size ≈ "
          f"{len(one(compile_step(steps[0].content_hash, steps[0].subject, steps[0].preheader, steps[0].body, steps[0].layout, str(config.templates_dir), config.postal_address), recipients(1)[0], 0, services)) / 1024:.1f} KiB")

    def compiled_for(i: int, cached: bool):
        s = steps[i % len(steps)]
        compile_fn = compile_step if cached else compile_step.__wrapped__
        key = s.content_hash if cached else f"{s.content_hash}-{i}"
        return compile_fn(key, s.subject, s.preheader, s.body, s.layout, str(config.templates_dir), config.postal_address)

    for i in range(len(steps)):  # warm the cache once per step version, as a worker does on its first batch
        compiled_for(i, True)
    people = recipients(args.recipients)
    cached = measure("cached pipeline (merge + links + MIME)", lambda p, i: one(compiled_for(i, True), p, i, services), people)
    slow_people = people[: max(100, args.recipients // 10)]
    uncached = measure("premailer per recipient", lambda p, i: one(compiled_for(i, False), p, i, services), slow_people)
    ratio = statistics.mean(uncached) / statistics.mean(cached)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"ratio: cached path is {ratio:.1f}× cheaper per recipient (target ≥ 20×); "
          f"{1e6 / statistics.mean(cached):,.0f} renders/s on one core; max RSS {rss:.0f} MiB")


if __name__ == "__main__":
    main()
