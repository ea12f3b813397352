"""The conversation with the buyer: templates, the outbox and its channels, replies, and macros."""
