"""Signups that arrive together are written together (`subscribers.signups`).

A POST hands its signup to the app's queue and waits for the answer. When nothing is being
written, the queue writes it at once (alone); while a transaction runs, the signups that
arrive meanwhile wait and go together in the next one, at most `BATCH` at a time. So a
quiet page answers as before, and in a rush the database does a few statements per batch
instead of twenty per signup.

If a batch fails as a whole (a conflict with another process, the database), each of its
signups is tried again alone, so one cannot take the others with it.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from aiohttp import web

from subscribers.signups import Answer, Request, sign_up_many

if TYPE_CHECKING:
    from service.runtime import Runtime

log = logging.getLogger(__name__)
BATCH = 200


class SignupQueue:
    def __init__(self) -> None:
        self._waiting: list[tuple[Request, asyncio.Future]] = []
        self._writer: asyncio.Task | None = None

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

    @staticmethod
    async def _once(runtime: "Runtime", requests: list[Request]) -> list[Answer]:
        async with runtime.db.transaction() as s:
            answers = await sign_up_many(runtime, s, requests, now=runtime.clock.now())
        runtime.nudges.outbox()  # the confirmation mails: a worker in this process sends them now
        return answers


SIGNUPS: web.AppKey[SignupQueue] = web.AppKey("signups", SignupQueue)


def _fail(future: asyncio.Future) -> None:
    if not future.done():
        future.set_exception(RuntimeError("the signup could not be saved"))
