"""gunicorn settings for the app servers (systemd/topup-web@.service: `-c` this file).

Metrics: every process writes to PROMETHEUS_MULTIPROC_DIR (config/metrics.py); a worker that
exits has its live gauges removed, as prometheus-client's multiprocess mode asks.
"""

from prometheus_client import multiprocess

workers = 2
threads = 4
timeout = 60
keepalive = 75  # longer than nginx's upstream keepalive idle time


def child_exit(server, worker):
    multiprocess.mark_process_dead(worker.pid)
