"""DeliveryWriter: group commit of webhook deliveries, one writer thread per process."""
from __future__ import annotations

import threading
import time
from unittest import mock

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from service.intake import delivery_writer
from service.intake.delivery_writer import DeliveryNotStored, DeliveryWriter
from service.storage.models import Job, WebhookEvent
from tests.service.intake.test_deliveries import delivery


def count(session_factory, model):
    with session_factory() as s:
        return s.scalar(select(func.count()).select_from(model))


class HeldWriter:
    """Lets a test hold the writer inside its first batch, so that later deliveries pile up."""

    def __init__(self):
        self.release = threading.Event()
        self.batches: list[int] = []
        self.real = delivery_writer.store_deliveries

    def __call__(self, engine, deliveries):
        self.batches.append(len(deliveries))
        if len(self.batches) == 1:
            assert self.release.wait(10)
        return self.real(engine, deliveries)


def store_in_threads(writer, deliveries):
    results, errors = [None] * len(deliveries), [None] * len(deliveries)

    def send(i):
        try:
            results[i] = writer.store(deliveries[i])
        except Exception as exc:  # noqa: BLE001 - collected for the assertions
            errors[i] = exc
    threads = [threading.Thread(target=send, args=(i,)) for i in range(len(deliveries))]
    for t in threads:
        t.start()
    return threads, results, errors


def wait_for(predicate, timeout=10):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.005)


def store_while_first_write_is_held(writer, sends) -> tuple[list[int], list, list]:
    """The first delivery's write is held until all the others are queued; returns the batch sizes
    the writer used, and each delivery's result and error."""
    held = HeldWriter()
    with mock.patch.object(delivery_writer, "store_deliveries", held):
        threads, results, errors = store_in_threads(writer, sends[:1])
        wait_for(lambda: held.batches == [1])
        more_threads, more_results, more_errors = store_in_threads(writer, sends[1:])
        wait_for(lambda: writer._queue.qsize() == len(sends) - 1)
        held.release.set()
        for t in threads + more_threads:
            t.join(10)
    return held.batches, results + more_results, errors + more_errors


def test_deliveries_arriving_during_a_write_are_stored_as_one_batch(engine, session_factory):
    notified = []
    writer = DeliveryWriter(engine, on_jobs_committed=lambda: notified.append(1))
    # 30 distinct deliveries, and the first one re-sent twice more while it is being written.
    sends = [delivery("webhook-id:0")] + [delivery(f"webhook-id:{n}") for n in range(1, 31)] + \
        [delivery("webhook-id:0"), delivery("webhook-id:0")]
    batches, results, errors = store_while_first_write_is_held(writer, sends)
    assert errors == [None] * len(sends)
    assert batches == [1, len(sends) - 1]  # two transactions for 33 deliveries
    assert [r.duplicate for r in results] == [False] * 31 + [True, True]
    assert count(session_factory, WebhookEvent) == count(session_factory, Job) == 31
    assert len({r.event_id for r in results[:31]}) == 31
    assert notified  # listening workers are told about the new jobs


def test_large_bodies_are_split_over_batches(engine, session_factory):
    writer = DeliveryWriter(engine, on_jobs_committed=lambda: None, max_batch_bytes=25)
    sends = [delivery(f"webhook-id:{n}") for n in range(6)]  # 9-byte bodies: two fit in 25 bytes, not three
    batches, _results, errors = store_while_first_write_is_held(writer, sends)
    assert errors == [None] * len(sends)
    assert batches == [1, 2, 2, 1]
    assert count(session_factory, WebhookEvent) == len(sends)


def test_a_database_failure_answers_every_waiter_and_the_writer_carries_on(engine, session_factory):
    writer = DeliveryWriter(engine, on_jobs_committed=lambda: None)
    failing = mock.Mock(side_effect=OperationalError("INSERT", {}, Exception("server closed the connection")))
    with mock.patch.object(delivery_writer, "store_deliveries", failing):
        with pytest.raises(DeliveryNotStored) as caught:
            writer.store(delivery("webhook-id:1"))
    assert (caught.value.status, caught.value.code) == (503, "database_unavailable")
    assert count(session_factory, WebhookEvent) == 0
    # The platform delivers again; the same writer thread stores it.
    assert not writer.store(delivery("webhook-id:1")).duplicate
    assert count(session_factory, WebhookEvent) == 1


def test_an_unexpected_error_is_a_500_and_stores_nothing(engine, session_factory):
    writer = DeliveryWriter(engine, on_jobs_committed=lambda: None)
    with mock.patch.object(delivery_writer, "store_deliveries", mock.Mock(side_effect=KeyError("bug"))):
        with pytest.raises(DeliveryNotStored) as caught:
            writer.store(delivery("webhook-id:1"))
    assert (caught.value.status, caught.value.code) == (500, "internal_error")
    assert count(session_factory, WebhookEvent) == 0


def test_a_write_not_confirmed_in_time_is_not_acknowledged(engine, session_factory):
    writer = DeliveryWriter(engine, on_jobs_committed=lambda: None, wait_seconds=0.2)
    held = HeldWriter()
    with mock.patch.object(delivery_writer, "store_deliveries", held):
        with pytest.raises(DeliveryNotStored) as caught:
            writer.store(delivery("webhook-id:slow"))
        assert (caught.value.status, caught.value.code) == (503, "storage_timeout")
        held.release.set()
        wait_for(lambda: count(session_factory, WebhookEvent) == 1)
        # The platform's retry of the delivery that did get stored late is a duplicate, not a second order.
        assert writer.store(delivery("webhook-id:slow")).duplicate


def test_a_forked_process_starts_its_own_writer_thread(engine, session_factory):
    writer = DeliveryWriter(engine, on_jobs_committed=lambda: None)
    writer.store(delivery("webhook-id:parent"))
    parent_queue = writer._queue
    with mock.patch.object(delivery_writer.os, "getpid", return_value=-1):  # as seen in a child process
        assert not writer.store(delivery("webhook-id:child")).duplicate
        assert writer._queue is not parent_queue
    assert count(session_factory, WebhookEvent) == 2
