"""Alembic environment: the URL given by service.storage.migrate, or (the alembic command) the service's own."""
from logging.config import fileConfig

from alembic import context

from service.storage.database import make_engine
from service.storage.models import Base

config = context.config
target_metadata = Base.metadata
if config.config_file_name:  # the alembic command with the repository's alembic.ini
    fileConfig(config.config_file_name, disable_existing_loggers=False)


def _database_url() -> str:
    url = config.get_main_option("sqlalchemy.url")
    if url:
        return url
    # The alembic command: the database the service itself would use (DATABASE_URL, else the SQLite default).
    from service.config import ConfigError, exit_for_config_error, load_settings
    try:
        return load_settings().database_url
    except ConfigError as exc:
        exit_for_config_error(exc)


def run_migrations_online() -> None:
    url = _database_url()
    engine = make_engine(url)
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata,
                          render_as_batch=connection.dialect.name == "sqlite")
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


def run_migrations_offline() -> None:
    context.configure(url=_database_url(), target_metadata=target_metadata,
                      literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
