"""Alembic migrations, shipped inside the package so `pip install` users can run them."""
