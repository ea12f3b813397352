"""A local TikTok Shop stand-in on loopback for the demo and tests: same API, signed notifications."""
