"""The promise, checked: every order at CJ once, none lost, every tracking number written back once."""
from __future__ import annotations

from sqlalchemy import select

from service.storage.models import Order
from tests.fault.harness import wait_until


def order_numbers(session_factory, orders) -> dict:
    with session_factory() as s:
        rows = s.scalars(select(Order)).all()
    by_platform = {o.platform_order_id: o for o in rows}
    return {str(o["id"]): by_platform.get(str(o["id"])) for o in orders}


def wait_all_paid(session_factory, orders, *, timeout=60):
    def done():
        found = order_numbers(session_factory, orders)
        return all(o is not None and o.state == "paid" for o in found.values())
    try:
        wait_until(done, timeout=timeout, what=f"{len(orders)} orders to be paid at CJ")
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{describe(session_factory, orders)}") from None


def describe(session_factory, orders) -> str:
    """Order states and unfinished jobs, for a failure message."""
    from service.storage.models import Job
    lines = [f"order {pid}: {o.state if o else 'MISSING'} {o.hold_reason if o else ''} "
             f"{(o.hold_detail or '')[:160] if o else ''}" for pid, o in order_numbers(session_factory, orders).items()]
    with session_factory() as s:
        for job in s.scalars(select(Job).where(Job.status != "done")):
            lines.append(f"job {job.id} {job.kind} {job.status} attempts={job.attempts} {job.payload} "
                         f"{(job.last_error or '')[:200]}")
    return "\n".join(lines)


def assert_each_order_at_cj_once(cj, session_factory, orders):
    found = order_numbers(session_factory, orders)
    assert all(o is not None for o in found.values()), "an accepted order was lost"
    expected = {o.cj_order_number for o in found.values()}
    assert set(cj.orders) == expected, "CJ has orders we did not mean, or lacks some"
    for number, order in ((o.cj_order_number, o) for o in found.values()):
        assert order.cj_order_id == cj.orders[number]["orderId"], f"{number} bound to the wrong CJ order"


def ship_all_and_wait_for_write_back(service, cj, shop, session_factory, orders, *, deliveries=1, timeout=60):
    """CJ ships every order and posts its LOGISTIC webhook (maybe several times); wait for fulfillments."""
    found = order_numbers(session_factory, orders)
    tracking = {}
    for order in found.values():
        shipped = cj.ship(order.cj_order_number)
        tracking[f"gid://shopify/Order/{order.platform_order_id}"] = shipped["trackNumber"]
        raw, headers = cj.logistic_message(shipped)
        for _ in range(deliveries):
            assert service.deliver(raw, headers, path=service.cj_webhook_path) == 200
    wait_until(lambda: all(shop.fulfillments.get(gid) for gid in tracking), timeout=timeout,
               what="every tracking number to reach Shopify")
    wait_until(lambda: all(o.state == "fulfilled" for o in order_numbers(session_factory, orders).values()),
               timeout=timeout, what="every order to be fulfilled")
    for gid, number in tracking.items():
        fulfillments = shop.fulfillments[gid]
        assert len(fulfillments) == 1, f"{gid}: {len(fulfillments)} fulfillments"
        assert fulfillments[0]["trackingInfo"][0]["number"] == number
