"""RQ job entry points and the periodic scheduler: short functions that load by id and call the domain."""
