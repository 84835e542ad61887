"""Switchyard: one local endpoint for every model."""

__version__ = "0.1.0"
