# The rota worker image: `rota` (admin and worker) and `rota-examples` (the examples' worker),
# linked with a static Swift runtime, on a slim Debian with libpq. The schema is compiled into
# both binaries (`rota migrate`, `worker --migrate`).
#   docker build -t rota .        (or: podman build -t rota .)
#   docker run --rm -e DATABASE_URL=postgresql://... rota rota status
FROM swift:6.3-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends libpq-dev pkg-config && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# The whole package minus what .dockerignore leaves out: SwiftPM loads a package only when
# every target it declares (test targets included) has its folder.
COPY . .
RUN mkdir -p /out \
 && for product in rota rota-examples; do \
        swift build -c release --static-swift-stdlib --product "$product" \
        && cp "$(swift build -c release --static-swift-stdlib --show-bin-path)/$product" /out/ || exit 1; \
    done

FROM debian:bookworm-slim
# libcurl4: FoundationNetworking, which only rota-examples links (its SeaweedFS client); tzdata: time zones.
RUN apt-get update && apt-get install -y --no-install-recommends libpq5 libcurl4 ca-certificates tzdata \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /out/ /usr/local/bin/
# Not root: a worker needs no privileges in its container.
RUN useradd --system --user-group --home-dir /nonexistent --shell /usr/sbin/nologin rota \
 && mkdir -p /data/storage && chown -R rota:rota /data
USER rota
CMD ["rota", "--help"]
