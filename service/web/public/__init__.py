"""The public pages, Danish first (`?lang=en` or the subscriber's language):

    /                         signup form (GET), sign up (POST)            signup
    /confirm/{token}          confirm a signup; expired: ask for a new link confirm
    /preferences[/{token}]    "send me my link"; choices, address, my data  preferences
    /confirm-email/{token}    confirm a new address                         preferences
    /unsubscribe/{token}      leave (RFC 8058 one-click included)           unsubscribe
    /feedback/{token}/ja|nej  "Var det nyttigt?"                            feedback
    /archive, /feed.xml       released campaigns and items                  archive
    /kalender, /kalender.ics  the release calendar of the figures           calendar

Handlers parse, call the subscribers' domain (`subscribers.lifecycle`, `.choices`,
`.access`) or the archive, and respond. GET and HEAD never change anything.
"""

from __future__ import annotations

from aiohttp import web

from service.web.public import archive, calendar, confirm, feedback, preferences, signup, unsubscribe
from service.web.public.pages import FORMS, Forms
from service.web.public.signup_queue import SIGNUPS, SignupQueue


def setup(app: web.Application) -> None:
    app[FORMS] = Forms()
    app[SIGNUPS] = SignupQueue()
    for part in (signup, confirm, preferences, unsubscribe, feedback, archive, calendar):
        part.setup(app)
