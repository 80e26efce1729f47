"""Campaigns: press releases and newsletters.

Read by verb: `compose` (create, edit), `attachments`, `schedule` (schedule, reschedule,
cancel), `release` (the scheduler's job: fan out due campaigns, lift embargoes, finish),
`audience` (who gets it), `correction` ("Rettelse"), `drafts` (a press release written
from new figures), `report` (progress and per-recipient outcome), `render` (the mail),
`archive` (what the public may see, and when).
"""
