"""Bounces and complaints: RFC 3464 delivery reports and ARF feedback reports, read and applied."""
