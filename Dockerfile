# The rota worker image: `rota` (admin and worker) and `rota-examples` (the examples' worker).
# The schema is compiled into both binaries (`rota migrate`, `worker --migrate`).
#   docker build -t rota .
FROM swift:6.0-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends libpq-dev pkg-config && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Package.swift ./
COPY Sources ./Sources
RUN swift build -c release --product rota && swift build -c release --product rota-examples

FROM debian:bookworm-slim
# libcurl4 and libxml2: FoundationNetworking, which only rota-examples links (its SeaweedFS client)
RUN apt-get update && apt-get install -y --no-install-recommends libpq5 ca-certificates \
        libcurl4 libxml2 tzdata && rm -rf /var/lib/apt/lists/*
COPY --from=build /usr/lib/swift/linux/*.so /usr/lib/swift/linux/
COPY --from=build /src/.build/release/rota /src/.build/release/rota-examples /usr/local/bin/
ENV LD_LIBRARY_PATH=/usr/lib/swift/linux
CMD ["rota", "worker", "--queues", "default"]
