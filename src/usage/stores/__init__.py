"""The usage store's implementations, one per database: `sqlite` (a file, written from a thread)
and `postgres` (a server, written from an asyncio task; its schema in `postgres_schema`).
`src.usage.store.open_store(database)` picks one; nothing else needs to import them."""
