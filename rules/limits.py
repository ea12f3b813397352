"""Hard limits that keep hostile or runaway policies harmless."""

# The policy editor stores policies in the database and checks them on every save, so
# every limit is an ordinary error with a sentence, never a crash or a long stall.
MAX_SOURCE_BYTES: int = 256 * 1024
MAX_DEPTH: int = 32
# Operations inside one another in a statement, counting each sign of a chain like `a + b + c`: the
# compiled code nests one call per operation and Python's parser stops near 200.
MAX_EXPRESSION_DEPTH: int = 64
MAX_RULES: int = 5_000
MAX_EXAMPLES: int = 5_000
MAX_STRING_LENGTH: int = 1_000
MAX_TOKENS_PER_STATEMENT: int = 2_000

# Action arguments an ops manager can mean: a deadline within a year, an amount up to a million in the
# case currency. Anything past these is a typo (600000 weeks), and it would overflow dates downstream.
MAX_DURATION_DAYS: int = 366
MAX_DURATION_SECONDS: int = MAX_DURATION_DAYS * 86_400
MAX_AMOUNT: int = 1_000_000
# Seconds one check of a policy in the editor may take before it stops with an error.
CHECK_SECONDS: float = 10.0
