"""People, organizations, login, sessions, second factor and API tokens."""
