"""Database access: SQLAlchemy 2 async engine, sessions, migrations."""
