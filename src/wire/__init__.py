"""Protocol knowledge, without I/O: errors and their statuses, server-sent events, and for each
protocol its envelopes, status tables, in-band error rule and end-of-stream rule."""
