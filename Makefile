# The two commands of the README: `make run` and `make test`. Both install what is missing first.
SWIFT ?= swift
CONFIG ?= debug

.PHONY: deps run build test clean

deps:
	@scripts/install-deps.sh

build: deps
	$(SWIFT) build -c $(CONFIG)

# The server on an embedded PostgreSQL in .caas/ (override with ARGS, e.g. ARGS="--listen :8080").
run: deps
	$(SWIFT) build -c release --product caas-server
	.build/release/caas-server --dev $(ARGS)

test: deps
	@CAAS_WITH_TEST_TOOLS=1 scripts/install-deps.sh
	$(SWIFT) build --build-tests
	# One test at a time; on failure the output ends with the failing tests (scripts/swift-test.sh).
	@SWIFT=$(SWIFT) scripts/swift-test.sh
	@scripts/check-openapi.sh
	# openapi.yaml against a live server: schemathesis, both tokens, a few minutes.
	@scripts/check-api.sh
	# The request, chunked-body and response parsers and the compose parser under libFuzzer, 60 s each.
	@scripts/fuzz.sh

clean:
	rm -rf .build
