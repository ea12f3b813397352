"""Stored work: claiming rows, retrying them with backoff, dead letters, and durable background jobs."""
