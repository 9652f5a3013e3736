"""Helpers shared by the test areas (import as `support.server`, ...)."""
