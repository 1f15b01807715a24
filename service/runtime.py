"""The collaborators a pipeline step needs, built once per process from Settings."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from service.cj.client import CjClient
from service.config import Settings
from service.storage.credential_box import CredentialBox
from service.storage.database import make_engine, make_lookup_engine, make_session_factory
from service.intake.delivery_writer import DeliveryWriter
from service.intake.source_limiter import SourceLimiter
from service.jobs.wakeup import JobNotifier
from service.outbound_http import OutboundHttp
from service.intake.store_directory import StoreDirectory


@dataclass
class Runtime:
    settings: Settings
    session_factory: sessionmaker[Session]
    http: OutboundHttp
    cj: CjClient
    box: CredentialBox
    notifier: JobNotifier
    stores: StoreDirectory
    deliveries: DeliveryWriter  # webhook intake: group commit
    unproven_sources: SourceLimiter  # webhook requests that prove nothing, counted per source


def build_runtime(settings: Settings, *, session_factory: sessionmaker[Session] | None = None,
                  sleep=None) -> Runtime:
    if session_factory is None:
        session_factory = make_session_factory(make_engine(settings.database_url))
    http = OutboundHttp(timeout=settings.http_timeout, public_only=settings.production)
    cj = CjClient(settings=settings, session_factory=session_factory, http=http, sleep=sleep)
    box = CredentialBox(settings.secret_key)
    engine = session_factory.kw["bind"]
    notifier = JobNotifier.for_engine(engine)
    return Runtime(settings=settings, session_factory=session_factory, http=http, cj=cj, box=box,
                   notifier=notifier, stores=StoreDirectory(make_session_factory(make_lookup_engine(engine)), box),
                   deliveries=DeliveryWriter(engine, on_jobs_committed=notifier.jobs_committed),
                   unproven_sources=SourceLimiter())
