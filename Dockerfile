# The rota worker image: the `rota` binary with its SQL migrations.
#   docker build -t rota .
FROM swift:6.0-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends libpq-dev pkg-config && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Package.swift ./
COPY Sources ./Sources
COPY sql ./sql
RUN swift build -c release --product rota

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends libpq5 ca-certificates \
        libcurl4 libxml2 tzdata && rm -rf /var/lib/apt/lists/*
COPY --from=build /usr/lib/swift/linux/*.so /usr/lib/swift/linux/
COPY --from=build /src/.build/release/rota /usr/local/bin/rota
COPY sql /usr/share/rota/sql
ENV ROTA_SQL_DIR=/usr/share/rota/sql LD_LIBRARY_PATH=/usr/lib/swift/linux
ENTRYPOINT ["rota"]
CMD ["worker", "--queues", "default"]
