"""The database: models, engine and sessions, Alembic migrations, and what is encrypted or timed at rest."""
