"""Hard limits that keep hostile or runaway policies harmless."""

# The policy editor stores policies in the database and checks them on every save, so
# every limit is an ordinary error with a sentence, never a crash or a long stall.
MAX_SOURCE_BYTES: int = 256 * 1024
MAX_DEPTH: int = 32
MAX_RULES: int = 5_000
MAX_EXAMPLES: int = 5_000
MAX_STRING_LENGTH: int = 1_000
MAX_TOKENS_PER_STATEMENT: int = 2_000
