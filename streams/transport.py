"""A Faust consumer that asks the broker for records every 100 ms at most.

faust-streaming 0.15 hard-codes ``fetch_max_wait_ms=1500`` for the worker
consumer (faust/transport/drivers/aiokafka.py, ``_create_worker_consumer``).
Apache Kafka answers a waiting fetch as soon as data arrives, but the
embedded Tansu broker holds it for the whole wait, which measured here as
1-5 s of lag on every hop. Replays run many simulated minutes per wall
second, so the worker asks again after ``consumer_fetch_max_wait_ms``.
"""

from __future__ import annotations

from faust.transport.drivers import aiokafka as driver

from config.settings import get_settings


class _FastFetchThread(driver.AIOKafkaConsumerThread):
    def _create_worker_consumer(self, transport):  # noqa: ANN001, ANN202 - faust's signature
        consumer = super()._create_worker_consumer(transport)
        consumer._fetch_max_wait_ms = get_settings().consumer_fetch_max_wait_ms  # read in start()
        return consumer


class FastFetchConsumer(driver.Consumer):
    def _new_consumer_thread(self) -> driver.AIOKafkaConsumerThread:
        return _FastFetchThread(self, loop=self.loop, beacon=self.beacon)


def install() -> None:
    """Make the aiokafka transport build ``FastFetchConsumer`` (call before the worker starts)."""
    driver.Transport.Consumer = FastFetchConsumer
