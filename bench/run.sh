#!/usr/bin/env bash
# The benchmark of docs/benchmarks.md, in one command:
#
#   bench/run.sh                 # the full run: 5 rounds, writes docs/benchmarks.md (about 20 min)
#   bench/run.sh --quick         # smoke test: small images, 1 round (about 2 min)
#   bench/run.sh -rounds 3 -scenarios cold,noop
#
# It installs the peers it needs outside the repository: crane and regsync
# with `go install` into $IMAGESYNC_BENCH_CACHE/bin (default
# ~/.cache/imagesync-bench/bin), skopeo and /usr/bin/time with apt-get when
# missing; builds imagesync and the bench helpers there; then runs
# bench/cmd/bench, which starts docker-registry processes on loopback and
# times every scenario. Arguments are passed to bench/cmd/bench (-h lists
# them).
set -euo pipefail

CRANE_VERSION=v0.22.1
REGSYNC_VERSION=v0.11.7

repo=$(cd "$(dirname "$0")/.." && pwd)
cache=${IMAGESYNC_BENCH_CACHE:-$HOME/.cache/imagesync-bench}
bin=$cache/bin
mkdir -p "$bin"

say() { printf '==> %s\n' "$*" >&2; }

apt_install() {
	local pkg=$1
	if [ "$(id -u)" -eq 0 ]; then
		timeout 600 apt-get install -y "$pkg" >&2
	elif command -v sudo >/dev/null; then
		timeout 600 sudo apt-get install -y "$pkg" >&2
	else
		say "please install $pkg (apt-get install $pkg)"
		exit 1
	fi
}

if [ ! -x /usr/bin/docker-registry ] && [ -z "${IMAGESYNC_REGISTRY_BIN:-}" ]; then
	say "installing docker-registry"
	apt_install docker-registry
fi
[ -x /usr/bin/time ] || { say "installing time"; apt_install time; }
command -v skopeo >/dev/null || { say "installing skopeo"; apt_install skopeo; }

if [ "$("$bin/crane" version 2>/dev/null || true)" != "$CRANE_VERSION" ]; then
	say "installing crane $CRANE_VERSION into $bin"
	(cd "$cache" && GOBIN=$bin timeout 900 go install "github.com/google/go-containerregistry/cmd/crane@$CRANE_VERSION")
fi
if ! "$bin/regsync" version 2>/dev/null | grep -q "VCSTag: *$REGSYNC_VERSION\$"; then
	say "installing regsync $REGSYNC_VERSION into $bin"
	(cd "$cache" && GOBIN=$bin timeout 900 go install "github.com/regclient/regclient/cmd/regsync@$REGSYNC_VERSION")
fi

say "building imagesync and the bench helpers into $bin"
(
	cd "$repo"
	version=$(git describe --always --dirty 2>/dev/null || echo dev)
	go build -ldflags "-X main.version=$version" -o "$bin/imagesync" ./cmd/imagesync
	go build -o "$bin/floor" ./bench/cmd/floor
	go build -o "$bin/bench" ./bench/cmd/bench
)

rounds=(-rounds 5)
for a in "$@"; do
	case $a in -rounds | -rounds=* | --rounds | --rounds=* | -quick | --quick) rounds=() ;; esac
done

cd "$repo"
say "running the benchmark"
exec timeout 7200 "$bin/bench" -bin "$bin" -work "$cache/work" -repo "$repo" "${rounds[@]}" "$@"
