#!/usr/bin/env bash
# Puts the Kafka broker's jars (pinned in pom.xml) into deploy/kafka/lib, once.
#
# Idempotent: lib/.stamp records the pinned versions and a hash of pom.xml; when it matches, the
# script only checks that java is present and exits. Otherwise it resolves the jars from Maven
# Central (cached in ~/.m2 afterwards) with maven-dependency-plugin and writes the stamp last, so
# an interrupted fetch is redone on the next run. Concurrent runs serialise on a lock file.
#
# Needs java (to run the broker) and mvn (to fetch). When either is missing and we are root on a
# Debian-like system, installs `default-jre-headless maven` non-interactively; otherwise fails.
set -euo pipefail

KAFKA_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
LIB_DIR="$KAFKA_DIR/lib"
POM="$KAFKA_DIR/pom.xml"
STAMP="$LIB_DIR/.stamp"
# Upper bound for the whole Maven resolution; a cold ~/.m2 downloads about 40 MB.
FETCH_TIMEOUT_S="${KAFKA_FETCH_TIMEOUT_S:-900}"

fail() { echo "fetch-kafka: $*" >&2; exit 1; }

pom_property() {
  # Reads <name>value</name> from pom.xml's <properties>; no XML tooling is assumed installed.
  sed -n "s:.*<$1>\(.*\)</$1>.*:\1:p" "$POM" | head -n 1
}

install_packages() {
  local reason="$1"
  if [[ "$(id -u)" -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
    echo "fetch-kafka: $reason; installing Debian packages default-jre-headless maven" >&2
    DEBIAN_FRONTEND=noninteractive apt-get update -q >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
      default-jre-headless maven >&2
  else
    fail "$reason. Install a Java 17+ runtime and Maven 3.6.3+ (Debian: apt-get install default-jre-headless maven), or run this script as root on Debian to install them."
  fi
}

require_java() {
  command -v java >/dev/null 2>&1 || install_packages "java is not on PATH"
  command -v java >/dev/null 2>&1 || fail "java is still not on PATH after installing packages"
  local major
  major="$(java -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java\.specification\.version = //p' | cut -d. -f1)"
  [[ -n "$major" && "$major" -ge 17 ]] || fail "Kafka 4.x needs Java 17 or newer; java on PATH reports '${major:-unknown}'"
}

require_mvn() {
  command -v mvn >/dev/null 2>&1 || install_packages "mvn is not on PATH"
  command -v mvn >/dev/null 2>&1 || fail "mvn is still not on PATH after installing packages"
}

[[ -f "$POM" ]] || fail "missing $POM"
KAFKA_VERSION="$(pom_property kafka.version)"
LOG4J_VERSION="$(pom_property log4j.version)"
[[ -n "$KAFKA_VERSION" && -n "$LOG4J_VERSION" ]] || fail "cannot read kafka.version / log4j.version from $POM"
POM_SHA="$(sha256sum "$POM" | cut -d' ' -f1)"
WANTED_STAMP="kafka=$KAFKA_VERSION log4j=$LOG4J_VERSION pom-sha256=$POM_SHA"

require_java

is_current() {
  [[ -f "$STAMP" && "$(cat "$STAMP")" == "$WANTED_STAMP" ]] \
    && compgen -G "$LIB_DIR/kafka_2.13-$KAFKA_VERSION.jar" >/dev/null
}

if is_current; then
  exit 0
fi

mkdir -p "$LIB_DIR"
# Two test workers or a script and a test may ask at once: one fetches, the other waits and then
# finds the stamp current.
if command -v flock >/dev/null 2>&1; then
  exec 9>"$LIB_DIR/.lock"
  flock -w "$FETCH_TIMEOUT_S" 9 || fail "timed out after ${FETCH_TIMEOUT_S}s waiting for another fetch to finish"
  if is_current; then
    exit 0
  fi
fi

require_mvn
echo "fetch-kafka: resolving Kafka $KAFKA_VERSION jars into $LIB_DIR" >&2
rm -f "$STAMP" "$LIB_DIR"/*.jar
# Debian's Maven 3.8 prints ANSI resets even in batch mode; strip them. pipefail keeps mvn's status.
timeout "$FETCH_TIMEOUT_S" mvn -q -B -Dstyle.color=never -f "$POM" dependency:copy-dependencies -DoutputDirectory="$LIB_DIR" 2>&1 \
  | sed -e 's/\x1b\[[0-9;]*m//g' -e '/^[[:space:]]*$/d' >&2 \
  || fail "mvn could not resolve the Kafka jars (see output above); Maven Central must be reachable on a cold ~/.m2"
[[ -f "$LIB_DIR/kafka_2.13-$KAFKA_VERSION.jar" ]] || fail "mvn finished but kafka_2.13-$KAFKA_VERSION.jar is not in $LIB_DIR"
printf '%s' "$WANTED_STAMP" >"$STAMP"
echo "fetch-kafka: Kafka $KAFKA_VERSION ready ($(ls "$LIB_DIR"/*.jar | wc -l) jars)" >&2
