"""A Faust consumer that asks the broker for records every 100 ms at most.

faust-streaming 0.15 hard-codes ``fetch_max_wait_ms=1500`` for the worker
consumer (faust/transport/drivers/aiokafka.py, ``_create_worker_consumer``).
Apache Kafka answers a waiting fetch as soon as data arrives, but the
embedded Tansu broker holds it for the whole wait, which measured here as
1-5 s of lag on every hop. Replays run many simulated minutes per wall
second, so the worker asks again after ``consumer_fetch_max_wait_ms``.

It also keeps a consumer whose partitions are all paused in its group (the stalling consumer,
faust-streaming#175, docs/NOTES.md). faust pauses a partition whose agents' queue is 80 % full
and, when every assigned partition is paused (or none is assigned), sleeps a second instead of
polling. aiokafka counts that as the application not polling: after ``broker_max_poll_interval``
it leaves the group, revokes the partitions, and will not rejoin while still "idle", while
faust waits for the partitions back before it polls again (aio-libs/aiokafka#1187): the worker
stops for good, with records waiting. A Kafka consumer that pauses its partitions still polls;
so here the fetcher's idle clock is reset (an empty fetch context in the consumer's thread)
whenever faust skips a poll because its partitions are paused on purpose, and every second
while its flow waits for partitions to come back (a worker that did leave then rejoins: faust
hands a poll's records to a full queue without polling meanwhile, and with many partitions
several polls may fill it, so a leave after ``broker_max_poll_interval`` remains possible).
"""

from __future__ import annotations

from typing import Any, cast

from faust.transport.drivers import aiokafka as driver

from config.settings import get_settings


class _FastFetchThread(driver.AIOKafkaConsumerThread):
    def _create_worker_consumer(self, transport):  # noqa: ANN001, ANN202 - faust's signature
        consumer = super()._create_worker_consumer(transport)
        consumer._fetch_max_wait_ms = get_settings().consumer_fetch_max_wait_ms  # read in start()
        return consumer

    async def still_polling(self) -> None:
        """Tell aiokafka the application is polling though no partition may be fetched now: an
        empty ``SubscriptionState.fetch_context`` in the consumer's thread restarts the idle clock
        that aiokafka compares with ``max_poll_interval`` (aiokafka 0.14,
        ``consumer/subscription_state.py``). Does nothing before the consumer exists or once closed."""
        if self._consumer is not None:
            await self.call_thread(self._empty_fetch, self._consumer)

    async def _empty_fetch(self, consumer: Any) -> None:
        if not consumer._closed:
            # the object aiokafka's group coordinator reads; its idle clock restarts on exit
            with consumer._subscription.fetch_context():
                pass


class FastFetchConsumer(driver.Consumer):
    def _new_consumer_thread(self) -> driver.AIOKafkaConsumerThread:
        return _FastFetchThread(self, loop=self.loop, beacon=self.beacon)

    async def _wait_next_records(self, timeout: float) -> tuple[Any, Any]:
        # after a leave the flow stays stopped until the partitions come back, and faust waits
        # for that without polling, so aiokafka would never rejoin: poll "empty" every second
        thread = cast(_FastFetchThread, self._thread)
        while not self.flow_active and not self.should_stop:
            await self.wait_for_stopped(self.can_resume_flow, timeout=1.0)  # type: ignore[arg-type]
            if self.should_stop or self.flow_active:
                break
            await thread.still_polling()
        records, active = await super()._wait_next_records(timeout)
        if active is not None and not active and self.flow_active:  # all paused, or none assigned
            await thread.still_polling()
        return records, active


def install() -> None:
    """Make the aiokafka transport build ``FastFetchConsumer`` (call before the worker starts)."""
    driver.Transport.Consumer = FastFetchConsumer
