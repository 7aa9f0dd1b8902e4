"""The throughput benchmark of smtp_backend against its Python peers (see README.md)."""
