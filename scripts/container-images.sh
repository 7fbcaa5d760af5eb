#!/usr/bin/env bash
# Builds local stand-ins for the public base images that the Dockerfile and docker-compose.yml
# name, for machines that cannot pull from a registry (`make test-containers` uses them):
#
#   debian:bookworm-slim   debootstrap --variant=minbase bookworm
#   postgres:15            the same + Debian's postgresql-15 and tests/containers/postgres-entrypoint.sh
#                          (POSTGRES_USER, POSTGRES_PASSWORD, POSTGRES_DB, the data volume, pg_isready)
#   swift:*                the same + this machine's Swift toolchain (/opt/swift) and the build tools
#                          the official image has; SwiftPM finds the package's dependencies in local
#                          mirrors (copies of this machine's SwiftPM cache), so the build needs no network
#
# The tags are read from the files (the Dockerfile's FROM lines, docker-compose.yml's image:), so
# the files under test are the ones users run. Every `apt-get install` of the Dockerfile is done
# here ahead of time and the stand-ins have no apt sources: the Dockerfile's `apt-get update &&
# apt-get install ...` then succeeds offline (`podman build --network none`).
#
# An image is rebuilt only when its inputs changed (a fingerprint label); debootstrap runs only
# when its cached rootfs tarball is missing. Needs root, podman and debootstrap.
#
# Environment: ROTA_CONTAINERS_CACHE (default .rota/containers), SWIFT_TOOLCHAIN (default /opt/swift).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

CACHE="${ROTA_CONTAINERS_CACHE:-$ROOT/.rota/containers}"
TOOLCHAIN="${SWIFT_TOOLCHAIN:-/opt/swift}"
SUITE=bookworm
BASE_TARBALL="$CACHE/rootfs-$SUITE-minbase.tar"
# What the official swift:*-bookworm image installs besides the toolchain.
SWIFT_BUILD_PACKAGES=(binutils git gnupg2 libc6-dev libcurl4-openssl-dev libedit2 libgcc-12-dev libpython3-dev
                      libsqlite3-0 libstdc++-12-dev libxml2-dev libncurses-dev libz3-dev pkg-config tzdata zlib1g-dev
                      ca-certificates)
POSTGRES_PACKAGES=(postgresql-15)

log() { printf 'container-images: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

[ "$(id -u)" = 0 ] || die "needs root (debootstrap, chroot)"
command -v podman >/dev/null || die "podman is missing (apt-get install podman)"
command -v debootstrap >/dev/null || die "debootstrap is missing (apt-get install debootstrap)"
mkdir -p "$CACHE"

# dockerfile_packages IMAGE: the packages the Dockerfile's stage FROM IMAGE installs with apt-get.
dockerfile_packages() {
    sed -e ':a' -e '/\\$/N; s/\\\n//; ta' Dockerfile | awk -v image="$1" '
        $1 == "FROM" { stage = $2 }
        stage == image && /apt-get install/ {
            sub(/.*apt-get install/, ""); sub(/&&.*/, "")
            for (i = 1; i <= NF; i++) if ($i !~ /^-/) print $i
        }'
}

# The base images the files name.
FROM_IMAGES=$(awk '$1 == "FROM" { print $2 }' Dockerfile | sort -u)
COMPOSE_IMAGES=$(awk '$1 == "image:" { print $2 }' docker-compose.yml | sort -u)

base_rootfs() { # the debootstrap tarball, made once
    [ -s "$BASE_TARBALL" ] && return
    local dir="$CACHE/debootstrap"
    rm -rf "$dir"
    log "debootstrap --variant=minbase $SUITE (about half a minute)"
    debootstrap --variant=minbase "$SUITE" "$dir" >"$CACHE/debootstrap.log" 2>&1 \
        || { tail -n 20 "$CACHE/debootstrap.log" >&2; die "debootstrap failed (log: $CACHE/debootstrap.log)"; }
    tar -C "$dir" -cf "$BASE_TARBALL.tmp" . && mv "$BASE_TARBALL.tmp" "$BASE_TARBALL"
    rm -rf "$dir"
}

# new_rootfs DIR PACKAGE...: the base rootfs with PACKAGEs installed and no apt sources left.
new_rootfs() {
    local dir="$1"; shift
    rm -rf "$dir" && mkdir -p "$dir"
    tar -C "$dir" -xf "$BASE_TARBALL"
    if [ $# -gt 0 ]; then
        cp /etc/resolv.conf "$dir/etc/resolv.conf"
        # no services start inside the chroot; Debian's postgresql must not create a cluster
        printf '#!/bin/sh\nexit 101\n' >"$dir/usr/sbin/policy-rc.d" && chmod +x "$dir/usr/sbin/policy-rc.d"
        mkdir -p "$dir/etc/postgresql-common"
        echo "create_main_cluster = false" >"$dir/etc/postgresql-common/createcluster.conf"
        chroot "$dir" env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
        chroot "$dir" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" \
            >"$CACHE/apt-$(basename "$dir").log" 2>&1 \
            || { tail -n 20 "$CACHE/apt-$(basename "$dir").log" >&2; die "apt-get install $* failed in $dir"; }
        rm -f "$dir/usr/sbin/policy-rc.d" "$dir/etc/resolv.conf"
    fi
    # offline from here on: `apt-get update` finds nothing to fetch, installed packages stay installed
    rm -rf "$dir/etc/apt/sources.list.d"/* "$dir/var/lib/apt/lists"/* "$dir/var/cache/apt"/*.bin
    : >"$dir/etc/apt/sources.list"
}

# fingerprint TEXT...: a short hash of the inputs of an image.
fingerprint() { { cat "${BASH_SOURCE[0]}"; printf '%s\n' "$@"; } | sha256sum | cut -c1-16; }

is_current() { # is_current TAG FINGERPRINT
    [ "$(podman image inspect --format '{{index .Labels "rota.standin"}}' "$1" 2>/dev/null)" = "$2" ]
}

import_rootfs() { # import_rootfs DIR TAG FINGERPRINT [--change ...]...
    local dir="$1" tag="$2" print="$3"; shift 3
    # the name a registry pull would give it, so no tool goes looking for it elsewhere
    tar -C "$dir" -c . | podman import --change "LABEL rota.standin=$print" "$@" - "docker.io/library/$tag" >/dev/null
    rm -rf "$dir"
    log "built $tag"
}

build_debian() { # build_debian TAG
    local packages print
    mapfile -t packages < <(dockerfile_packages "$1")
    print=$(fingerprint "$1" "${packages[@]}")
    is_current "$1" "$print" && { log "$1 is up to date"; return; }
    base_rootfs
    new_rootfs "$CACHE/rootfs-debian" "${packages[@]}"
    import_rootfs "$CACHE/rootfs-debian" "$1" "$print" --change 'CMD ["bash"]'
}

build_postgres() { # build_postgres TAG
    local entrypoint=tests/containers/postgres-entrypoint.sh print dir="$CACHE/rootfs-postgres"
    print=$(fingerprint "$1" "${POSTGRES_PACKAGES[@]}" "$(cat "$entrypoint")")
    is_current "$1" "$print" && { log "$1 is up to date"; return; }
    base_rootfs
    new_rootfs "$dir" "${POSTGRES_PACKAGES[@]}"
    install -m 0755 "$entrypoint" "$dir/usr/local/bin/docker-entrypoint.sh"
    mkdir -p "$dir/docker-entrypoint-initdb.d"
    import_rootfs "$dir" "$1" "$print" \
        --change 'ENV PATH=/usr/lib/postgresql/15/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        --change 'ENV PGDATA=/var/lib/postgresql/data' \
        --change 'VOLUME /var/lib/postgresql/data' \
        --change 'EXPOSE 5432' \
        --change 'STOPSIGNAL SIGINT' \
        --change 'ENTRYPOINT ["docker-entrypoint.sh"]' \
        --change 'CMD ["postgres"]'
}

# The package's dependencies as local bare repositories, and a SwiftPM mirrors file that points
# each dependency's URL (with and without .git) at them.
swiftpm_mirrors() { # swiftpm_mirrors ROOTFS
    local dir="$1" cache="$HOME/.cache/org.swift.swiftpm/repositories"
    mkdir -p "$dir/opt/swiftpm-mirrors" "$dir/root/.swiftpm/configuration"
    python3 - "$cache" "$dir" <<'PY'
import json, pathlib, shutil, sys
cache, root = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
mirrors = []
for pin in json.load(open("Package.resolved"))["pins"]:
    location = pin["location"].removesuffix(".git")
    name = location.rstrip("/").rsplit("/", 1)[1]
    found = sorted(cache.glob(f"{name}-*"))
    if not found:
        sys.exit(f"container-images: {name} is not in the SwiftPM cache {cache}; run `swift package resolve` first")
    shutil.copytree(found[0], root / "opt/swiftpm-mirrors" / f"{name}.git", symlinks=True)
    for original in (location, location + ".git"):
        mirrors.append({"original": original, "mirror": f"file:///opt/swiftpm-mirrors/{name}.git"})
json.dump({"object": mirrors, "version": 1}, open(root / "root/.swiftpm/configuration/mirrors.json", "w"), indent=1)
PY
}

build_swift() { # build_swift TAG
    local packages print dir="$CACHE/rootfs-swift"
    [ -x "$TOOLCHAIN/usr/bin/swift" ] || die "no Swift toolchain at $TOOLCHAIN (set SWIFT_TOOLCHAIN)"
    mapfile -t packages < <(dockerfile_packages "$1")
    packages+=("${SWIFT_BUILD_PACKAGES[@]}")
    [ -f Package.resolved ] || swift package resolve >"$CACHE/resolve.log" 2>&1 \
        || { tail -n 20 "$CACHE/resolve.log" >&2; die "swift package resolve failed"; }
    print=$(fingerprint "$1" "${packages[@]}" "$("$TOOLCHAIN/usr/bin/swift" --version 2>&1)" "$(cat Package.resolved)")
    is_current "$1" "$print" && { log "$1 is up to date"; return; }
    base_rootfs
    new_rootfs "$dir" "${packages[@]}"
    log "copying the Swift toolchain $TOOLCHAIN into $1 ($(du -sh "$TOOLCHAIN" | cut -f1))"
    cp -a "$TOOLCHAIN/usr/." "$dir/usr/"
    swiftpm_mirrors "$dir"
    import_rootfs "$dir" "$1" "$print" --change 'CMD ["bash"]'
}

for image in $FROM_IMAGES $COMPOSE_IMAGES; do
    case "$image" in
        swift:*-bookworm)      build_swift "$image" ;;
        debian:bookworm-slim)  build_debian "$image" ;;
        postgres:15)           build_postgres "$image" ;;
        rota)                  ;; # built from the Dockerfile
        *)                     die "no stand-in for $image (the Dockerfile or docker-compose.yml names it)" ;;
    esac
done
