"""Client protocols: one module per protocol a client speaks (OpenAI chat completions and models,
Anthropic Messages), on one request path (`serving`, `relay`). Each endpoint takes the gateway
and an authenticated request, and returns a Reply that `src.core` sends."""
