#!/bin/sh
# weed.sh builds the SeaweedFS server that the storage tests run as their S3
# store and broker STS, once per machine and version, and prints its path.
#
# SeaweedFS lives in its own module (tools/seaweedfs) so that Glossa's go.mod
# does not gain its ~430 requirements; its go.mod carries a replace
# directive, which is why `go install pkg@version` refuses it. The binary is
# cached under the pinned version, so a cold build (about ten minutes on two
# cores) happens once per machine.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
version=$(sed -n 's/^[[:space:]]*github.com\/seaweedfs\/seaweedfs \(v[^ ]*\).*/\1/p' "$root/tools/seaweedfs/go.mod")
[ -n "$version" ] || { echo "weed.sh: no seaweedfs version in tools/seaweedfs/go.mod" >&2; exit 1; }
cache=${GLOSSA_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/glossa-tools}
bin="$cache/weed-$version"
if [ ! -x "$bin" ]; then
	mkdir -p "$cache"
	echo "weed.sh: building SeaweedFS $version (once per machine)..." >&2
	(cd "$root/tools/seaweedfs" && go build -trimpath -o "$bin.tmp" github.com/seaweedfs/seaweedfs/weed) >&2
	mv "$bin.tmp" "$bin"
fi
echo "$bin"
