# Starts (installing first when missing) the services and tools the test suite and benchmarks
# use. Sourced by scripts/test and scripts/bench; safe to run repeatedly.

JALIN_TOOLS=${JALIN_TOOLS:-/opt/jalin-tools}

log() { printf '==> %s\n' "$*" >&2; }

apt_install() {
  log "installing $*"
  if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
  $SUDO apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "$@" >/dev/null
}

ensure_postgres() {
  if pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then return; fi
  command -v pg_ctlcluster >/dev/null || apt_install postgresql
  log "starting PostgreSQL"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
  for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && return; sleep 1; done
  echo "PostgreSQL did not start on 127.0.0.1:5432" >&2; return 1
}

ensure_redis() {
  if redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then return; fi
  command -v redis-server >/dev/null || apt_install redis-server
  log "starting Redis"
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log
  for _ in $(seq 1 30); do redis-cli ping >/dev/null 2>&1 && return; sleep 1; done
  echo "Redis did not start on 127.0.0.1:6379" >&2; return 1
}

# postfix's smtp-sink and smtp-source, unpacked without installing the mail service.
ensure_postfix_tools() {
  if [ -x "$JALIN_TOOLS/postfix/usr/sbin/smtp-sink" ]; then return; fi
  log "unpacking postfix's smtp-sink and smtp-source into $JALIN_TOOLS/postfix"
  mkdir -p "$JALIN_TOOLS/postfix"
  tmp=$(mktemp -d)
  (cd "$tmp" && apt-get download postfix >/dev/null 2>&1 || { apt-get update -qq >/dev/null && apt-get download postfix >/dev/null; })
  dpkg -x "$tmp"/postfix_*.deb "$JALIN_TOOLS/postfix"
  rm -rf "$tmp"
}

ensure_python_refs() {
  if python3 -c 'import aiosmtpd, dkim, standardwebhooks, lifetimes' 2>/dev/null; then return; fi
  log "installing the Python reference implementations (aiosmtpd, dkimpy, standardwebhooks, lifetimes)"
  python3 -m pip install -q aiosmtpd dkimpy standardwebhooks lifetimes
}

ensure_kannel() {
  command -v bearerbox >/dev/null || apt_install kannel
}

drop_stale_test_databases() {
  psql -h 127.0.0.1 -U postgres -d postgres -Atc \
    "SELECT datname FROM pg_database WHERE datname LIKE 'jalin_t_%'" 2>/dev/null |
    while read -r db; do
      psql -h 127.0.0.1 -U postgres -d postgres -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
    done
}

export JALIN_SMTP_SINK="$JALIN_TOOLS/postfix/usr/sbin/smtp-sink"
export JALIN_SMTP_SOURCE="$JALIN_TOOLS/postfix/usr/sbin/smtp-source"
export JALIN_POSTFIX_LIB="$JALIN_TOOLS/postfix/usr/lib/postfix"
