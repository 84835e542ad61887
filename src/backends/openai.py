"""Any OpenAI-compatible server: OpenAI, vLLM, Ollama, LM Studio, llama.cpp... The key is optional."""

from __future__ import annotations

from src.backends.http import HttpBackend


class OpenAIBackend(HttpBackend):
    pass
