"""Staff accounts: password hashes, login, server-side sessions, roles."""
