"""PostgreSQL restarts while webhooks keep arriving: a 2xx only ever means 'stored'."""
from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

import pytest
import sqlalchemy as sa

from tests.fault.checks import assert_each_order_at_cj_once, wait_all_paid
from tests.fault.harness import ROOT, Service, free_port, make_orders, signed, wait_until
from service.storage.database import make_engine, make_session_factory


def _pg_bin() -> str | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    return os.path.dirname(found[-1]) if found else None


class PrivateCluster:
    """A throwaway PostgreSQL cluster this test may stop and start at will."""

    def __init__(self, bindir: str):
        self.bindir = bindir
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="cjbridge-pg-restart-")
        self.as_root = os.geteuid() == 0
        if self.as_root:
            shutil.chown(self.dir, "postgres")

    def run(self, tool: str, *args: str):
        cmd = [os.path.join(self.bindir, tool), *args]
        if self.as_root:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def init(self):
        self.run("initdb", "-D", f"{self.dir}/data", "-U", "postgres", "--auth=trust")
        self.start()
        self.run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "bridge")

    def start(self):
        self.run("pg_ctl", "-D", f"{self.dir}/data", "-w", "-l", f"{self.dir}/log",
                 "-o", f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1", "start")

    def stop(self, mode="fast"):
        self.run("pg_ctl", "-D", f"{self.dir}/data", "-w", "-m", mode, "stop")

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/bridge"

    def destroy(self):
        try:
            self.stop("immediate")
        except subprocess.CalledProcessError:
            pass
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def cluster(engine):
    if engine.dialect.name != "postgresql":
        pytest.skip("restarting the database is a PostgreSQL scenario (runs in the PostgreSQL pass)")
    bindir = _pg_bin()
    if bindir is None:
        pytest.fail("PostgreSQL server binaries (initdb/pg_ctl) are needed for this scenario")
    pg = PrivateCluster(bindir)
    pg.init()
    try:
        yield pg
    finally:
        pg.destroy()


def test_database_restart_while_webhooks_arrive(cluster, fake_cj, fake_shopify, tmp_path):
    service = Service(cluster.url, fake_cj, fake_cj.url, qps=30, log_dir=tmp_path)
    # The Procfile's release step creates the schema.
    subprocess.run([sys.executable, "-m", "flask", "--app", "service.wsgi", "db-upgrade"], cwd=ROOT,
                   env=service.env, check=True, stdout=subprocess.DEVNULL)
    engine = make_engine(cluster.url)
    session_factory = make_session_factory(engine)
    service.start_web()
    try:
        service.setup_store(fake_shopify.url)
        service.start_worker()
        orders = make_orders(60)
        deliveries = [signed(body, "orders/paid") for body in orders]
        answers: dict[str, list[int]] = {}
        done = threading.Event()

        def send_all():
            for raw, headers in deliveries:
                status = service.deliver(raw, headers)
                answers.setdefault(headers["X-Shopify-Webhook-Id"], []).append(status)
                time.sleep(0.02)
            done.set()

        sender = threading.Thread(target=send_all)
        sender.start()
        time.sleep(0.3)
        cluster.stop("immediate")  # a crash, not a polite shutdown
        time.sleep(1.0)
        cluster.start()
        sender.join(60)
        assert done.is_set()

        refused = [k for k, codes in answers.items() if codes[-1] >= 300]
        accepted = [k for k, codes in answers.items() if 200 <= codes[-1] < 300]
        assert refused, "the restart should have refused some deliveries (the scenario did not bite)"
        with session_factory() as s:
            stored = set(s.scalars(sa.text("SELECT delivery_id FROM webhook_events")).all())
        assert set(accepted) <= stored, "a delivery got a 2xx but is not stored"
        assert {answers_code for k in refused for answers_code in answers[k]} <= {500, 502, 503, 504}

        # Shopify delivers again whatever was not acknowledged.
        for raw, headers in deliveries:
            if headers["X-Shopify-Webhook-Id"] in refused:
                wait_until(lambda: service.deliver(raw, headers) == 200, timeout=30, what="a redelivery")
        wait_all_paid(session_factory, orders, timeout=120)
        assert_each_order_at_cj_once(fake_cj, session_factory, orders)
    finally:
        service.stop()
        engine.dispose()
