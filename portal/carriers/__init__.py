"""Carrier tracking webhooks (AfterShip, 17TRACK) and the stale-tracking check."""
