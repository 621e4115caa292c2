#!/usr/bin/env bash
# Local single-node Kafka (KRaft) for manual use: kafka.sh start|stop|status
#
#   KAFKA_PORT             PLAINTEXT listener on 127.0.0.1 (default 9092)
#   KAFKA_CONTROLLER_PORT  KRaft controller listener on 127.0.0.1 (default 9093)
#   KAFKA_DATA_DIR         broker folder (default <repo>/.data/kafka; git-ignored)
#   KAFKA_HEAP_MB          JVM heap (default 512)
#   KAFKA_START_TIMEOUT_S  bound on waiting for the listener (default 60)
#   KAFKA_STOP_TIMEOUT_S   bound on the controlled shutdown before SIGKILL (default 30)
#
# Tests do not use this script: libs/shared/infra/src/kafka-broker.ts starts its own broker on a
# free port. Both render deploy/kafka/server.properties.template.
set -euo pipefail

KAFKA_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$KAFKA_DIR/../.." && pwd)"
PORT="${KAFKA_PORT:-9092}"
CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-9093}"
DATA_DIR="${KAFKA_DATA_DIR:-$REPO_ROOT/.data/kafka}"
HEAP_MB="${KAFKA_HEAP_MB:-512}"
START_TIMEOUT_S="${KAFKA_START_TIMEOUT_S:-60}"
STOP_TIMEOUT_S="${KAFKA_STOP_TIMEOUT_S:-30}"
PID_FILE="$DATA_DIR/kafka.pid"

die() { echo "kafka.sh: $*" >&2; exit 1; }

for value in "$PORT" "$CONTROLLER_PORT" "$HEAP_MB" "$START_TIMEOUT_S" "$STOP_TIMEOUT_S"; do
  [[ "$value" =~ ^[0-9]+$ ]] || die "'$value' is not a positive integer (check KAFKA_* variables)"
done
[[ "$PORT" != "$CONTROLLER_PORT" ]] || die "KAFKA_PORT and KAFKA_CONTROLLER_PORT must differ"

# Prints the pid of the broker this script started, if it still runs. Checks the command line so
# a recycled pid of some other process is never signalled.
running_pid() {
  [[ -f "$PID_FILE" ]] || return 1
  local pid
  pid="$(tr -dc '0-9' <"$PID_FILE")"
  [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q 'kafka\.Kafka' || return 1
  echo "$pid"
}

port_busy() {
  # A successful connect means something listens there.
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

log_tail() {
  for f in "$DATA_DIR/server.log" "$DATA_DIR/broker.out"; do
    [[ -s "$f" ]] && { echo "--- $f (tail) ---"; tail -n 30 "$f"; }
  done
  return 0
}

start() {
  if pid="$(running_pid)"; then
    echo "kafka.sh: already running (pid $pid) on 127.0.0.1:$PORT"
    return 0
  fi
  port_busy "$PORT" && die "port 127.0.0.1:$PORT is already in use; set KAFKA_PORT or stop what holds it"
  port_busy "$CONTROLLER_PORT" && die "port 127.0.0.1:$CONTROLLER_PORT is already in use; set KAFKA_CONTROLLER_PORT"
  bash "$KAFKA_DIR/fetch-kafka.sh"

  mkdir -p "$DATA_DIR/data"
  sed -e "s|@PORT@|$PORT|g" -e "s|@CONTROLLER_PORT@|$CONTROLLER_PORT|g" -e "s|@LOG_DIRS@|$DATA_DIR/data|g" \
    "$KAFKA_DIR/server.properties.template" >"$DATA_DIR/server.properties"
  local jvm_args=(
    "-Dlog4j2.configurationFile=$KAFKA_DIR/log4j2.properties"
    "-Dkafka.logs.dir=$DATA_DIR"
    "-Djava.awt.headless=true"
    -cp "$KAFKA_DIR/lib/*"
  )
  if [[ ! -f "$DATA_DIR/data/meta.properties" ]]; then
    local cluster_id
    cluster_id="$(java "${jvm_args[@]}" kafka.tools.StorageTool random-uuid)"
    echo "kafka.sh: formatting storage in $DATA_DIR/data (cluster $cluster_id)"
    java -Xmx256m "${jvm_args[@]}" kafka.tools.StorageTool format -t "$cluster_id" -c "$DATA_DIR/server.properties" >/dev/null \
      || die "storage format failed; $(log_tail)"
  fi

  # setsid: the broker outlives this shell and the terminal it ran in.
  setsid nohup java "-Xmx${HEAP_MB}m" "${jvm_args[@]}" kafka.Kafka "$DATA_DIR/server.properties" \
    >>"$DATA_DIR/broker.out" 2>&1 </dev/null &
  local pid=$!
  echo "$pid" >"$PID_FILE"

  local deadline=$((SECONDS + START_TIMEOUT_S))
  until port_busy "$PORT"; do
    if ! kill -0 "$pid" 2>/dev/null; then
      rm -f "$PID_FILE"
      echo "kafka.sh: the broker exited during start" >&2
      log_tail >&2
      exit 1
    fi
    if ((SECONDS >= deadline)); then
      echo "kafka.sh: no listener on 127.0.0.1:$PORT after ${START_TIMEOUT_S}s; stopping it" >&2
      log_tail >&2
      stop >/dev/null || true
      exit 1
    fi
    sleep 0.2
  done
  echo "kafka.sh: running (pid $pid); KAFKA_BROKERS=127.0.0.1:$PORT; data in $DATA_DIR"
}

stop() {
  local pid
  if ! pid="$(running_pid)"; then
    rm -f "$PID_FILE"
    echo "kafka.sh: not running"
    return 0
  fi
  kill -TERM "$pid"
  local deadline=$((SECONDS + STOP_TIMEOUT_S))
  while kill -0 "$pid" 2>/dev/null; do
    if ((SECONDS >= deadline)); then
      echo "kafka.sh: no exit ${STOP_TIMEOUT_S}s after SIGTERM; sending SIGKILL" >&2
      kill -KILL "$pid" 2>/dev/null || true
      break
    fi
    sleep 0.2
  done
  rm -f "$PID_FILE"
  echo "kafka.sh: stopped (pid $pid)"
}

status() {
  if pid="$(running_pid)"; then
    echo "kafka.sh: running (pid $pid); KAFKA_BROKERS=127.0.0.1:$PORT; data in $DATA_DIR"
  else
    echo "kafka.sh: not running"
    return 3
  fi
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
