"""Persistence: SQLModel tables, the engine, queries and Alembic migrations. No business rules."""
