"""Continuous training: newer data in (refresh), then the same pipeline and gate as a pull request."""
