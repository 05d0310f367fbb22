#!/usr/bin/env bash
# A local single-node Apache Kafka broker (KRaft: broker and controller in one JVM) on
# loopback, without Docker: the broker's jars come from Maven Central (deploy/kafka/pom.xml),
# Java and Maven from Debian's packages (deploy/install-deps.sh).
#
#   kafka.sh fetch                          fetch the jars once per machine (idempotent)
#   kafka.sh start [--dir DIR] [--port N] [--fresh] [--property KEY=VALUE]... [--owner PID]
#                                           format DIR (first time), start the broker in the
#                                           background, wait until it answers; prints the
#                                           bootstrap address as the last line of stdout;
#                                           --property adds a broker setting to
#                                           server.properties for this start (repeatable,
#                                           e.g. --property log.cleaner.backoff.ms=500);
#                                           --owner stops the broker once process PID is
#                                           gone (test harnesses: no broker outlives a crash)
#   kafka.sh stop [--dir DIR]               SIGTERM, then SIGKILL after KAFKA_STOP_TIMEOUT s
#   kafka.sh run [--dir DIR] [--port N] [--fresh] [--property KEY=VALUE]...
#                                           start, print how to point consensusd at it, wait
#                                           for Ctrl-C, stop (what `make kafka` runs)
#   kafka.sh status [--dir DIR]             print the address if the broker runs (exit 1 if not)
#
# DIR defaults to $CONSENSUSD_KAFKA_DIR or ${TMPDIR:-/tmp}/consensusd-kafka-<uid>; it holds
# server.properties, log4j2.properties, kafka.log (the broker's log), kafka.pid, kafka.addr
# and logs/ (the data). A second start on the same DIR keeps its topics and data, and its
# ports; --fresh wipes DIR's data first. The port is a free loopback port unless --port.
#
# Environment: CONSENSUSD_KAFKA_CACHE (jar cache root, default ~/.cache/consensusd-kafka;
# the jars go to <root>/<kafka version>/jars), KAFKA_HEAP_OPTS (default -Xms256m -Xmx1g),
# KAFKA_START_TIMEOUT (s, default 90), KAFKA_STOP_TIMEOUT (s, default 30).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
pom=$here/pom.xml
kafka_version=$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$pom")
cache_root=${CONSENSUSD_KAFKA_CACHE:-$HOME/.cache/consensusd-kafka}
cache=$cache_root/$kafka_version
jars=$cache/jars
default_dir=${CONSENSUSD_KAFKA_DIR:-${TMPDIR:-/tmp}/consensusd-kafka-$(id -u)}
start_timeout=${KAFKA_START_TIMEOUT:-90}
stop_timeout=${KAFKA_STOP_TIMEOUT:-30}
heap_opts=${KAFKA_HEAP_OPTS:--Xms256m -Xmx1g}

say() { echo "kafka.sh: $*" >&2; }
die() { say "$*"; exit 1; }

need() {  # need COMMAND FIX
  command -v "$1" >/dev/null 2>&1 || die "'$1' not found; $2"
}

usage() {
  sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d' | sed 's/^# \{0,1\}//' >&2
  exit 2
}

# --- fetch -------------------------------------------------------------------------------

fetch() {
  if [[ -f $jars/.complete ]]; then
    return 0
  fi
  need java "install Java 17 with deploy/install-deps.sh (Debian package openjdk-17-jre-headless)"
  need mvn "install Maven with deploy/install-deps.sh (Debian package maven)"
  mkdir -p "$cache"
  local tmp=$cache/jars.tmp.$$ log=$cache/fetch.log
  rm -rf "$tmp"
  say "fetching Apache Kafka $kafka_version jars from Maven Central into $jars (once per machine)"
  if ! mvn -B -q -Dstyle.color=never -f "$pom" dependency:copy-dependencies -DoutputDirectory="$tmp" >"$log" 2>&1; then
    rm -rf "$tmp"
    tail -n 20 "$log" | sed 's/\x1b\[[0-9;]*m//g' >&2 || true
    die "could not fetch the Kafka jars with Maven (full log: $log). Maven Central" \
      "(https://repo.maven.apache.org/maven2) must be reachable: check the network, or set" \
      "a proxy or mirror in ~/.m2/settings.xml, then run 'bash deploy/kafka/kafka.sh fetch' again."
  fi
  ls "$tmp"/kafka_2.13-"$kafka_version".jar >/dev/null 2>&1 ||
    die "Maven finished but $tmp has no kafka_2.13-$kafka_version.jar (log: $log)"
  touch "$tmp/.complete"
  if ! mv -T "$tmp" "$jars" 2>/dev/null; then
    rm -rf "$tmp"  # another fetch finished first
    [[ -f $jars/.complete ]] || die "could not move the jars to $jars"
  fi
  say "fetched $(ls "$jars"/*.jar | wc -l) jars"
}

# --- helpers -------------------------------------------------------------------------------

kjava() {  # kjava CLASS ARGS...: a Kafka class with the cached jars on the class path
  java $heap_opts -Dlog4j2.configurationFile="$dir/log4j2.properties" -cp "$jars/*" "$@"
}

free_ports() {  # free_ports N: N distinct free loopback TCP ports, one a line
  if command -v python3 >/dev/null 2>&1; then
    python3 - "$1" <<'EOF'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
for s in socks:
    print(s.getsockname()[1])
EOF
    return
  fi
  local n=0 p seen=" "
  while ((n < $1)); do
    p=$((20000 + RANDOM % 40000))
    [[ $seen == *" $p "* ]] && continue
    if ! port_open "$p"; then
      echo "$p"; seen+="$p "; n=$((n + 1))
    fi
  done
}

port_open() {  # port_open PORT: something listens on 127.0.0.1:PORT
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

running_pid() {  # the broker's pid if DIR's broker runs, else nothing (and exit 1)
  local pid
  [[ -f $dir/kafka.pid ]] || return 1
  pid=$(<"$dir/kafka.pid")
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  # Guard against a reused pid: it must be our broker.
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q "kafka.Kafka $dir/server.properties" || return 1
  echo "$pid"
}

answers() {  # answers ADDR: the broker returns metadata
  if command -v kcat >/dev/null 2>&1; then
    timeout 10 kcat -b "$1" -L -m 5 >/dev/null 2>&1
  else
    port_open "${1##*:}"
  fi
}

log_tail() {
  say "last lines of $dir/kafka.log:"
  tail -n 30 "$dir/kafka.log" >&2 2>/dev/null || true
  tail -n 10 "$dir/kafka.out" >&2 2>/dev/null || true
}

write_config() {  # write_config PORT CONTROLLER_PORT: server.properties, then --property's
  local port=$1 cport=$2
  mkdir -p "$dir/logs"
  cat >"$dir/server.properties" <<EOF
# Written by deploy/kafka/kafka.sh: a single-node KRaft broker on loopback for development.
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=127.0.0.1:$cport
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport
advertised.listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$dir/logs
num.partitions=1
auto.create.topics.enable=true
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
log.retention.hours=168
EOF
  if ((${#properties[@]})); then
    printf '%s\n' "# From --property (a later line wins):" "${properties[@]}" >>"$dir/server.properties"
  fi
  cat >"$dir/log4j2.properties" <<EOF
# Written by deploy/kafka/kafka.sh: the broker logs to $dir/kafka.log.
status = warn
appender.file.type = File
appender.file.name = FILE
appender.file.fileName = $dir/kafka.log
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = FILE
logger.request.name = kafka.request.logger
logger.request.level = WARN
logger.clients.name = org.apache.kafka.clients
logger.clients.level = WARN
EOF
}

# --- start / stop ------------------------------------------------------------------------

start() {
  local port=$1 fresh=$2 pid addr cport cid
  need java "install Java 17 with deploy/install-deps.sh (Debian package openjdk-17-jre-headless)"
  fetch
  if pid=$(running_pid); then
    die "a broker already runs from $dir (pid $pid) at $(cat "$dir/kafka.addr" 2>/dev/null);" \
      "stop it with 'bash deploy/kafka/kafka.sh stop --dir $dir'"
  fi
  if [[ $fresh == 1 ]]; then
    rm -rf "$dir/logs" "$dir/server.properties" "$dir/kafka.log" "$dir/kafka.out" "$dir/kafka.addr"
  fi
  if [[ -f $dir/logs/meta.properties && -f $dir/server.properties ]]; then
    # Formatted before: the controller's address is in its metadata log, so keep the ports.
    local old
    old=$(sed -n 's|^listeners=PLAINTEXT://127.0.0.1:\([0-9]*\),.*|\1|p' "$dir/server.properties")
    if [[ -n $port && $port != "$old" ]]; then
      die "$dir was formatted for port $old; use --port $old, or --fresh to start over"
    fi
    port=$old
    cport=$(sed -n 's|^controller.quorum.bootstrap.servers=127.0.0.1:\([0-9]*\)$|\1|p' "$dir/server.properties")
    port_open "$port" && die "port $port (in $dir/server.properties) is in use; use --fresh to start over on new ports"
    port_open "$cport" && die "controller port $cport (in $dir/server.properties) is in use; use --fresh to start over on new ports"
    write_config "$port" "$cport"
    say "restarting the broker formatted in $dir (data kept)"
  else
    rm -rf "$dir/logs"
    if [[ -n $port ]]; then
      port_open "$port" && die "port $port is in use; choose another with --port, or leave it out for a free one"
      cport=$(free_ports 2 | grep -vx "$port" | head -n 1)
    else
      { read -r port; read -r cport; } < <(free_ports 2)
    fi
    write_config "$port" "$cport"
    # A cluster id is 16 random bytes in URL-safe base64 without padding (what random-uuid prints);
    # it may start with "-", hence --cluster-id=ID rather than -t ID.
    cid=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')
    say "formatting $dir/logs (cluster id $cid)"
    if ! kjava kafka.tools.StorageTool format --standalone --cluster-id="$cid" -c "$dir/server.properties" \
        >"$dir/format.log" 2>&1; then
      cat "$dir/format.log" >&2
      die "formatting $dir/logs failed (see above)"
    fi
  fi
  addr=127.0.0.1:$port
  : >"$dir/kafka.log"
  # setsid: the broker gets its own session, so a Ctrl-C in the terminal reaches only this
  # script, which then stops the broker cleanly.
  # shellcheck disable=SC2086
  setsid java $heap_opts -XX:+UseG1GC -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$dir/log4j2.properties" \
    -cp "$jars/*" kafka.Kafka "$dir/server.properties" </dev/null >"$dir/kafka.out" 2>&1 &
  pid=$!
  echo "$pid" >"$dir/kafka.pid"
  say "started Apache Kafka $kafka_version (pid $pid), log $dir/kafka.log; waiting until $addr answers"
  local t0=$SECONDS
  until answers "$addr"; do
    if ! kill -0 "$pid" 2>/dev/null; then
      rm -f "$dir/kafka.pid"
      log_tail
      die "the broker exited during start-up (see $dir/kafka.log)"
    fi
    if ((SECONDS - t0 >= start_timeout)); then
      log_tail
      kill -KILL "$pid" 2>/dev/null || true
      rm -f "$dir/kafka.pid"
      die "the broker did not answer on $addr within ${start_timeout}s (KAFKA_START_TIMEOUT)"
    fi
    sleep 1
  done
  echo "$addr" >"$dir/kafka.addr"
  if [[ -n $owner ]]; then
    # The guard has a session of its own, so it outlives this script and the owner.
    setsid bash -c 'while kill -0 "$1" 2>/dev/null; do sleep 1; done; exec bash "$2" stop --dir "$3"' \
      owner-guard "$owner" "$here/kafka.sh" "$dir" </dev/null >/dev/null 2>&1 &
    say "the broker stops when process $owner ends"
  fi
  say "ready after $((SECONDS - t0))s; stop it with 'bash deploy/kafka/kafka.sh stop --dir $dir'"
  echo "$addr"
}

stop() {
  local pid
  if ! pid=$(running_pid); then
    rm -f "$dir/kafka.pid"
    say "no broker runs from $dir"
    return 0
  fi
  say "stopping the broker (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  local waited=0
  while kill -0 "$pid" 2>/dev/null; do
    if ((waited >= stop_timeout * 5)); then
      say "still running after ${stop_timeout}s (KAFKA_STOP_TIMEOUT): SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      break
    fi
    sleep 0.2
    waited=$((waited + 1))
  done
  rm -f "$dir/kafka.pid"
  say "stopped"
}

run() {
  local addr pid
  addr=$(start "$@" | tail -n 1)
  pid=$(<"$dir/kafka.pid")
  trap 'echo >&2; stop; exit 0' INT TERM
  cat >&2 <<EOF

Apache Kafka $kafka_version runs at $addr (data and log in $dir).
Point consensusd at it, in another terminal:
  build/consensusd produce --brokers $addr --topic labels data.csv
  build/consensusd serve --brokers $addr --data-dir /tmp/consensusd-state --http 127.0.0.1:8080
Topics are created on first use with one partition; for more, create them first:
  java -cp '$jars/*' org.apache.kafka.tools.TopicCommand --bootstrap-server $addr --create --topic labels --partitions 4
Ctrl-C stops the broker.
EOF
  echo "$addr"
  # Wait in the background so the trap runs as soon as a signal arrives.
  tail --pid="$pid" -f /dev/null &
  wait $! || true
  trap - INT TERM
  rm -f "$dir/kafka.pid"
  log_tail
  die "the broker exited on its own (see $dir/kafka.log)"
}

# --- command line --------------------------------------------------------------------------

add_property() {  # add_property KEY=VALUE
  [[ $1 =~ ^[A-Za-z0-9._-]+=.*$ ]] || die "--property needs KEY=VALUE, not '$1'"
  properties+=("$1")
}

(($# >= 1)) || usage
cmd=$1
shift
dir=$default_dir
port=
fresh=0
properties=()
owner=
while (($#)); do
  case $1 in
    --dir) (($# >= 2)) || die "--dir needs a directory"; dir=$2; shift 2 ;;
    --dir=*) dir=${1#--dir=}; shift ;;
    --port) (($# >= 2)) || die "--port needs a number"; port=$2; shift 2 ;;
    --port=*) port=${1#--port=}; shift ;;
    --fresh) fresh=1; shift ;;
    --property) (($# >= 2)) || die "--property needs KEY=VALUE"; add_property "$2"; shift 2 ;;
    --property=*) add_property "${1#--property=}"; shift ;;
    --owner) (($# >= 2)) || die "--owner needs a process id"; owner=$2; shift 2 ;;
    --owner=*) owner=${1#--owner=}; shift ;;
    -h | --help) usage ;;
    *) die "unknown argument '$1' (see 'kafka.sh --help')" ;;
  esac
done
[[ -z $port || $port =~ ^[0-9]+$ ]] || die "--port must be a number, not '$port'"
[[ -z $owner || $owner =~ ^[0-9]+$ ]] || die "--owner must be a process id, not '$owner'"
case $cmd in
  start | run) mkdir -p "$dir" ;;
esac
if [[ -d $dir ]]; then
  dir=$(cd "$dir" && pwd)  # absolute: it goes into server.properties and the pid check
fi

case $cmd in
  fetch) fetch; echo "$jars" ;;
  start) start "$port" "$fresh" ;;
  stop) stop ;;
  run) run "$port" "$fresh" ;;
  status)
    if pid=$(running_pid); then
      cat "$dir/kafka.addr"
    else
      say "no broker runs from $dir"; exit 1
    fi ;;
  -h | --help | help) usage ;;
  *) die "unknown command '$cmd' (fetch, start, stop, run, status)" ;;
esac
