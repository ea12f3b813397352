"""Shops connected to the marketplace: adding one, authorising it, its return addresses and its health."""
