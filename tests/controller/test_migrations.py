"""Schema migrations, `jobqueue migrate`, and the controller refusing an un-migrated database."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from click.testing import CliRunner

from jobqueue.cli import main
from jobqueue.controller.app import create_app
from jobqueue.controller.errors import DatabaseNotMigrated, DatabaseTooNew
from jobqueue.controller.migrations import head_revision, upgrade
from jobqueue.controller.tables import metadata
from jobqueue.plugins import BrokerRegistry

if TYPE_CHECKING:
    from conftest import PostgresDatabases


def test_unmigrated_database_is_refused_with_the_migrate_hint(
    empty_db_url: str, registry: BrokerRegistry
) -> None:
    """create_app on an empty database raises, telling how to migrate."""
    with pytest.raises(DatabaseNotMigrated) as refused:
        create_app(empty_db_url, registry=registry)
    assert "run `jobqueue migrate --db " in str(refused.value)
    assert "has no jobqueue schema" in str(refused.value)


def test_missing_sqlite_file_is_refused_and_not_created(
    tmp_path: Path, registry: BrokerRegistry
) -> None:
    """A SQLite path that does not exist is refused, and the refusal creates no file."""
    path = tmp_path / "nowhere" / "controller.db"
    with pytest.raises(DatabaseNotMigrated, match="jobqueue migrate --db"):
        create_app(f"sqlite:///{path}", registry=registry)
    assert not path.exists() and not path.parent.exists()


def test_upgrade_is_idempotent_and_builds_the_declared_schema(empty_db_url: str) -> None:
    """upgrade twice is fine, and the database matches the table definitions exactly."""
    upgrade(empty_db_url)
    upgrade(empty_db_url)
    engine = sa.create_engine(empty_db_url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn)
            assert context.get_current_revision() == head_revision()
            assert compare_metadata(context, metadata) == []
    finally:
        engine.dispose()


def test_upgrade_creates_the_sqlite_directory(tmp_path: Path, registry: BrokerRegistry) -> None:
    """`jobqueue migrate` on a fresh machine makes the SQLite file's directory."""
    url = f"sqlite:///{tmp_path / 'a' / 'b' / 'controller.db'}"
    upgrade(url)
    app = create_app(url, registry=registry)
    app.state.controller.db.dispose()


def test_concurrent_upgrades_do_not_collide(empty_db_url: str) -> None:
    """Several processes migrating one database at once all succeed, once."""
    errors: list[BaseException] = []

    def migrate() -> None:
        try:
            upgrade(empty_db_url)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=migrate) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []


def test_database_of_a_newer_jobqueue_is_refused(db_url: str, registry: BrokerRegistry) -> None:
    """A schema revision this version does not know: refuse, and say to upgrade jobqueue."""
    engine = sa.create_engine(db_url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("UPDATE alembic_version SET version_num = 'ffff_future'"))
    finally:
        engine.dispose()
    with pytest.raises(DatabaseTooNew, match="upgrade jobqueue"):
        create_app(db_url, registry=registry)


def test_migrate_command(empty_db_url: str, registry: BrokerRegistry) -> None:
    """`jobqueue migrate --db URL` migrates and says to which revision."""
    result = CliRunner().invoke(main, ["migrate", "--db", empty_db_url])
    assert result.exit_code == 0, result.output
    assert f"at revision {head_revision()}" in result.output
    app = create_app(empty_db_url, registry=registry)
    app.state.controller.db.dispose()


def test_migrate_reads_the_url_from_the_environment(empty_db_url: str) -> None:
    """JOBQUEUE_DB works in place of --db."""
    result = CliRunner().invoke(main, ["migrate"], env={"JOBQUEUE_DB": empty_db_url})
    assert result.exit_code == 0, result.output
    assert head_revision() in result.output


def test_messages_never_show_the_database_password(
    postgres_databases: PostgresDatabases,
) -> None:
    """Refusals and migrate output mask the password of the database URL."""
    url = postgres_databases.create().replace("postgres@", "postgres:hunter2@")
    runner = CliRunner()
    refused = runner.invoke(main, ["controller", "--db", url])
    assert refused.exit_code == 1
    assert "run `jobqueue migrate --db postgresql+psycopg2://postgres:***@" in refused.output
    assert "hunter2" not in refused.output
    assert "Traceback" not in refused.output
    migrated = runner.invoke(main, ["migrate", "--db", url])
    assert migrated.exit_code == 0, migrated.output
    assert "hunter2" not in migrated.output and "***" in migrated.output


def test_migrate_of_an_unreachable_database_fails_cleanly(tmp_path: Path) -> None:
    """No server at the address: a one-line 'unavailable' error, exit 1, no traceback."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"postgresql+psycopg2://postgres:pw-xyz@127.0.0.1:{port}/jobs"
    result = CliRunner().invoke(main, ["migrate", "--db", url])
    assert result.exit_code == 1
    assert "unavailable" in result.output
    assert f"127.0.0.1:{port}" in result.output
    assert "pw-xyz" not in result.output and "Traceback" not in result.output


def test_bad_database_url_is_a_clear_error() -> None:
    """A --db that is not a URL is a usage error naming `db`."""
    result = CliRunner().invoke(main, ["migrate", "--db", "not a url"])
    assert result.exit_code == 1
    assert "`db`" in result.output and "Traceback" not in result.output
