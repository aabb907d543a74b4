"""The user's table: reading it, its contract (schema.yaml), and the bundled example generator."""
