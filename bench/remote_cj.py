"""The fake CJ of tests/fault, run in a process of its own for bench/drain.py.

In a thread of the benchmark process its handlers waited for that process's GIL, so a request could be
stamped as arriving tens of milliseconds after it reached the socket, and CJ's one-second window would
count it late. In its own process, arrival times are the fake CJ's alone.
"""
from __future__ import annotations

import multiprocessing

import requests
from flask import jsonify

from tests.fault.fake_servers import FakeCjServer, ServerThread


def _serve(conn, qps: float) -> None:
    fake = FakeCjServer(qps=qps)

    @fake.app.get("/_fake/order/<number>")
    def order(number):
        with fake.lock:
            found = fake.orders.get(number)
            return jsonify({"created_at": fake.create_times.get(number),
                            "status": found["orderStatus"] if found else None})

    @fake.app.post("/_fake/ship/<number>")
    def ship(number):
        return jsonify(fake.ship(number))

    @fake.app.get("/_fake/snapshot")
    def snapshot():
        with fake.lock:
            return jsonify({"request_times": list(fake.request_times), "create_times": dict(fake.create_times),
                            "rate_limited": fake.rate_limited, "duplicates_refused": fake.duplicates_refused,
                            "op_counts": dict(fake.op_counts), "payments": fake.payments,
                            "paid_in_create": fake.paid_in_create})

    with ServerThread(fake.app) as server:
        conn.send(server.url)
        conn.recv()  # until the benchmark says stop


class RemoteFakeCj:
    """FakeCjServer in a child process; the benchmark reads its state over HTTP (/_fake/...)."""

    OPEN_ID = FakeCjServer.OPEN_ID
    API_KEY = FakeCjServer.API_KEY

    def __init__(self, *, qps: float):
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        self.process = context.Process(target=_serve, args=(child, qps), daemon=True)
        self.process.start()
        self.url = self._conn.recv()
        self.http = requests.Session()

    def order(self, number: str) -> dict:
        return self.http.get(f"{self.url}/_fake/order/{number}", timeout=10).json()

    def ship(self, number: str) -> dict:
        return self.http.post(f"{self.url}/_fake/ship/{number}", timeout=10).json()

    def snapshot(self) -> dict:
        return self.http.get(f"{self.url}/_fake/snapshot", timeout=30).json()

    logistic_message = FakeCjServer.logistic_message  # signed with OPEN_ID, computed on this side

    def close(self) -> None:
        self._conn.send("stop")
        self.process.join(10)
