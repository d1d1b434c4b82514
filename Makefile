# Contact-center platform: two commands.
#   make up     install what is missing, start Redis, PostgreSQL, Asterisk and ccd
#   make test   the whole suite, end-to-end calls included
SHELL := /bin/bash
export PATH := /usr/local/go/bin:$(PATH)


STATE ?= /var/lib/ccd
BIN   := bin
GO    ?= go
WEB     := agentdesk/web
NPM_CI  := npm ci --prefer-offline --no-audit --no-fund
WEB_SRC := $(WEB)/index.html $(WEB)/vite.config.ts $(WEB)/tsconfig.json $(WEB)/package.json \
	$(wildcard $(WEB)/src/*.ts $(WEB)/src/*.tsx $(WEB)/src/*.css)

.PHONY: up down status deps asterisk build web test unit e2e bench vet fmt clean

up: deps asterisk build
	$(BIN)/ccctl stack up --dir $(STATE)

down:
	@if [ -x $(BIN)/ccctl ]; then $(BIN)/ccctl stack down --dir $(STATE); \
	else $(GO) run ./cmd/ccctl stack down --dir $(STATE); fi

status: build
	$(BIN)/ccctl stack status --dir $(STATE)

deps:
	deploy/install-deps.sh

asterisk:
	deploy/asterisk.sh install

build: $(WEB)/dist/index.html
	@mkdir -p $(BIN)
	$(GO) build -o $(BIN)/ccd ./cmd/ccd
	$(GO) build -o $(BIN)/ccctl ./cmd/ccctl

# The agent desktop (agentdesk/web: React, Vite, JsSIP), embedded in bin/ccd
# and served at /desk/: npm ci from the committed package-lock.json, the
# production build into agentdesk/web/dist, the unit tests (Vitest).
web:
	cd $(WEB) && $(NPM_CI)
	cd $(WEB) && npm run build
	cd $(WEB) && npm test

# What `build` needs: the dependencies installed again only when the lock
# changed, the desktop rebuilt only when its sources did.
$(WEB)/node_modules/.package-lock.json: $(WEB)/package-lock.json
	cd $(WEB) && $(NPM_CI)

$(WEB)/dist/index.html: $(WEB)/node_modules/.package-lock.json $(WEB_SRC)
	cd $(WEB) && npm run build

# Every test, the end-to-end calls through a private Asterisk included; -v so
# that each test's name shows as run. The desktop's browser test
# (agentdesk/web) needs Debian's chromium.
test: deps asterisk web
	$(GO) vet ./...
	$(GO) test -count=1 -p 2 -timeout 40m -v ./... 2>&1 | tee test-output.log; exit $${PIPESTATUS[0]}

unit:
	$(GO) test -count=1 ./internal/config ./ivr ./internal/audio ./cti

e2e: deps asterisk
	$(GO) test -count=1 -timeout 30m -v ./test/...

# End-to-end figures (real calls; p50/p99 with the setup in bench-report.md),
# then the micro-benchmarks of hot paths. The screen pop benchmark drives the
# built desktop in Debian's chromium.
bench: deps asterisk $(WEB)/dist/index.html
	BENCH_REPORT=$(CURDIR)/bench-report.md $(GO) test -count=1 -run '^$$' -bench . -benchtime 1x -timeout 30m ./test/bench/
	$(GO) test -count=1 -p 1 -run '^$$' -bench . -benchmem ./acd/... ./cti/... ./internal/... ./ivr/... ./flows/... ./trace/... > $(CURDIR)/bench-micro.txt || { cat $(CURDIR)/bench-micro.txt; exit 1; }
	cat $(CURDIR)/bench-micro.txt
	$(GO) run ./internal/tools/routingreport $(CURDIR)/bench-micro.txt >> $(CURDIR)/bench-report.md
	{ printf '\n## Micro-benchmarks\n\n`go test -bench . -benchmem` of the hot paths on the same machine (ACD routing: 10,000 agents, 100 skills, 1,000 waiting calls; see acd/redisstore/bench_test.go).\n\n```\n'; grep -E '^(Benchmark|goos|goarch|cpu|pkg)' $(CURDIR)/bench-micro.txt; printf '```\n'; } >> $(CURDIR)/bench-report.md
	rm -f $(CURDIR)/bench-micro.txt

vet:
	$(GO) vet ./...

fmt:
	gofmt -w $$(git ls-files '*.go')

clean:
	rm -rf $(BIN) test-output.log
	find $(WEB)/dist -mindepth 1 ! -name .keep -delete
