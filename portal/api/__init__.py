"""The JSON API for ERPs and scripts, under /api/v1, authenticated by bearer tokens."""
