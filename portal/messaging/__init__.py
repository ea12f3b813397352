"""Message templates and macros: the ops manager's pages for what buyers are told and one-click actions."""
