"""What several processes of the proxy share so that they behave as one: per-key limits and budgets
(leased to each process, reconciled in one call per interval) and cooldowns (published at once).
Through Redis across machines (`redis_store`), or a SQLite file for the workers of one machine
(`file_store`). Nothing here is on a request's path: a background task does every round trip."""
