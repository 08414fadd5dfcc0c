"""A PostgreSQL restart while two app servers and the worker run (issue 24): requests answer
503 (never 500) while it is down and `/readyz` says so; afterwards everything carries on
without restarting the app.

The cluster is a throwaway one this test starts (initdb + pg_ctl of PostgreSQL 15), never the
machine's. PostgreSQL refuses to run as root, so as root it runs as the `postgres` user
(runuser); the test is skipped, saying why, when that is not possible.
"""

import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import psycopg2
import pytest

PG_BIN = Path("/usr/lib/postgresql/15/bin")
ROOT = Path(__file__).resolve().parents[2]
GUNICORN = Path(sys.executable).with_name("gunicorn")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _as_postgres(*command: str) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else list(command)


class Cluster:
    def __init__(self, base: Path, port: int):
        self.base, self.port, self.data = base, port, base / "data"

    def ctl(self, *args: str) -> None:
        options = f"-p {self.port} -k {self.base} -c listen_addresses=127.0.0.1 -c fsync=off"
        subprocess.run(
            _as_postgres(
                str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-l", str(self.base / "log"),
                "-o", options, "-w", "-t", "60", *args,
            ),
            check=True, capture_output=True,
        )  # fmt: skip

    def url(self, name: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{name}"


@pytest.fixture(scope="module")
def cluster():
    if not (PG_BIN / "initdb").exists():
        pytest.skip(f"no PostgreSQL 15 server binaries in {PG_BIN}")
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root and there is no postgres user to run PostgreSQL as")
        if not shutil.which("runuser"):
            pytest.skip("running as root without runuser: PostgreSQL refuses to run as root")
    if not GUNICORN.exists():
        pytest.skip("gunicorn is not installed")
    base = Path(tempfile.mkdtemp(prefix="topup-pg-"))
    if os.geteuid() == 0:
        shutil.chown(base, "postgres", "postgres")
    cluster = Cluster(base, _free_port())
    made = subprocess.run(
        _as_postgres(str(PG_BIN / "initdb"), "-D", str(cluster.data), "-A", "trust", "-U",
                     "postgres", "--no-sync"),
        capture_output=True, text=True,
    )  # fmt: skip
    if made.returncode:
        shutil.rmtree(base, ignore_errors=True)
        pytest.skip(f"initdb failed: {made.stderr.strip()[:300]}")
    cluster.ctl("start")
    try:
        yield cluster
    finally:
        subprocess.run(
            _as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(cluster.data), "-m", "immediate",
                         "stop"),
            capture_output=True,
        )  # fmt: skip
        shutil.rmtree(base, ignore_errors=True)


def _get(url: str, **headers) -> int:
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:
        return 0  # no answer at all


def _wait(condition, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.django_db  # the suite's session fixtures read the test database; this test does not
def test_a_database_restart_is_ridden_out_without_restarting_the_app(cluster, tmp_path):
    admin = psycopg2.connect(cluster.url("postgres"))
    admin.autocommit = True
    admin.cursor().execute("CREATE DATABASE topup")
    admin.close()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings_test",
        "DATABASE_URL": cluster.url("topup"),
        "TASKS_BACKEND": "django_tasks_db.DatabaseBackend",
        "TOPUP_JOB_STALE_SECONDS": "300",
    }
    run = {"cwd": ROOT, "env": env, "capture_output": True, "text": True}
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput"], check=True, **run)
    ports = [_free_port(), _free_port()]
    logs = [open(tmp_path / f"app{i}.log", "w") for i in range(3)]  # noqa: SIM115
    processes = [
        subprocess.Popen(
            [
                str(GUNICORN),
                "config.wsgi",
                "-b",
                f"127.0.0.1:{port}",
                "--workers",
                "1",
                "--threads",
                "4",
                "--timeout",
                "60",
            ],
            cwd=ROOT,
            env=env,
            stdout=logs[i],
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        for i, port in enumerate(ports)
    ]
    processes.append(
        subprocess.Popen(
            [sys.executable, "manage.py", "task_worker", "--interval", "0.2"],
            cwd=ROOT,
            env=env,
            stdout=logs[2],
            stderr=subprocess.STDOUT,
        )  # fmt: skip
    )
    try:
        servers = [f"http://127.0.0.1:{port}" for port in ports]
        for server in servers:
            _wait(lambda s=server: _get(f"{s}/readyz") == 200, 60, f"{server} to be ready")
        seen: list[tuple[float, str, int]] = []
        stop = threading.Event()

        def load(server: str) -> None:
            while not stop.is_set():
                # A call that needs the database: the key is looked up (unknown: 401).
                api = _get(
                    f"{server}/api/v1/accounts/1/balance", Authorization="Bearer " + "x" * 40
                )
                seen.append((time.monotonic(), "api", api))
                seen.append((time.monotonic(), "readyz", _get(f"{server}/readyz")))
                time.sleep(0.05)

        threads = [threading.Thread(target=load, args=(s,)) for s in servers]
        for thread in threads:
            thread.start()
        time.sleep(1.5)
        down = time.monotonic()
        cluster.ctl("-m", "fast", "stop")
        stopped = time.monotonic()
        time.sleep(3)
        starting = time.monotonic()
        cluster.ctl("start")
        up = time.monotonic()
        time.sleep(3)
        stop.set()
        for thread in threads:
            thread.join(30)
        during = [code for at, kind, code in seen if stopped < at < starting and kind == "readyz"]
        after = [(kind, code) for at, kind, code in seen if at > up + 1.5]
        codes = {code for _, _, code in seen}
        assert 500 not in codes, sorted(codes)
        assert during and set(during) == {503}, during  # /readyz reports the outage
        assert after and set(after) <= {("api", 401), ("readyz", 200)}, after
        # The worker lived through it: a task queued now is run.
        enqueue = (
            "from topup.services.summary import compact_summary; "
            "print(compact_summary.enqueue().id)"
        )
        queued = (
            subprocess.run([sys.executable, "manage.py", "shell", "-c", enqueue], check=True, **run)
            .stdout.strip()
            .splitlines()[-1]
        )
        assert all(p.poll() is None for p in processes), "a process of the app stopped"

        def finished() -> bool:
            with psycopg2.connect(cluster.url("topup")) as conn, conn.cursor() as cursor:
                cursor.execute(
                    "SELECT status FROM django_tasks_database_dbtaskresult WHERE id = %s",
                    [queued],
                )
                row = cursor.fetchone()
            conn.close()
            return row is not None and row[0] == "SUCCESSFUL"

        _wait(finished, 30, "the worker to run a task after the restart")
        logs[2].flush()
        worker_log = (tmp_path / "app2.log").read_text()
        assert "waiting for the database" in worker_log and "database is back" in worker_log
        print(
            f"outage {up - down:.1f}s; readyz during: {len(during)} x 503; "
            f"answers: { {c: sum(1 for _, _, x in seen if x == c) for c in sorted(codes)} }"
        )
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(20)
        for log in logs:
            log.close()
        if any(p.returncode not in (0, -15) for p in processes):
            print("\n".join((tmp_path / f"app{i}.log").read_text()[-3000:] for i in range(3)))
