"""Signups that arrive together are written together (`subscribers.signups`).

A POST hands its signup to the app's queue and waits for the answer. When nothing is being
written, the queue writes it at once (alone); while a transaction runs, the signups that
arrive meanwhile wait and go together in the next one, at most `BATCH` at a time. So a
quiet page answers as before, and in a rush the database does a few statements per batch
instead of twenty per signup.

What a signup may choose (topics, municipalities, roles) is read once per `REFERENCE_SECONDS`,
as the form's options are, and at once after a change in this process (`forget`).

If a batch fails as a whole (a conflict with another process, the database), each of its
signups is tried again alone, so one cannot take the others with it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING

from aiohttp import web

from subscribers.signups import Answer, Reference, Request, read_reference, sign_up_many

if TYPE_CHECKING:
    from service.runtime import Runtime

log = logging.getLogger(__name__)
BATCH = 200
REFERENCE_SECONDS = 30.0  # as long as the form's options are kept (pages.OPTIONS_SECONDS)


class SignupQueue:
    def __init__(self) -> None:
        self._waiting: list[tuple[Request, asyncio.Future]] = []
        self._writer: asyncio.Task | None = None
        self._reference: tuple[float, Reference] | None = None

    def forget(self) -> None:
        """Topics changed (in this process): read what exists afresh for the next signups."""
        self._reference = None

    async def submit(self, runtime: "Runtime", request: Request) -> Answer:
        future = asyncio.get_running_loop().create_future()
        self._waiting.append((request, future))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write(runtime), name="signups")
        return await future

    async def _write(self, runtime: "Runtime") -> None:
        while self._waiting:
            batch, self._waiting = self._waiting[:BATCH], self._waiting[BATCH:]
            try:
                answers = await self._once(runtime, [r for r, _ in batch])
            except Exception:
                if len(batch) == 1:
                    log.exception("signup failed")
                    _fail(batch[0][1])
                    continue
                log.warning("a batch of %d signups failed; each is tried alone", len(batch), exc_info=True)
                for request, future in batch:
                    try:
                        (answer,) = await self._once(runtime, [request])
                    except Exception:
                        log.exception("signup failed")
                        _fail(future)
                        continue
                    if not future.done():
                        future.set_result(answer)
                continue
            for (_, future), answer in zip(batch, answers):
                if not future.done():  # the request may have gone (client left, server stopping)
                    future.set_result(answer)

    async def _once(self, runtime: "Runtime", requests: list[Request]) -> list[Answer]:
        async with runtime.db.transaction() as s:
            reference = self._reference[1] if self._reference and \
                time.monotonic() - self._reference[0] < REFERENCE_SECONDS else None
            if reference is None:
                reference = await read_reference(s)
                self._reference = (time.monotonic(), reference)
            answers = await sign_up_many(runtime, s, requests, now=runtime.clock.now(), reference=reference)
        runtime.nudges.outbox()  # the confirmation mails: a worker in this process sends them now
        return answers


SIGNUPS: web.AppKey[SignupQueue] = web.AppKey("signups", SignupQueue)


def _fail(future: asyncio.Future) -> None:
    if not future.done():
        future.set_exception(RuntimeError("the signup could not be saved"))
