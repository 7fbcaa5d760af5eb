# Rota: `make demo` runs the main job, `make test` runs every test.
# Everything uses the project-local PostgreSQL (scripts/db.sh) unless DATABASE_URL is set.

SHELL := /bin/bash
DB := scripts/db.sh
SWIFT_BUILD_FLAGS ?=

.PHONY: all deps db db-stop db-restart migrate build test test-sql test-isolation test-pgext test-swift \
        test-containers demo bench pgext clean

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
	@$(MAKE) --no-print-directory test-sql test-isolation test-pgext test-swift

test-sql:
	@scripts/test-sql.sh

test-isolation:
	@scripts/test-isolation.sh

test-pgext:
	@scripts/test-pgext.sh

test-swift:
	@scripts/test-swift.sh

# The image and docker-compose.yml under podman (root; not part of `make test`: CI runs it).
test-containers: deps
	@scripts/test-containers.sh

demo: deps
	@scripts/demo.sh

bench: deps
	@scripts/bench.sh

pgext:
	$(MAKE) -C pgext

clean:
	rm -rf .build tests/isolation/output
	$(MAKE) -C pgext clean
