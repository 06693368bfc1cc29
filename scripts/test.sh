#!/usr/bin/env bash
# Runs Glossa's tests (or, with "bench", its benchmarks) the way CI does:
# installs the Debian packages the tests drive if they are missing (PostgreSQL
# server binaries, Chromium, the SAML IdPs SimpleSAMLphp and pysaml2), starts
# a throwaway PostgreSQL cluster on a free loopback port, runs the Go tests
# against it, and stops it again.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-test}

apt_install() {
	if [ "$(id -u)" -ne 0 ]; then
		echo "test.sh: need $* installed (run as root, or apt-get install $*)" >&2
		exit 1
	fi
	echo "test.sh: installing $* with apt-get" >&2
	DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

pg_bin=""
find_pg() {
	for d in /usr/lib/postgresql/*/bin; do
		[ -x "$d/initdb" ] && pg_bin=$d
	done
	if [ -z "$pg_bin" ] && command -v initdb >/dev/null; then pg_bin=$(dirname "$(readlink -f "$(command -v initdb)")"); fi
	return 0
}
find_pg
if [ -z "$pg_bin" ]; then apt_install postgresql; find_pg; fi
missing=()
if [ "$mode" = test ]; then
	command -v chromium >/dev/null || missing+=(chromium)
	# The real SAML identity providers of internal/idptest: SimpleSAMLphp
	# served by PHP's built-in server (php-xml: it needs DOM) and pysaml2,
	# which signs and encrypts with xmlsec1.
	[ -f /usr/share/simplesamlphp/www/saml2/idp/SSOService.php ] || missing+=(simplesamlphp)
	[ -x /usr/bin/php ] || missing+=(php-cli)
	compgen -G '/usr/lib/php/*/dom.so' >/dev/null || missing+=(php-xml)
	[ -f /usr/lib/python3/dist-packages/saml2/server.py ] || missing+=(python3-pysaml2)
	[ -x /usr/bin/xmlsec1 ] || missing+=(xmlsec1)
fi
if [ ${#missing[@]} -gt 0 ]; then apt_install "${missing[@]}"; fi

# PostgreSQL refuses to run as root; run the cluster as the postgres user
# (created by the Debian package) or as nobody.
tmp=$(mktemp -d /tmp/glossa-test.XXXXXX)
chmod 755 "$tmp"
run_as=()
if [ "$(id -u)" -eq 0 ]; then
	user=postgres
	id "$user" >/dev/null 2>&1 || user=nobody
	chown "$user" "$tmp"
	run_as=(runuser -u "$user" --)
fi
port=$(/usr/bin/env python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null || echo 55432)
"${run_as[@]}" "$pg_bin/initdb" -D "$tmp/data" -U postgres -A trust --no-sync -E UTF8 >"$tmp/initdb.log" 2>&1 || { cat "$tmp/initdb.log" >&2; exit 1; }
"${run_as[@]}" "$pg_bin/pg_ctl" -D "$tmp/data" -l "$tmp/pg.log" -w -o "-h 127.0.0.1 -p $port -k $tmp -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300" start >/dev/null
cleanup() {
	"${run_as[@]}" "$pg_bin/pg_ctl" -D "$tmp/data" -m immediate stop >/dev/null 2>&1 || true
	rm -rf "$tmp"
}
trap cleanup EXIT

export GLOSSA_TEST_POSTGRES="postgres://postgres@127.0.0.1:$port/postgres?sslmode=disable"
export GLOSSA_TEST_REQUIRE_ALL=1
export GLOSSA_TEST_CHROMIUM=${GLOSSA_TEST_CHROMIUM:-$(command -v chromium || true)}
# SeaweedFS, the S3 store (with IAM roles and AssumeRole) of the storage
# tests: built from its pinned module once per machine (about ten minutes
# cold), then cached.
export GLOSSA_TEST_WEED=${GLOSSA_TEST_WEED:-$(scripts/weed.sh)}

if [ "$mode" = bench ]; then
	{
		echo "# $(date -u +%FT%TZ) $(git rev-parse --short HEAD 2>/dev/null) $(go version)"
		echo "# $(nproc) CPUs: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(free -g | awk '/Mem:/{print $2}') GiB; PostgreSQL $("$pg_bin/postgres" --version | awk '{print $3}')"
		go test -run '^$' -bench . -benchmem -count "${BENCH_COUNT:-3}" -timeout 60m ./...
	} | tee bench.out
else
	go vet ./...
	go test -count=1 -timeout 30m ./...
	# The SAML fuzz targets, seeded with the attack corpus, for a short while
	# each (longer runs: go test ./saml -fuzz FuzzValidateResponse). Each new
	# input is minimized for at most a second: the seeds are kilobytes of XML,
	# and the default minute of minimizing would eat the whole run.
	for target in FuzzValidateResponse FuzzParseIdPMetadata; do
		go test ./saml -run '^$' -fuzz "^$target\$" -fuzztime "${FUZZ_TIME:-15s}" -fuzzminimizetime 1s
	done
fi
