"""Intake from the marketplace: the signed TikTok Shop webhook and the admin's view of the sync."""
