"""Opening the session database and migrating its schema.

Every connection uses WAL (readers never block the writer, so the TUI can
browse while a headless session writes), a busy timeout (writers queue
instead of failing with "database is locked") and foreign keys. Migrations
are additive and each runs in its own transaction (sqlite-utils Migrations),
so a database left by an older dspy-tui upgrades in place.
"""

from __future__ import annotations

import datetime
import errno
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    import sqlite_utils
    from sqlite_utils.migrations import Migrations

BUSY_TIMEOUT_MS = 30_000


class MigrationSet:
    """Our migrations in order, handed to sqlite-utils' Migrations only when one is pending.

    Importing sqlite-utils imports numpy, click and pluggy (about as long as Textual takes to
    import); a database that is up to date is checked with one query of its migrations table."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._migrations: list[tuple[str, Callable[[sqlite_utils.Database], None]]] = []
        self._cache: (
            tuple[tuple[tuple[str, Callable[[sqlite_utils.Database], None]], ...], Migrations] | None
        ) = None

    def __call__(
        self, *, name: str
    ) -> Callable[[Callable[[sqlite_utils.Database], None]], Callable[[sqlite_utils.Database], None]]:
        def register(fn: Callable[[sqlite_utils.Database], None]) -> Callable[[sqlite_utils.Database], None]:
            self._migrations.append((name, fn))
            return fn

        return register

    @property
    def names(self) -> set[str]:
        return {name for name, _ in self._migrations}

    def _built(self) -> Migrations:
        """The same steps as sqlite-utils Migrations (which runs them and records each one), built
        again only when the steps changed (they are registered at import)."""
        steps = tuple(self._migrations)
        if self._cache is None or self._cache[0] != steps:
            from sqlite_utils.migrations import Migrations

            built = Migrations(self.name)
            for name, fn in steps:
                built(name=name)(fn)
            self._cache = (steps, built)
        return self._cache[1]

    def applied(self, db: sqlite_utils.Database) -> list[Migrations._AppliedMigration]:
        return self._built().applied(db)

    def pending(self, db: sqlite_utils.Database) -> list[Migrations._Migration]:
        return self._built().pending(db)

    def apply(self, db: sqlite_utils.Database) -> None:
        self._built().apply(db)

    def create_new(self, conn: sqlite3.Connection) -> bool:
        """Build an empty database: every step run and recorded as sqlite-utils Migrations records it
        (its table, index and rows), in one write transaction, without importing sqlite-utils (0.11 s of
        a first run's start). False, with nothing changed, when the database is not empty or a step
        needs more of sqlite-utils than `execute`/`executescript`: sqlite-utils then does the work."""
        conn.execute("BEGIN IMMEDIATE")
        try:
            if conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]:
                conn.rollback()
                return False
            for statement in _MIGRATIONS_TABLE:
                conn.execute(statement)
            steps = cast("sqlite_utils.Database", _Statements(conn))
            for name, fn in self._migrations:
                fn(steps)
                conn.execute(
                    "INSERT INTO _sqlite_migrations (migration_set, name, applied_at) VALUES (?, ?, ?)",
                    (self.name, name, str(datetime.datetime.now(datetime.UTC))),
                )
        except _NeedsSqliteUtils:
            conn.rollback()
            return False
        except BaseException:
            if conn.in_transaction:
                conn.rollback()
            raise
        conn.commit()
        return True

    def up_to_date(self, conn: sqlite3.Connection) -> bool:
        """Every step applied and none we do not know, read without sqlite-utils."""
        try:
            rows = conn.execute(
                "SELECT name FROM _sqlite_migrations WHERE migration_set = ?", (self.name,)
            ).fetchall()
        except sqlite3.OperationalError:  # no migrations table: a new database
            return False
        return {row[0] for row in rows} == self.names


# sqlite-utils Migrations' own table and index, in the words sqlite-utils creates them with
_MIGRATIONS_TABLE = (
    'CREATE TABLE "_sqlite_migrations" (\n   "id" INTEGER PRIMARY KEY,\n   "migration_set" TEXT,\n'
    '   "name" TEXT,\n   "applied_at" TEXT\n)',
    'CREATE UNIQUE INDEX "idx__sqlite_migrations_migration_set_name"\n'
    '    ON "_sqlite_migrations" ("migration_set", "name")',
)


class _NeedsSqliteUtils(Exception):
    """A step used more of sqlite-utils' Database than `_Statements` offers."""


class _Statements:
    """What our steps use of sqlite-utils' Database, on a plain connection and inside its transaction
    (sqlite3's executescript would commit first: a script runs statement by statement)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def __getattr__(self, name: str) -> Any:
        raise _NeedsSqliteUtils(name)

    def __getitem__(self, name: str) -> Any:
        raise _NeedsSqliteUtils(name)

    def execute(self, sql: str, parameters: Any = ()) -> sqlite3.Cursor:
        return self.conn.execute(sql, parameters)

    def executescript(self, script: str) -> None:
        statement = ""
        for line in script.splitlines(keepends=True):
            statement += line
            if sqlite3.complete_statement(statement):
                self.conn.execute(statement)
                statement = ""
        if statement.strip():
            self.conn.execute(statement)


migrations = MigrationSet("dspy_tui")


class StorageError(Exception):
    """A database the user pointed us at cannot be used; the message says why in one sentence."""


DISK_FULL_MESSAGE = "the disk is full: free space and resume"
_FULL_CODES = {13, 10}  # SQLITE_FULL, SQLITE_IOERR (extended codes keep these in the low byte)


class DiskFull(StorageError):
    """A write failed for want of space (or an I/O error): nothing more can be stored until it is freed."""

    def __init__(self, path: Path | str) -> None:
        super().__init__(f"{DISK_FULL_MESSAGE} (writing {path}).")


def is_disk_full(exc: BaseException) -> bool:
    """Whether an exception from SQLite or the OS means "no space left" (or the disk failed)."""
    code = getattr(exc, "sqlite_errorcode", None)
    if isinstance(code, int) and code & 0xFF in _FULL_CODES:
        return True
    text = str(exc).lower()
    if isinstance(exc, sqlite3.Error) and ("disk is full" in text or "disk i/o error" in text):
        return True
    return isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT)


@migrations(name="0001_initial")
def _m0001_initial(db: sqlite_utils.Database) -> None:
    db.executescript(
        """
        CREATE TABLE sessions (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            status TEXT NOT NULL,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL,
            task TEXT,
            seed INTEGER,
            budget_usd REAL,
            config_json TEXT NOT NULL DEFAULT '{}',
            versions_json TEXT NOT NULL DEFAULT '{}',
            error TEXT
        );
        CREATE INDEX idx_sessions_created ON sessions(created_at);
        CREATE INDEX idx_sessions_status ON sessions(status);

        CREATE TABLE session_models (
            session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
            model TEXT NOT NULL,
            provider TEXT NOT NULL,
            status TEXT NOT NULL DEFAULT 'pending',
            phase TEXT,
            baseline_score REAL,
            best_dev_score REAL,
            test_score REAL,
            test_ci_low REAL,
            test_ci_high REAL,
            cost_usd REAL NOT NULL DEFAULT 0,
            calls INTEGER NOT NULL DEFAULT 0,
            error TEXT,
            results_json TEXT NOT NULL DEFAULT '{}',
            PRIMARY KEY (session_id, model)
        );
        CREATE INDEX idx_session_models_model ON session_models(model);

        CREATE TABLE rounds (
            session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
            model TEXT NOT NULL,
            phase TEXT NOT NULL,
            round INTEGER NOT NULL,
            dev_score REAL,
            best_dev_score REAL,
            cost_usd REAL NOT NULL DEFAULT 0,
            tokens_in INTEGER NOT NULL DEFAULT 0,
            tokens_out INTEGER NOT NULL DEFAULT 0,
            calls INTEGER NOT NULL DEFAULT 0,
            started_at REAL,
            finished_at REAL,
            metrics_json TEXT NOT NULL DEFAULT '{}',
            PRIMARY KEY (session_id, model, phase, round)
        );

        CREATE TABLE events (
            session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
            seq INTEGER NOT NULL,
            ts REAL NOT NULL,
            type TEXT NOT NULL,
            model TEXT,
            payload TEXT NOT NULL,
            PRIMARY KEY (session_id, seq)
        );
        CREATE INDEX idx_events_type ON events(session_id, type);

        CREATE TABLE calls (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            session_id TEXT REFERENCES sessions(id) ON DELETE CASCADE,
            ts REAL NOT NULL,
            provider TEXT NOT NULL,
            model TEXT NOT NULL,
            endpoint TEXT,
            request_hash TEXT,
            tokens_in INTEGER,
            tokens_out INTEGER,
            tokens_cached INTEGER,
            cost_usd REAL,
            latency_ms REAL,
            status TEXT NOT NULL,
            error_kind TEXT,
            retries INTEGER NOT NULL DEFAULT 0,
            cache_hit INTEGER NOT NULL DEFAULT 0,
            call_id TEXT
        );
        CREATE INDEX idx_calls_session ON calls(session_id, model);
        CREATE INDEX idx_calls_model_ts ON calls(model, ts);

        CREATE TABLE reports (
            session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
            format TEXT NOT NULL,
            content TEXT NOT NULL,
            created_at REAL NOT NULL,
            PRIMARY KEY (session_id, format)
        );

        CREATE TABLE checkpoints (
            session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
            model TEXT NOT NULL,
            phase TEXT NOT NULL,
            round INTEGER NOT NULL,
            score REAL,
            program_json TEXT NOT NULL,
            created_at REAL NOT NULL,
            PRIMARY KEY (session_id, model, phase, round)
        );

        CREATE TABLE lm_cache (
            key TEXT PRIMARY KEY,
            provider TEXT NOT NULL,
            model TEXT NOT NULL,
            endpoint TEXT NOT NULL,
            body TEXT NOT NULL,
            usage TEXT NOT NULL DEFAULT '{}',
            created_at REAL NOT NULL
        );
        """
    )


@migrations(name="0002_session_owner")
def _m0002_session_owner(db: sqlite_utils.Database) -> None:
    """Which process runs a session, so a killed one can be told apart from a running one."""
    db.execute("ALTER TABLE sessions ADD COLUMN pid INTEGER")
    db.execute("ALTER TABLE sessions ADD COLUMN host TEXT")


@migrations(name="0003_cache_session_fk")
def _m0003_cache_session_fk(db: sqlite_utils.Database) -> None:
    """Tie each cached answer to its session, so deleting a session deletes its cache rows.

    Until now a row belonged to a session only through its key prefix (`SESSION_ID:`). The
    prefix is copied into the new column; rows of sessions already deleted (left behind by
    older versions) are dropped, as nothing can ever read them again."""
    db.execute("ALTER TABLE lm_cache ADD COLUMN session_id TEXT REFERENCES sessions(id) ON DELETE CASCADE")
    prefix = "substr(key, 1, instr(key, ':') - 1)"
    db.execute(
        f"DELETE FROM lm_cache WHERE instr(key, ':') > 0 AND {prefix} NOT IN (SELECT id FROM sessions)"
    )
    db.execute(f"UPDATE lm_cache SET session_id = {prefix} WHERE instr(key, ':') > 0")
    db.execute("CREATE INDEX idx_lm_cache_session ON lm_cache(session_id)")


@migrations(name="0004_session_leases")
def _m0004_session_leases(db: sqlite_utils.Database) -> None:
    """One runner per session: the process that holds a session's lease is the only one running it."""
    db.execute(
        "CREATE TABLE session_leases ("
        " session_id TEXT PRIMARY KEY REFERENCES sessions(id) ON DELETE CASCADE,"
        " token TEXT NOT NULL, pid INTEGER NOT NULL, host TEXT NOT NULL,"
        " acquired_at REAL NOT NULL, heartbeat REAL NOT NULL)"
    )


@migrations(name="0005_call_charges")
def _m0005_call_charges(db: sqlite_utils.Database) -> None:
    """What each call was charged for: whether its cost is the reservation of an unknown bill
    (`cost_estimated`), the session phase it served and the role that made it (model or judge)."""
    db.execute("ALTER TABLE calls ADD COLUMN cost_estimated INTEGER NOT NULL DEFAULT 0")
    db.execute("ALTER TABLE calls ADD COLUMN phase TEXT")
    db.execute("ALTER TABLE calls ADD COLUMN role TEXT NOT NULL DEFAULT 'model'")


@migrations(name="0006_call_queue_time")
def _m0006_call_queue_time(db: sqlite_utils.Database) -> None:
    """How long each call waited for a limiter slot (and its retries' back-off) before it was
    sent, apart from `latency_ms`, which is the provider's time only."""
    db.execute("ALTER TABLE calls ADD COLUMN queue_ms REAL")


def _use_wal(conn: sqlite3.Connection) -> None:
    """Switch to WAL unless the file already is. Switching takes an exclusive lock and SQLite
    answers "database is locked" at once, without its busy handler, while another connection
    does the same; so many threads opening a new file together retry until the busy timeout."""
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            if conn.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def connect(path: Path | str) -> sqlite3.Connection:
    """A configured connection. Raises StorageError with one sentence when the path is unusable."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False)
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        _use_wal(conn)
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA foreign_keys = ON")
    except sqlite3.DatabaseError as exc:
        raise database_error(path, exc) from None
    except OSError as exc:
        raise StorageError(f"Cannot open the database at {path}: {exc.strerror or exc}.") from None
    return conn


def database_error(path: Path | str, exc: BaseException) -> StorageError:
    """One sentence for any error SQLite raises about the file at `path`."""
    if is_disk_full(exc):
        return DiskFull(path)
    if "locked" in str(exc):
        return StorageError(
            f"The database {path} stayed locked by another process for "
            f"{BUSY_TIMEOUT_MS // 1000} s; try again when it is free."
        )
    return StorageError(
        f"The database {path} is damaged or not a dspy-tui database ({exc}); check it with "
        f"`sqlite3 '{path}' 'PRAGMA integrity_check'` or restore a backup."
    )


def _newer_schema(db: sqlite_utils.Database) -> int | None:
    """The schema number of a database written by a newer dspy-tui (migrations we do not know), or None."""
    known = migrations.names
    applied = migrations.applied(db)
    unknown = [m.name for m in applied if m.name not in known]
    if not unknown:
        return None
    numbers = [int(n.split("_", 1)[0]) for n in unknown if n.split("_", 1)[0].isdigit()]
    return max(numbers) if numbers else len(applied)


def ensure_schema(conn: sqlite3.Connection) -> None:
    """Migrate the database behind `conn` if it needs it (see apply_migrations); an up-to-date one
    costs one query and a new one is built without sqlite-utils (MigrationSet.create_new)."""
    try:
        if migrations.up_to_date(conn) or migrations.create_new(conn):
            return
    except sqlite3.DatabaseError as exc:
        raise database_error(db_file(conn), exc) from None
    import sqlite_utils

    apply_migrations(sqlite_utils.Database(conn))


def apply_migrations(db: sqlite_utils.Database) -> None:
    """Apply pending migrations holding the write lock, so that two processes (or threads)
    opening a new database at once do not both run the same migration. A database written by
    a newer dspy-tui is refused untouched; any SQLite error becomes one sentence naming the file."""
    path = db_file(db.conn)
    try:
        newer = _newer_schema(db)
        if newer is not None:
            raise StorageError(
                f"The database {path} was written by a newer dspy-tui (schema {newer}); "
                "upgrade dspy-tui to open it."
            )
        if not migrations.pending(db):
            return
        db.conn.execute("BEGIN IMMEDIATE")
        try:
            migrations.apply(db)  # pending is read again under the lock
        except BaseException:
            if db.conn.in_transaction:
                db.conn.rollback()
            raise
        db.conn.commit()
    except sqlite3.DatabaseError as exc:
        raise database_error(path, exc) from None


def db_file(conn: sqlite3.Connection) -> str:
    """The file behind a connection (for messages)."""
    try:
        return str(conn.execute("PRAGMA database_list").fetchone()[2]) or ":memory:"
    except sqlite3.Error:
        return "the database"


def open_database(path: Path | str, *, migrate: bool = True) -> sqlite_utils.Database:
    """Open (creating if needed) and migrate the database at `path`."""
    import sqlite_utils

    db = sqlite_utils.Database(connect(path))
    if migrate:
        apply_migrations(db)
    return db


def schema_version(db: sqlite_utils.Database) -> str | None:
    """Name of the newest applied migration, or None on a blank database."""
    applied = migrations.applied(db)
    return applied[-1].name if applied else None


def journal_mode(db: sqlite_utils.Database) -> str:
    """SQLite's journal mode for this database ("wal" once opened by dspy-tui)."""
    return str(db.execute("PRAGMA journal_mode").fetchone()[0])
