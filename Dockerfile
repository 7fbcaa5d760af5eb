# The rota worker image: every `rota*` executable the package declares, linked with a
# static Swift runtime, on a slim Debian with libpq.
#   docker build -t rota .        (or: podman build -t rota .)
#   docker run --rm -e DATABASE_URL=postgresql://... rota rota status
FROM swift:6.3-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends libpq-dev pkg-config && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# The whole package minus what .dockerignore leaves out: SwiftPM loads a package only when
# every target it declares (test targets included) has its folder.
COPY . .
# Builds every executable product the package declares (`rota`, and `rota-examples` where
# the package has it) and collects them in /out.
RUN products="$(swift package describe | awk '$1 == "Name:" { name = $2 } /^ +Executable/ { print name }')" \
 && mkdir -p /out \
 && for product in $products; do \
        swift build -c release --static-swift-stdlib --product "$product" \
        && cp "$(swift build -c release --static-swift-stdlib --show-bin-path)/$product" /out/ || exit 1; \
    done \
 && test -x /out/rota

FROM debian:bookworm-slim
# libcurl4: FoundationNetworking (the storage-cleanup example's HTTP client); tzdata: time zones.
RUN apt-get update && apt-get install -y --no-install-recommends libpq5 libcurl4 ca-certificates tzdata \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /out/ /usr/local/bin/
COPY sql /usr/share/rota/sql
ENV ROTA_SQL_DIR=/usr/share/rota/sql
# Not root: a worker needs no privileges in its container.
RUN useradd --system --user-group --home-dir /nonexistent --shell /usr/sbin/nologin rota \
 && mkdir -p /data/storage && chown -R rota:rota /data
USER rota
CMD ["rota", "--help"]
