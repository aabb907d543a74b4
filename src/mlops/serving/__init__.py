"""Shipping the model: import into BentoML with its lineage, the service, and its smoke test."""
