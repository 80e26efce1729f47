"""Send rate caps (per second and per hour) for one process, as leaky buckets."""

from __future__ import annotations

from aiolimiter import AsyncLimiter

from service.settings import DeliverySettings


class SendRate:
    def __init__(self, settings: DeliverySettings):
        self._limiters = []
        if settings.rate_per_second > 0:
            rate = settings.rate_per_second
            self._limiters.append(AsyncLimiter(rate, 1) if rate >= 1 else AsyncLimiter(1, 1 / rate))
        if settings.rate_per_hour > 0:
            self._limiters.append(AsyncLimiter(settings.rate_per_hour, 3600))

    @property
    def limited(self) -> bool:
        return bool(self._limiters)

    async def wait(self) -> None:
        for limiter in self._limiters:
            await limiter.acquire()
