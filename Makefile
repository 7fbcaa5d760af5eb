# Rota: `make demo` runs the main job, `make test` runs every test.
# Everything uses the project-local PostgreSQL (scripts/db.sh) unless DATABASE_URL is set.

SHELL := /bin/bash
DB := scripts/db.sh
SWIFT_BUILD_FLAGS ?=

.PHONY: all deps db db-stop db-restart migrate build test test-sql test-isolation test-pgext test-fuzz test-swift \
        test-soak soak test-containers demo bench bench-scale pgext fuzz schema-snapshot generate clean

all: build

deps:
	@scripts/deps.sh

db:
	@$(DB) start

db-stop:
	@$(DB) stop

db-restart:
	@$(DB) restart

migrate:
	@psql -v ON_ERROR_STOP=1 -d "$$($(DB) ensure)" -f sql/install.sql

build:
	swift build $(SWIFT_BUILD_FLAGS)

test: deps
	@$(MAKE) --no-print-directory test-sql test-isolation test-pgext test-fuzz test-swift test-soak

test-sql:
	@scripts/test-sql.sh

test-isolation:
	@scripts/test-isolation.sh

test-pgext:
	@scripts/test-pgext.sh

# the C cron code under libFuzzer: the committed inputs, then about a minute of fuzzing
test-fuzz:
	@scripts/test-fuzz.sh

test-swift:
	@scripts/test-swift.sh

# a 2-minute soak: workers, producers and schedules under SIGKILLs, database restarts,
# a frozen worker, a network partition; every invariant checked (docs/reliability.md)
test-soak:
	@SOAK_MINUTES=2 scripts/test-soak.sh

# the full soak: make soak SOAK_MINUTES=30
SOAK_MINUTES ?= 10
soak: deps
	@SOAK_MINUTES=$(SOAK_MINUTES) scripts/test-soak.sh

# The image and docker-compose.yml under podman (root; not part of `make test`: CI runs it).
test-containers: deps
	@scripts/test-containers.sh

# Rewrites tests/schema.snapshot from a fresh install; commit it with any change to sql/.
schema-snapshot:
	@scripts/schema-snapshot.sh

demo: deps
	@scripts/demo.sh

bench: deps
	@scripts/bench.sh

# the scale cases of `make bench` alone (bench/scale.sh; sizes by environment variables)
bench-scale: deps
	@scripts/bench.sh --scale-only

pgext:
	$(MAKE) -C pgext

# The generated sources: the schema embedded in the library, the README's Swift snippets.
generate:
	@scripts/embed-sql.py
	@scripts/readme-snippets.py

# a long fuzzing run of the C cron code: make fuzz FUZZ_SECONDS=3600
FUZZ_SECONDS ?= 600
fuzz:
	@FUZZ_SECONDS=$(FUZZ_SECONDS) scripts/test-fuzz.sh

clean:
	rm -rf .build tests/isolation/output
	$(MAKE) -C pgext clean
