"""The TikTok Shop connection: webhook inbox and processing, reconciliation, API client, command outbox."""
