"""Storage: SQLAlchemy models, Alembic migrations, the database engine and the id issuer.

SQLite (WAL) is the embedded default; PostgreSQL (psycopg 3) in production.
"""
