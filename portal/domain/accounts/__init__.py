"""Sign-in state of portal users: sessions, throttling of attempts, and the optional second factor."""
