"""The agents' queue flow: saved views, next case, presence, availability and automatic assignment."""
