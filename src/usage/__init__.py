"""Usage: what each request cost and did, recorded off the hot path.

The building blocks behind usage recording, budgets, `/metrics` and model discovery:
records and token counts (`record`), cost (`pricing`), the SQLite store (`schema`, `store`),
time windows (`since`), per-key budgets and rate limits (`limits`), Prometheus metrics
(`metrics`), the `models` listing with "did you mean" (`models_listing`) and the `usage`
report (`report`). Everything here is independent of the request path that feeds it.
"""
