"""Group commit for webhook intake: requests hand deliveries to one writer per web process.

The writer is a thread; under gunicorn's gevent workers (service/gunicorn_conf.py) threads, locks and
queues are gevent's, so it is a greenlet and requests wait on it without holding up each other.

A transaction per delivery cost more than the rest of the request put together (bench/ingest.py).
The writer stores whatever arrived while its previous transaction ran as one batch, so under load
the database work per delivery falls, and an idle service still writes each delivery at once.
A request is answered only after its batch has committed (or with an error if it did not).
"""
from __future__ import annotations

import logging
import os
import queue
import threading
from typing import Callable

from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

from service.observability import error_report
from service.storage.database import make_intake_engine
from service.intake.deliveries import Delivery, Stored, store_deliveries
from service.storage.schema_state import RUN_MIGRATIONS, schema_not_migrated

log = logging.getLogger(__name__)

MAX_BATCH = 200
# Bodies of one batch travel in one statement: large deliveries (up to MAX_WEBHOOK_BYTES each) are
# split over several batches rather than building one huge parameter.
MAX_BATCH_BYTES = 16 * 1024 * 1024
# Within what the senders wait for an answer (CJ and TikTok 3 s, Shopify 5 s, with the store lookup and
# the network before it): a 503 they read, and retry, beats a timeout. A write that commits after the
# answer is kept; the retry is then a duplicate.
WAIT_SECONDS = 2.5


class DeliveryNotStored(Exception):
    """The delivery was not confirmed stored: the answer must be non-2xx so the platform sends it again."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


class _Slot:
    """One waiting request: `done` is held until the writer has an outcome for it."""
    __slots__ = ("delivery", "done", "result", "error")

    def __init__(self, delivery: Delivery):
        self.delivery = delivery
        self.done = threading.Lock()
        self.done.acquire()
        self.result: Stored | None = None
        self.error: DeliveryNotStored | None = None


class DeliveryWriter:
    def __init__(self, engine: Engine, *, on_jobs_committed: Callable[[], None], max_batch: int = MAX_BATCH,
                 max_batch_bytes: int = MAX_BATCH_BYTES, wait_seconds: float = WAIT_SECONDS):
        self.engine = make_intake_engine(engine)
        self.on_jobs_committed = on_jobs_committed
        self.max_batch = max_batch
        self.max_batch_bytes = max_batch_bytes
        self.wait_seconds = wait_seconds
        self._lock = threading.Lock()
        self._pid: int | None = None
        self._queue: queue.SimpleQueue[_Slot] | None = None

    def store(self, delivery: Delivery) -> Stored:
        """Store the delivery (or find it a duplicate); returns once that is committed."""
        slot = _Slot(delivery)
        self._queue_of_this_process().put(slot)
        if not slot.done.acquire(timeout=self.wait_seconds):
            raise DeliveryNotStored(503, "storage_timeout", f"the database did not confirm the write within "
                                    f"{self.wait_seconds:.0f} s; retry later")
        if slot.error is not None:
            raise slot.error
        return slot.result

    def _queue_of_this_process(self) -> queue.SimpleQueue[_Slot]:
        # Threads do not survive fork: a forked process (a gunicorn worker) starts its own writer.
        pid = os.getpid()
        if self._pid != pid:
            with self._lock:
                if self._pid != pid:
                    slots: queue.SimpleQueue[_Slot] = queue.SimpleQueue()
                    threading.Thread(target=self._run, args=(slots,), name="delivery-writer", daemon=True).start()
                    self._queue, self._pid = slots, pid
        return self._queue

    def _run(self, slots: queue.SimpleQueue[_Slot]) -> None:
        carried: _Slot | None = None  # taken from the queue but over the byte limit: opens the next batch
        while True:
            batch = [carried or slots.get()]
            carried = None
            size = len(batch[0].delivery.raw_body)
            while len(batch) < self.max_batch:
                try:
                    slot = slots.get_nowait()
                except queue.Empty:
                    break
                size += len(slot.delivery.raw_body)
                if size > self.max_batch_bytes:
                    carried = slot
                    break
                batch.append(slot)
            self._write(batch)

    def _write(self, batch: list[_Slot]) -> None:
        try:
            results = store_deliveries(self.engine, [slot.delivery for slot in batch])
        except Exception as exc:  # noqa: BLE001 - every waiter must get an answer, and none a 2xx
            unmigrated = schema_not_migrated(exc)
            fields = {"deliveries": len(batch), "error": error_report.summary(exc)}
            if unmigrated:
                fields["resolution"] = RUN_MIGRATIONS
            log.warning("database_not_migrated" if unmigrated else "intake_batch_not_stored",
                        exc_info=not isinstance(exc, DBAPIError), extra={"fields": fields})
            for slot in batch:
                slot.error = (DeliveryNotStored(503, "database_not_migrated", f"{RUN_MIGRATIONS}; nothing was "
                                                "stored, retry later")
                              if unmigrated else
                              DeliveryNotStored(503, "database_unavailable", "the database is not reachable; "
                                                "nothing was stored, retry later")
                              if isinstance(exc, DBAPIError) else
                              DeliveryNotStored(500, "internal_error", "the delivery could not be stored; "
                                                "nothing was stored, see the service logs"))
                slot.done.release()
            return
        for slot, result in zip(batch, results):
            slot.result = result
            slot.done.release()
        if any(slot.delivery.job_kind and not result.duplicate for slot, result in zip(batch, results)):
            self.on_jobs_committed()
