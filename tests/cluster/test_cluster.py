"""The deployment in deploy/, for real, on loopback ports (`make cluster-test`).

A PostgreSQL 15 primary and a streaming hot standby (`pg_basebackup -R`), PgBouncer in
transaction mode in front of the primary, two gunicorn app servers behind nginx and two task
workers, each started from its file in deploy/ (placeholders filled in). PostgreSQL and
PgBouncer refuse to run as root: as root they run as the `postgres` user. Everything started
is stopped at the end, also when a step fails.

Run only when CLUSTER_TEST is set, by the Makefile's cluster-test target, which installs nginx
and pgbouncer first and runs it without the suite's conftest and pytest-django (it needs no test
database: `pytest --noconftest -p no:django`); skipped, saying why, otherwise.
"""

import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg2
import pytest
import requests

PG_BIN = Path("/usr/lib/postgresql/15/bin")
ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
VENV = Path(sys.executable).parent.parent
DB = "topup"
METRICS_TOKEN = "cluster-metrics-token"

pytestmark = pytest.mark.skipif(
    not os.environ.get("CLUSTER_TEST"), reason="the cluster test runs by `make cluster-test`"
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def as_postgres(*command: str) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else list(command)


def render(template: Path, target: Path, **values) -> Path:
    text = template.read_text()
    for name, value in values.items():
        text = text.replace(f"@{name}@", str(value))
    target.write_text(text)
    return target


def exec_start(unit: str, instance: str) -> list[str]:
    """The unit file's ExecStart, with the paths and the instance filled in."""
    text = (DEPLOY / "systemd" / unit).read_text()
    line = next(line for line in text.splitlines() if line.startswith("ExecStart="))
    line = line.removeprefix("ExecStart=").replace("@VENV@", str(VENV)).replace("%i", instance)
    line = line.replace("@ROOT@", str(ROOT))
    return shlex.split(line)


def wait(condition, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if condition():
                return
        except (OSError, requests.RequestException, psycopg2.OperationalError):
            pass
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


class Stack:
    """Processes and PostgreSQL clusters started by the test, stopped in reverse order."""

    def __init__(self, base: Path):
        self.base = base
        self.processes: dict[str, subprocess.Popen] = {}
        self.pg_dirs: list[Path] = []

    def start(self, name: str, command: list[str], **kwargs) -> subprocess.Popen:
        log = open(self.base / f"{name}.log", "w")  # noqa: SIM115 - closed with the process
        process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, **kwargs
        )
        self.processes[name] = process
        return process

    def pg_ctl(self, data: Path, *args: str) -> None:
        subprocess.run(
            as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(data), "-l", str(data / "log"),
                        "-w", "-t", "60", *args),
            check=True, capture_output=True,
        )  # fmt: skip

    def stop_all(self) -> None:
        for process in reversed(list(self.processes.values())):
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
        for data in reversed(self.pg_dirs):
            subprocess.run(
                as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"),
                capture_output=True,
            )

    def log(self, name: str) -> str:
        return (self.base / f"{name}.log").read_text(errors="replace")


@pytest.fixture(scope="module")
def stack():
    for tool in ("nginx", "pgbouncer"):
        if not (shutil.which(tool) or Path(f"/usr/sbin/{tool}").exists()):
            pytest.skip(f"{tool} is not installed (make cluster-tools)")
    if not (PG_BIN / "pg_basebackup").exists():
        pytest.skip(f"no PostgreSQL 15 server binaries in {PG_BIN}")
    base = Path(tempfile.mkdtemp(prefix="topup-cluster-"))
    base.chmod(0o755)
    if os.geteuid() == 0:
        shutil.chown(base, "postgres", "postgres")
    running = Stack(base)
    try:
        yield running
    finally:
        running.stop_all()
        if not os.environ.get("CLUSTER_KEEP"):  # CLUSTER_KEEP=1 leaves the logs to read
            shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="module")
def cluster(stack):
    base = stack.base
    ports = {name: free_port() for name in ("primary", "replica", "bouncer", "http", "a1", "a2")}
    primary, replica = base / "primary", base / "replica"
    subprocess.run(
        as_postgres(str(PG_BIN / "initdb"), "-D", str(primary), "-A", "trust", "-U", "postgres",
                    "--no-sync"),
        check=True, capture_output=True,
    )  # fmt: skip
    conf = primary / "postgresql.conf"
    render(DEPLOY / "postgresql" / "primary.conf", primary / "topup-primary.conf",
           LISTEN="127.0.0.1", PORT=ports["primary"])  # fmt: skip
    with conf.open("a") as extra:
        extra.write(
            "include = 'topup-primary.conf'\n"
            f"unix_socket_directories = '{base}'\nfsync = off\n"
            # The standby's log names every statement it runs (which page read it).
            "log_min_duration_statement = 0\n"
        )
    with (primary / "pg_hba.conf").open("a") as hba:
        hba.write("host replication postgres 127.0.0.1/32 trust\n")
    stack.pg_dirs.append(primary)
    stack.pg_ctl(primary, "start")
    admin = psycopg2.connect(host="127.0.0.1", port=ports["primary"], user="postgres")
    admin.autocommit = True
    admin.cursor().execute(f"CREATE DATABASE {DB}")
    admin.close()
    with psycopg2.connect(
        host="127.0.0.1", port=ports["primary"], user="postgres", dbname=DB
    ) as conn:
        conn.cursor().execute("CREATE EXTENSION pg_stat_statements")
    subprocess.run(
        as_postgres(str(PG_BIN / "pg_basebackup"), "-h", "127.0.0.1", "-p", str(ports["primary"]),
                    "-U", "postgres", "-D", str(replica), "-R", "-X", "stream", "-c", "fast"),
        check=True, capture_output=True,
    )  # fmt: skip
    with (replica / "postgresql.conf").open("a") as extra:
        extra.write(f"port = {ports['replica']}\n")
    stack.pg_dirs.append(replica)
    stack.pg_ctl(replica, "start")

    auth = render(DEPLOY / "pgbouncer" / "pgbouncer.ini", base / "pgbouncer.ini",
                  DB_NAME=DB, PG_HOST="127.0.0.1", PG_PORT=ports["primary"], WEB_POOL=20,
                  PGBOUNCER_PORT=ports["bouncer"], AUTH_TYPE="trust",
                  AUTH_FILE=base / "userlist.txt", RUN_DIR=base / "run")  # fmt: skip
    (base / "run").mkdir()
    (base / "userlist.txt").write_text('"postgres" ""\n')
    if os.geteuid() == 0:
        for path in (auth, base / "userlist.txt", base / "run"):
            shutil.chown(path, "postgres", "postgres")
    stack.start("pgbouncer-out", as_postgres(shutil.which("pgbouncer") or "/usr/sbin/pgbouncer",
                                         str(auth)))  # fmt: skip

    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings_test",
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:{ports['bouncer']}/{DB}",
        "DATABASE_POOLER": "transaction",
        "PREPARED_STATEMENTS": "true",
        "DATABASE_REPLICA_URL": f"postgres://postgres@127.0.0.1:{ports['replica']}/{DB}",
        "TASKS_BACKEND": "django_tasks_db.DatabaseBackend",
        "TRUSTED_PROXIES": "127.0.0.1",
        "REPLICA_CHECK_SECONDS": "1",
        "REPLICA_READ_YOUR_WRITES_SECONDS": "30",
        # Small chunks and a short heartbeat limit: the bulk job below lasts some seconds and a
        # killed worker's job is seen as stale soon.
        "TOPUP_BULK_CHUNK_SIZE": "100",
        "TOPUP_BULK_BACKGROUND_THRESHOLD": "1000",
        "TOPUP_JOB_STALE_SECONDS": "3",
        "PROMETHEUS_MULTIPROC_DIR": str(base / "metrics"),
        "METRICS_TOKEN": METRICS_TOKEN,
    }
    (base / "metrics").mkdir()
    direct = {**env, "DATABASE_URL": f"postgres://postgres@127.0.0.1:{ports['primary']}/{DB}"}
    manage = {"cwd": ROOT, "check": True, "capture_output": True, "text": True}
    started = time.monotonic()
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput"], env=direct, **manage)
    print(f"migrate: {time.monotonic() - started:.1f}s")
    for i, name in enumerate(("a1", "a2"), 1):
        stack.start(f"web{i}", exec_start("topup-web@.service", str(ports[name])), cwd=ROOT,
                    env=env)  # fmt: skip
    worker_env = {**env, "DATABASE_URL": env["DATABASE_URL"] + "_worker"}
    for i in (1, 2):
        stack.start(f"worker{i}", exec_start("topup-worker@.service", str(i)), cwd=ROOT,
                    env=worker_env)  # fmt: skip

    site = render(DEPLOY / "nginx" / "topup.conf", base / "site.conf",
                  APP_PORT_1=ports["a1"], APP_PORT_2=ports["a2"], HTTP_PORT=ports["http"],
                  STATIC_ROOT=ROOT / "static")  # fmt: skip
    (base / "nginx-tmp").mkdir(mode=0o777)
    main = base / "nginx.conf"
    main.write_text(
        f"daemon off;\npid {base}/nginx.pid;\nerror_log {base}/nginx-error.log;\n"
        "worker_processes 2;\nevents { worker_connections 1024; }\n"
        f"http {{\n access_log {base}/nginx-access.log;\n"
        f" client_body_temp_path {base}/nginx-tmp;\n proxy_temp_path {base}/nginx-tmp;\n"
        f" include /etc/nginx/mime.types;\n include {site};\n}}\n"
    )
    stack.start("nginx", ["nginx", "-c", str(main), "-p", str(base)])
    url = f"http://127.0.0.1:{ports['http']}"
    for name in ("a1", "a2"):
        wait(lambda n=name: requests.get(f"http://127.0.0.1:{ports[n]}/login/").ok, 60, name)
    wait(lambda: requests.get(f"{url}/login/").ok, 30, "nginx")
    return {"url": url, "ports": ports, "env": env, "direct": direct, "replica_dir": replica,
            "primary_dir": primary}  # fmt: skip


BULK = 20_000  # cards of series J, blocked by the background job
SETUP = """
import json
from decimal import Decimal
from api import services
from tests import factories
root = factories.ResellerFactory(name="Root", currency="USD")
north = factories.ResellerFactory(name="North", currency="USD", parent=root)
operator = factories.operator(root, username="op")
operator.set_password("cluster-pass-1234"); operator.save()
series = factories.SeriesFactory(code="101", reseller=north, amount=Decimal("10.00"))
card, pin = factories.make_card(series=series, number="101-00000001")
tokens = [services.api_key_create(user=operator, name=f"gw {i}", reseller=north,
          networks=["127.0.0.0/8"])[1] for i in range(5)]
accounts = [factories.AccountFactory(reseller=north, user=None).number for _ in range(50)]
factories.generate(operator, north, quantity=@BULK_CARDS@, code="J")
print(json.dumps({"pin": pin, "tokens": tokens, "accounts": accounts, "north": north.pk}))
"""


def sql(port: int, query: str, params=()):
    with psycopg2.connect(host="127.0.0.1", port=port, user="postgres", dbname=DB) as conn:
        cursor = conn.cursor()
        cursor.execute(query, params)
        return cursor.fetchall()


@pytest.fixture(scope="module")
def data(cluster):
    setup = SETUP.replace("@BULK_CARDS@", str(BULK))
    out = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", setup], cwd=ROOT, env=cluster["direct"],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])


def signed_in(url: str) -> requests.Session:
    session = requests.Session()
    session.get(f"{url}/login/")
    response = session.post(
        f"{url}/login/",
        data={
            "username": "op",
            "password": "cluster-pass-1234",
            "csrfmiddlewaretoken": session.cookies["csrftoken"],
        },
        headers={"Referer": f"{url}/login/"},
    )
    assert response.ok and "sessionid" in session.cookies, response.text[:500]
    # Signing in is a POST: drop its read-your-writes cookie, as if some seconds had passed.
    session.cookies.pop("read_primary", None)
    return session


def test_fifty_simultaneous_redemptions_through_nginx_credit_once(cluster, data):
    def redeem(i):
        return requests.post(
            f"{cluster['url']}/api/v1/redemptions",
            json={"account": data["accounts"][i], "pin": data["pin"]},
            headers={
                "Authorization": f"Bearer {data['tokens'][i % 5]}",
                "Idempotency-Key": f"cluster-{i}",
            },
            timeout=60,
        ).status_code

    with ThreadPoolExecutor(50) as pool:
        statuses = sorted(pool.map(redeem, range(50)))
    assert statuses == [201] + [422] * 49, statuses
    primary = cluster["ports"]["primary"]
    assert sql(primary, "SELECT count(*) FROM billing_transaction WHERE kind='topup_card'") == [
        (1,)
    ]
    assert sql(primary, "SELECT status FROM topup_card WHERE number='101-00000001'") == [
        ("activated",)
    ]
    # Either app server's /metrics adds up every process of the host (multiprocess mode).
    port = cluster["ports"]["a2"]
    text = requests.get(
        f"http://127.0.0.1:{port}/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}
    ).text
    counted = {
        outcome: float(value)
        for outcome, value in re.findall(r'topup_redemptions_total\{outcome="(\w+)"\} (\S+)', text)
    }
    assert counted == {"success": 1.0, "failed": 49.0}, counted
    assert requests.get(f"{cluster['url']}/metrics").status_code == 404  # not via the site


def replica_card_reads(port: int, table: str = "topup_card") -> int:
    rows = sql(
        port,
        "SELECT coalesce(sum(calls), 0) FROM pg_stat_statements"
        " WHERE query LIKE %s AND query NOT LIKE %s",
        [f'%FROM "{table}"%', "%pg_stat_statements%"],
    )
    return int(rows[0][0])


def test_card_list_reads_the_replica_and_a_users_edit_shows_on_the_next_page(cluster, data):
    url, replica = cluster["url"], cluster["ports"]["replica"]
    # The standby has replayed the setup (lag check: it answers "ok" within a second).
    wait(lambda: sql(replica, "SELECT count(*) FROM topup_card") == [(BULK + 1,)], 30, "replay")
    session = signed_in(url)
    before = replica_card_reads(replica)
    for _ in range(3):  # two app servers: each reads it
        response = session.get(f"{url}/cards/")
        assert response.status_code == 200 and ">North</td>" in response.text
    assert replica_card_reads(replica) > before
    ready = requests.get(f"{url}/readyz").json()
    assert ready["ready"] and ready["replica"]["status"] == "ok", ready
    # The user renames the card's reseller: the next page reads the primary and shows it.
    rename = f"{url}/resellers/{data['north']}/rename/"
    session.get(rename)
    response = session.post(
        rename,
        data={"name": "North Renamed", "csrfmiddlewaretoken": session.cookies["csrftoken"]},
        headers={"Referer": rename},
    )
    assert response.status_code == 200, response.status_code
    after_write = replica_card_reads(replica)
    response = session.get(f"{url}/cards/")
    assert response.status_code == 200 and ">North Renamed</td>" in response.text
    assert replica_card_reads(replica) == after_write


def test_exports_read_the_replica(cluster, data):
    url, replica = cluster["url"], cluster["ports"]["replica"]
    session = signed_in(url)
    before = replica_card_reads(replica, "topup_series")
    for _ in range(2):  # two app servers: each streams it
        response = session.get(f"{url}/series/reconciliation.csv")
        assert response.status_code == 200 and "101-00000001" in response.text
    assert replica_card_reads(replica, "topup_series") > before
    response = session.get(f"{url}/reports/liability.csv")
    assert response.status_code == 200 and response.text.startswith("month,")


def replica_status(cluster) -> set[str]:
    """What each app server's /readyz says of the replica (each asks it on its own)."""
    ports = cluster["ports"]
    return {
        requests.get(f"http://127.0.0.1:{ports[name]}/readyz").json()["replica"]["status"]
        for name in ("a1", "a2")
    }


def test_a_lagging_replica_is_reported_and_the_pages_read_the_primary(cluster, data):
    url, replica = cluster["url"], cluster["ports"]["replica"]
    sql(replica, "SELECT pg_wal_replay_pause()")
    try:
        session = signed_in(url)  # a write the paused standby receives and does not replay
        # Lag is the age of the last transaction replayed while WAL waits: above
        # REPLICA_MAX_LAG_SECONDS (5) within seconds.
        wait(lambda: replica_status(cluster) == {"lagging"}, 30, "the lag to be seen")
        # Each gunicorn worker keeps its last answer REPLICA_CHECK_SECONDS (1): let any "ok"
        # seen just before expire (the lag only grows while replay is paused).
        time.sleep(1.5)
        assert requests.get(f"{url}/readyz").json()["ready"]  # reported, not required
        before = replica_card_reads(replica)
        for _ in range(2):
            response = session.get(f"{url}/cards/")
            assert response.status_code == 200 and "101-00000001" in response.text
        assert replica_card_reads(replica) == before
    finally:
        sql(replica, "SELECT pg_wal_replay_resume()")
    wait(lambda: replica_status(cluster) == {"ok"}, 30, "the replica to catch up")


def test_a_stopped_replica_leaves_every_page_answering_from_the_primary(cluster, data, stack):
    url = cluster["url"]
    session = signed_in(url)
    stack.pg_ctl(cluster["replica_dir"], "-m", "fast", "stop")
    session.cookies.pop("read_primary", None)
    pages = ["/cards/", "/series/", "/dashboard/", "/reports/liability/", "/resellers/",
             "/series/reconciliation.csv", "/reports/liability.csv", "/audit-log.csv"]  # fmt: skip
    for _ in range(2):
        for page in pages:
            response = session.get(f"{url}{page}")
            assert response.status_code == 200, (page, response.status_code)
    # Both app servers say so, and stay ready: the replica is reported, not required.
    for name in ("a1", "a2"):
        ready = requests.get(f"http://127.0.0.1:{cluster['ports'][name]}/readyz").json()
        assert ready["ready"] and ready["replica"]["status"] == "down", ready


BLOCK_SERIES_J = """
from topup import services
from topup.selectors import cards_for_selection
from resellers.models import User
user = User.objects.get(username="op")
selection = {"search": "series=J"}
result = services.cards_mass_update(user=user, cards=cards_for_selection(user, selection),
    edit=services.MassEdit(status_mode="block"), selection=selection)
print(result.job.pk)
"""


def test_a_bulk_job_finishes_exactly_once_when_its_worker_is_killed(cluster, data, stack):
    primary = cluster["ports"]["primary"]
    manage = {"cwd": ROOT, "env": cluster["direct"], "check": True, "capture_output": True}
    out = subprocess.run([sys.executable, "manage.py", "shell", "-c", BLOCK_SERIES_J], **manage)
    job = int(out.stdout.split()[-1])

    def job_row():
        return sql(primary, "SELECT state, progress, runs FROM topup_bulkjob WHERE id=%s", [job])[0]

    wait(lambda: job_row()[1] > 0, 60, "the job to start")
    # The worker whose log shows the job's task is the one running it.
    running = [n for n in ("worker1", "worker2") if "run_bulk_job" in stack.log(n)]
    assert len(running) == 1, running
    os.killpg(stack.processes[running[0]].pid, signal.SIGKILL)
    state, selected, _ = job_row()
    assert state == "running" and 0 < selected < BULK, (state, selected)
    # The reaper (its systemd unit's command), once the heartbeat is stale, queues it again.
    time.sleep(4)
    subprocess.run(exec_start("topup-reap-jobs.service", ""), **manage)
    wait(lambda: job_row()[0] == "done", 120, "the job to finish on the other worker")
    assert job_row() == ("done", BULK, 2)
    assert sql(
        primary, "SELECT count(*) FROM topup_card WHERE number LIKE 'J%%' AND status='blocked'"
    ) == [(BULK,)]
    assert sql(
        primary, "SELECT count(*) FROM topup_auditevent WHERE action='cards.mass_edited'"
    ) == [(1,)]


def test_each_pgbouncer_pool_sets_its_own_time_limits(cluster):
    # The app sends no SET behind a transaction pooler (config/postgresql/base.py).
    bouncer = cluster["ports"]["bouncer"]
    for name, expected in ((DB, "30s"), (f"{DB}_worker", "30min")):
        with psycopg2.connect(host="127.0.0.1", port=bouncer, user="postgres", dbname=name) as c:
            cursor = c.cursor()
            cursor.execute("SHOW statement_timeout")
            assert cursor.fetchone()[0] == expected, name


CARDS_FOR_BENCH = """
import json
from decimal import Decimal
from tests import factories
from resellers.models import Reseller
north = Reseller.objects.get(name__startswith="North")
series = factories.SeriesFactory(code="@CODE@", reseller=north, amount=Decimal("1.00"))
print(json.dumps([factories.make_card(series=series)[1] for _ in range(@N@)]))
"""


def redemptions_per_second(url: str, pins: list[str], data: dict, threads: int) -> float:
    def redeem(i):
        response = requests.post(
            f"{url}/api/v1/redemptions",
            json={"account": data["accounts"][i % 50], "pin": pins[i]},
            headers={
                "Authorization": f"Bearer {data['tokens'][i % 5]}",
                "Idempotency-Key": f"bench-{uuid.uuid4()}",
            },
            timeout=60,
        )
        assert response.status_code == 201, response.text[:200]

    started = time.monotonic()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(redeem, range(len(pins))))
    return len(pins) / (time.monotonic() - started)


def cpu_seconds(roots: dict[str, int]) -> dict[str, float]:
    """CPU seconds (user + system) used so far by each named process with its descendants,
    and by this process (the client's threads) alone."""
    tick = os.sysconf("SC_CLK_TCK")
    stats = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # not a process, or gone
        stats[int(entry.name)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / tick)
    children: dict[int, list[int]] = {}
    for pid, (parent, _) in stats.items():
        children.setdefault(parent, []).append(pid)

    def tree(pid):
        yield pid
        for child in children.get(pid, []):
            yield from tree(child)

    used = {
        name: sum(stats[pid][1] for pid in tree(root) if pid in stats)
        for name, root in roots.items()
    }
    return {**used, "client": os.times().user + os.times().system}  # this process's threads


@pytest.mark.skipif(not os.environ.get("CLUSTER_BENCH"), reason="CLUSTER_BENCH=1 measures")
def test_throughput_through_the_cluster_against_one_app_server(cluster, data, stack):
    """docs/benchmarks.md: redemptions/s via nginx -> 2 gunicorn -> PgBouncer, as a ratio of
    the same load straight to one gunicorn on PostgreSQL (prepared statements on), the issue's
    comparison (2 gunicorn workers against 4); and, the same total of workers, against one
    gunicorn of 4 workers. Rounds rotate which goes first (the machine is shared); the medians
    are compared."""
    count, threads = int(os.environ.get("CLUSTER_BENCH_N", "400")), 16
    rounds = int(os.environ.get("CLUSTER_BENCH_ROUNDS", "3"))
    manage = {"cwd": ROOT, "env": cluster["direct"], "check": True, "capture_output": True}
    script = CARDS_FOR_BENCH.replace("@CODE@", "B").replace("@N@", str(count * 3 * rounds))
    out = subprocess.run([sys.executable, "manage.py", "shell", "-c", script], **manage)
    pins = json.loads(out.stdout.strip().splitlines()[-1])
    single = {**cluster["direct"], "PREPARED_STATEMENTS": "true", "DATABASE_POOLER": ""}
    targets = {"cluster": cluster["url"]}
    # gunicorn reads GUNICORN_CMD_ARGS after its config file (deploy/gunicorn.conf.py: 2 x 4).
    for name, workers in (("alone", "2"), ("alone4", "4")):
        port = free_port()
        env = {**single, "GUNICORN_CMD_ARGS": f"--workers {workers}"}
        stack.start(name, exec_start("topup-web@.service", str(port)), cwd=ROOT, env=env)
        wait(lambda p=port: requests.get(f"http://127.0.0.1:{p}/healthz").ok, 60, name)
        targets[name] = f"http://127.0.0.1:{port}"
    names = ["alone", "cluster", "alone4"]
    found = {name: [] for name in names}
    # Where the CPU goes, per side: the app servers, the primary, nginx, PgBouncer, the client.
    primary = int((cluster["primary_dir"] / "postmaster.pid").read_text().split()[0])
    processes = {
        "alone": {"gunicorn": [stack.processes["alone"].pid]},
        "alone4": {"gunicorn": [stack.processes["alone4"].pid]},
        "cluster": {
            "gunicorn": [stack.processes["web1"].pid, stack.processes["web2"].pid],
            "nginx": [stack.processes["nginx"].pid],
            "pgbouncer": [stack.processes["pgbouncer-out"].pid],
        },
    }
    used = {name: {} for name in names}
    loads = [os.getloadavg()[0]]
    for round_ in range(rounds):
        for name in names[round_ % 3 :] + names[: round_ % 3]:
            batch, pins = pins[:count], pins[count:]
            roots = {
                f"{kind}{i}": pid
                for kind, pids in {**processes[name], "postgres": [primary]}.items()
                for i, pid in enumerate(pids)
            }
            before = cpu_seconds(roots)
            found[name].append(redemptions_per_second(targets[name], batch, data, threads))
            for root, seconds in cpu_seconds(roots).items():
                kind = root.rstrip("0123456789")
                used[name][kind] = used[name].get(kind, 0) + seconds - before[root]
            loads.append(os.getloadavg()[0])
    median = {name: sorted(found[name])[rounds // 2] for name in names}
    print(
        f"\nBENCH {rounds} rounds of {count} redemptions, {threads} client threads,"
        f" {os.cpu_count()} cores: one gunicorn (2 workers) -> PostgreSQL"
        f" {[round(x) for x in found['alone']]}/s; nginx -> 2 gunicorn (2 workers each) ->"
        f" PgBouncer {[round(x) for x in found['cluster']]}/s; one gunicorn (4 workers) ->"
        f" PostgreSQL {[round(x) for x in found['alone4']]}/s; median ratio"
        f" {median['cluster'] / median['alone']:.2f} (against 4 workers:"
        f" {median['cluster'] / median['alone4']:.2f}); 1-min load average {min(loads):.1f}"
        f" to {max(loads):.1f}"
    )
    for name, kinds in used.items():
        per = {kind: f"{1000 * seconds / (count * rounds):.2f}" for kind, seconds in kinds.items()}
        print(f"BENCH CPU ms per redemption, {name}: {per}")
    assert all(median.values())
