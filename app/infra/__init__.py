"""Infrastructure behind plain functions: the RQ queue (every job name and enqueue), the Redis
structures (the hit buffer, relay slots, throttle counters), the RESP client of the tracking fast
path, and the statements that only PostgreSQL understands. The domain calls these; they never call
the domain, and they know nothing of Flask."""
