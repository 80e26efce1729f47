"""Budbringer's audience: subscribers, topics, consent, tokens, the public
signup/confirm/preferences/unsubscribe pages, import/export and suppression."""
