"""The scheduler's health for admins, and the deadline and business-hours settings per market."""

from portal.scheduling.views import bp

__all__ = ["bp"]
