"""Before the tests: are PostgreSQL and Redis there? One line each when not, with how to start it."""

import os
import socket
import sys
from urllib.parse import urlsplit


def reachable(url: str, default_port: int) -> tuple[str, int, bool]:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or default_port
    try:
        socket.create_connection((host, port), timeout=3).close()
        return host, port, True
    except OSError:
        return host, port, False


missing = []
host, port, ok = reachable(os.environ["DATABASE_URL"], 5432)
if not ok:
    missing.append(
        f"PostgreSQL is not answering on {host}:{port}: start it "
        "(Debian: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start; "
        "or docker compose up -d db) or set DATABASE_URL"
    )
host, port, ok = reachable(os.environ["REDIS_URL"], 6379)
if not ok:
    missing.append(
        f"Redis is not answering on {host}:{port}: start it (redis-server --daemonize yes; "
        "or docker compose up -d redis) or set REDIS_URL"
    )
for line in missing:
    print(line, file=sys.stderr)
sys.exit(1 if missing else 0)
