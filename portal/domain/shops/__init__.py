"""Marketplace shops as data: authorising one, its encrypted tokens, their refresh, de-authorisation."""
