#!/usr/bin/env bash
# A real S3 server for the integration tests: a one-node Ceph cluster (monitor, one in-memory OSD,
# radosgw) kept under one state folder.
#
#   s3-server.sh start   boot it (installs ceph-mon ceph-osd radosgw when missing) and write $DIR/env
#   s3-server.sh stop    end exactly the daemons it started and remove the state folder
#   s3-server.sh env     print the env file (export S3_TEST_ENDPOINT=... and the test user's keys)
#   s3-server.sh status  exit 0 when it is running and answering
#
# S3_TEST_DIR overrides the state folder (default: <repo>/.s3-test-server). It boots in about 2 s. The
# OSD keeps objects in RAM: its memory grows to about twice what is stored (about 2 GiB fits).
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DIR=${S3_TEST_DIR:-$REPO/.s3-test-server}
CONF=$DIR/ceph.conf
PIDS=$DIR/pids # lines of "<daemon> <pid>"
ENV_FILE=$DIR/env
# Room for about 2 GiB of objects: RGW keeps some metadata besides, and the OSD refuses writes past 95 %.
MEMSTORE_BYTES=$((3 * 1024 * 1024 * 1024))
STEP_TIMEOUT=${S3_TEST_STEP_TIMEOUT:-40} # seconds for each wait

log() { echo "s3-server: $*" >&2; }

# Prints the last lines of one daemon's logs (or of all when none is named).
log_tail() {
  local daemon f
  [ $# -gt 0 ] || set -- mon osd rgw client
  for daemon in "$@"; do
    for f in "$DIR/$daemon/log/"*; do
      [ -s "$f" ] || continue
      echo "----- $f (last 40 lines)" >&2
      tail -n 40 "$f" >&2
    done
  done
}

# Fails the start: shows the logs of the daemon concerned, ends what was started, keeps the logs.
fail() {
  local daemon=$1
  shift
  log "error: $*"
  log_tail "$daemon"
  kill_recorded
  log "logs kept in $DIR; '$0 stop' removes them"
  exit 1
}

# The executable name each daemon runs as, to never signal a process that merely reused a PID.
daemon_comm() {
  case $1 in
    mon) echo ceph-mon ;;
    osd) echo ceph-osd ;;
    rgw) echo radosgw ;;
  esac
}

# True while the PID is a live (not zombie) process of the daemon's executable.
is_alive() {
  local daemon=$1 pid=$2 stat
  [ -r "/proc/$pid/comm" ] || return 1
  [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$(daemon_comm "$daemon")" ] || return 1
  stat=$(cat "/proc/$pid/stat" 2>/dev/null) || return 1
  stat=${stat##*) }
  [ "${stat%% *}" != Z ]
}

# Ends the recorded daemons, radosgw first, and waits until they are gone.
kill_recorded() {
  [ -f "$PIDS" ] || return 0
  local daemon pid i
  for daemon in rgw osd mon; do
    pid=$(awk -v d="$daemon" '$1 == d { print $2 }' "$PIDS")
    [ -n "$pid" ] && is_alive "$daemon" "$pid" || continue
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do
      is_alive "$daemon" "$pid" || break
      sleep 0.1
    done
    if is_alive "$daemon" "$pid"; then
      log "$daemon ($pid) did not stop in 10 s; killing it"
      kill -KILL "$pid" 2>/dev/null || true
    fi
  done
}

# True when an HTTP server answers a GET on 127.0.0.1:PORT.
http_answers() {
  timeout 5 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1" && printf "GET / HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n" >&3 && IFS= read -r line <&3 && [[ $line == HTTP/* ]]' _ "$1" 2>/dev/null
}

# A TCP port on 127.0.0.1 that nothing listens on (below Linux's ephemeral range, above Ceph's 6800-7300).
free_port() {
  local port i
  for ((i = 0; i < 100; i++)); do
    port=$((20000 + RANDOM % 12000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "$port"
      return
    fi
  done
  log "error: found no free port"
  exit 1
}

random_string() { # LENGTH CHARACTERS
  local s=''
  while [ ${#s} -lt "$1" ]; do s+=$(head -c 256 /dev/urandom | LC_ALL=C tr -dc "$2"); done
  echo "${s:0:$1}"
}

is_running() {
  [ -f "$PIDS" ] && [ -f "$ENV_FILE" ] || return 1
  local daemon pid port
  for daemon in mon osd rgw; do
    pid=$(awk -v d="$daemon" '$1 == d { print $2 }' "$PIDS")
    [ -n "$pid" ] && is_alive "$daemon" "$pid" || return 1
  done
  port=$(sed -n 's|.*S3_TEST_ENDPOINT=http://127\.0\.0\.1:\([0-9]*\).*|\1|p' "$ENV_FILE")
  [ -n "$port" ] && http_answers "$port"
}

ensure_installed() {
  local tool missing=0
  for tool in ceph ceph-mon ceph-osd monmaptool radosgw radosgw-admin; do command -v "$tool" >/dev/null || missing=1; done
  [ "$missing" = 1 ] || return 0
  log "installing ceph-mon ceph-osd radosgw"
  local sudo=''
  [ "$(id -u)" = 0 ] || sudo=sudo
  $sudo apt-get update -qq || { log "error: apt-get update failed"; exit 1; }
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends ceph-mon ceph-osd radosgw >/dev/null ||
    { log "error: apt-get install ceph-mon ceph-osd radosgw failed"; exit 1; }
}

# The ceph CLI bounded in time, so that a monitor that does not answer fails the step instead of hanging.
ceph_cli() { timeout 15 ceph -c "$CONF" --connect-timeout 10 "$@"; }

# Runs "$@" every 0.2 s until it succeeds or STEP_TIMEOUT passes.
wait_for() {
  local deadline=$((SECONDS + STEP_TIMEOUT))
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -lt $deadline ] || return 1
    sleep 0.2
  done
}

osd_up() { ceph_cli osd stat | grep -q '1 up'; }

# Starts one daemon in its own session (so that a job control kill of the caller leaves it alone), without
# the start lock's descriptor, and records its PID.
start_daemon() {
  local daemon=$1
  shift
  setsid "$@" </dev/null >>"$DIR/$daemon/log/stdout.log" 2>&1 9>&- &
  echo "$daemon $!" >>"$PIDS"
}

write_conf() {
  local fsid=$1 mon_port=$2 rgw_port=$3
  cat >"$CONF" <<EOF
[global]
fsid = $fsid
mon host = [v2:127.0.0.1:$mon_port]
public addr = 127.0.0.1
ms bind msgr1 = false
ms bind ipv6 = false
auth cluster required = none
auth service required = none
auth client required = none
keyring = $DIR/keyring
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
mon allow pool size one = true
mon allow pool delete = true
mon warn on pool no redundancy = false
mon warn on insecure global id reclaim allowed = false
osd crush chooseleaf type = 0
mon data avail warn = 2
mon data avail crit = 1
# Commit monitor changes (pools, the OSD joining) at once rather than batched over a second: boots faster.
paxos propose interval = 0.01
log to stderr = false
err to stderr = true

[mon.a]
mon data = $DIR/mon/data
run dir = $DIR/mon/run
admin socket = $DIR/mon/run/\$name.asok
log file = $DIR/mon/log/\$name.log

[osd.0]
osd objectstore = memstore
memstore device bytes = $MEMSTORE_BYTES
osd data = $DIR/osd/data
run dir = $DIR/osd/run
admin socket = $DIR/osd/run/\$name.asok
log file = $DIR/osd/log/\$name.log

[client]
# With auth none, clients (radosgw above all) hang at start unless they speak crc to the monitor.
ms mon client mode = crc
run dir = $DIR/client/run
admin socket = $DIR/client/run/\$name.\$pid.asok
log file = $DIR/client/log/\$name.log

[client.rgw]
# tcp_nodelay: without it an answer written in two parts (a listing, a batch delete) waits ~40 ms for
# the client's delayed ACK (Nagle), which made small requests cost 50 ms.
rgw frontends = beast endpoint=127.0.0.1:$rgw_port tcp_nodelay=1
rgw data = $DIR/rgw/data
run dir = $DIR/rgw/run
admin socket = $DIR/rgw/run/\$name.asok
log file = $DIR/rgw/log/\$name.log
rgw dns name = 127.0.0.1
EOF
}

start() {
  exec 9>"/tmp/s3-test-server.$(echo "$DIR" | cksum | cut -d' ' -f1).lock"
  flock -w 120 9 || { log "error: another start for $DIR did not finish in 120 s"; exit 1; } # one start at a time
  if is_running; then
    log "already running: $(sed -n 's/.*\(S3_TEST_ENDPOINT=[^ ]*\).*/\1/p' "$ENV_FILE") (state in $DIR)"
    return
  fi
  ensure_installed
  if [ -e "$DIR" ]; then
    log "removing a stale state folder $DIR"
    kill_recorded
    rm -rf "$DIR"
  fi

  local began=${EPOCHREALTIME/,/.} fsid osd_uuid mon_port rgw_port access_key secret_key
  local daemon
  for daemon in mon osd rgw client; do mkdir -p "$DIR/$daemon/run" "$DIR/$daemon/log" "$DIR/$daemon/data"; done
  : >"$PIDS"
  : >"$DIR/keyring"
  fsid=$(cat /proc/sys/kernel/random/uuid)
  osd_uuid=$(cat /proc/sys/kernel/random/uuid)
  mon_port=$(free_port)
  rgw_port=$(free_port)
  while [ "$rgw_port" = "$mon_port" ]; do rgw_port=$(free_port); done
  write_conf "$fsid" "$mon_port" "$rgw_port"

  # Monitor
  monmaptool --create --fsid "$fsid" --addv a "[v2:127.0.0.1:$mon_port]" "$DIR/mon/monmap" >>"$DIR/mon/log/mkfs.log" 2>&1 ||
    fail mon "monmaptool failed"
  ceph-mon -c "$CONF" -i a --mkfs --monmap "$DIR/mon/monmap" >>"$DIR/mon/log/mkfs.log" 2>&1 || fail mon "ceph-mon --mkfs failed"
  start_daemon mon ceph-mon -c "$CONF" -i a -f
  wait_for ceph_cli mon stat || fail mon "the monitor did not answer within ${STEP_TIMEOUT}s"

  # One OSD keeping its objects in memory
  local osd_id
  osd_id=$(ceph_cli osd new "$osd_uuid" 2>>"$DIR/client/log/cli.log") || fail client "ceph osd new failed"
  [ "$osd_id" = 0 ] || fail client "expected OSD id 0, got '$osd_id'"
  ceph-osd -c "$CONF" -i 0 --mkfs --osd-uuid "$osd_uuid" >>"$DIR/osd/log/mkfs.log" 2>&1 || fail osd "ceph-osd --mkfs failed"
  ceph_cli osd crush add osd.0 1.0 host=localhost root=default >>"$DIR/client/log/cli.log" 2>&1 || fail client "adding the OSD to the crush map failed"
  start_daemon osd ceph-osd -c "$CONF" -i 0 -f
  wait_for osd_up || fail osd "the OSD was not up within ${STEP_TIMEOUT}s"

  # radosgw, and a user with generated keys
  start_daemon rgw radosgw -c "$CONF" -n client.rgw -f
  wait_for http_answers "$rgw_port" || fail rgw "radosgw did not answer on 127.0.0.1:$rgw_port within ${STEP_TIMEOUT}s"
  access_key=$(random_string 20 'A-Z0-9')
  secret_key=$(random_string 40 'A-Za-z0-9')
  timeout 30 radosgw-admin -c "$CONF" user create --uid=s3-test --display-name="S3 test user" \
    --access-key="$access_key" --secret-key="$secret_key" >/dev/null 2>>"$DIR/client/log/cli.log" ||
    fail client "radosgw-admin user create failed"

  echo "export S3_TEST_ENDPOINT=http://127.0.0.1:$rgw_port S3_TEST_ACCESS_KEY_ID=$access_key S3_TEST_SECRET_ACCESS_KEY=$secret_key S3_TEST_REGION=us-east-1" >"$ENV_FILE"
  chmod 600 "$ENV_FILE"
  log "running at http://127.0.0.1:$rgw_port after $(awk -v a="$began" -v b="${EPOCHREALTIME/,/.}" 'BEGIN { printf "%.1f", b - a }')s (state in $DIR; '$0 env' prints the settings)"
}

stop() {
  if [ ! -e "$DIR" ]; then
    log "not running (no $DIR)"
    return
  fi
  kill_recorded
  rm -rf "$DIR"
  log "stopped; removed $DIR"
}

case ${1:-} in
  start) start ;;
  stop) stop ;;
  env)
    [ -f "$ENV_FILE" ] || { log "error: not running (no $ENV_FILE); run '$0 start'"; exit 1; }
    cat "$ENV_FILE"
    ;;
  status)
    if is_running; then log "running"; else log "not running"; exit 1; fi
    ;;
  *)
    echo "usage: $0 start|stop|env|status" >&2
    exit 2
    ;;
esac
