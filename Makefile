# ronhost: build, run and test.
#   make build   bin/ronhost with the built-in plugins (bin/tlds/NAME.wasm) embedded
#   make run     build, then run a node on 127.0.0.1 with the built-in plugins
#   make test    make vet (go vet, staticcheck, gofmt -l, go mod tidy -diff), every test with
#                -race, the conformance suite on every built-in plugin, the release tests (make dist-test: linux/amd64 only; make dist-check: all)
#   make bench   the benchmarks (figures as ratios to this machine's limits)
#   make bench-node  real nodes end to end: start-up, idle memory, GETs, node to node, first fetch
#   make dist    release archives, Debian packages and SHA256SUMS in dist/ (docs/OPERATING.md)

GO      ?= go
VERSION ?= $(shell git describe --always --dirty --abbrev=12 2>/dev/null || echo dev)
TLDS    := $(patsubst tlds/%/main.go,%,$(wildcard tlds/*/main.go))
WASM    := $(TLDS:%=bin/tlds/%.wasm)

# Test binaries share wazero's compilation cache: a Go plugin compiles in
# seconds under the race detector and loads from the cache in milliseconds.
export RON_TEST_WAZERO_CACHE ?= $(CURDIR)/bin/.cache/wazero-test
# Rust plugins (the SDK's tests, the templates) share one cargo target
# directory, so the crates they depend on compile once.
export RON_TEST_CARGO_TARGET ?= $(CURDIR)/bin/.cache/cargo-target

.PHONY: all build wasm run test vet unit conformance bench bench-node clean dist dist-test dist-check
all: build

build: bin/ronhost

# go build is incremental, so these always run and are quick when nothing changed.
# Each module's plugin hash goes beside it (tlds/build/NAME.wasm.b3, tlds/hashgen.go):
# a node knows its built-ins' hashes without reading their bytes.
# The flags are pinned (GOFLAGS cleared, no VCS stamp): the modules are
# embedded in release binaries, which must not depend on the builder's
# environment.
wasm:
	@mkdir -p bin/tlds tlds/build
	@for t in $(TLDS); do \
		echo "wasm  tlds/$$t -> bin/tlds/$$t.wasm"; \
		GOFLAGS= CGO_ENABLED=0 GOOS=wasip1 GOARCH=wasm $(GO) build -buildmode=c-shared -trimpath -buildvcs=false -o bin/tlds/$$t.wasm ./tlds/$$t || exit 1; \
		cp bin/tlds/$$t.wasm tlds/build/$$t.wasm; \
	done
	@GOFLAGS= $(GO) run tlds/hashgen.go $(TLDS:%=tlds/build/%.wasm)

bin/ronhost: wasm FORCE
	$(GO) build -trimpath -ldflags "-X main.version=$(VERSION)" -o bin/ronhost ./cmd/ronhost

run: build
	./bin/ronhost serve

test: build vet unit conformance dist-test

# staticcheck is installed at a pinned version through the module proxy into
# bin/ (quick once the module is cached), so a fresh machine needs nothing
# more and the node's go.mod does not list it; it runs once per platform a
# module is built for. gofmt reads every Go file git tracks (or, outside a
# checkout, every one in the tree); go mod tidy -diff fails when a go.mod or
# go.sum is not what tidy would write. The architecture rules of
# docs/ARCHITECTURE.md are a test (internal/lint), run with the others.
STATICCHECK_VERSION = v0.8.2
STATICCHECK = $(CURDIR)/bin/staticcheck

vet: bin/staticcheck
	$(GO) vet ./...
	cd sdk-wasm && $(GO) vet ./... && GOOS=wasip1 GOARCH=wasm $(GO) vet ./...
	@files=$$(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './bin/*'); \
		bad=$$(gofmt -l $$files); \
		if [ -n "$$bad" ]; then echo "gofmt -l: run gofmt -w on:"; echo "$$bad"; exit 1; fi
	$(GO) mod tidy -diff
	cd sdk-wasm && $(GO) mod tidy -diff
	cd packaging && $(GO) mod tidy -diff
	$(STATICCHECK) ./...
	cd sdk-wasm && $(STATICCHECK) ./... && GOOS=wasip1 GOARCH=wasm $(STATICCHECK) ./...
	cd packaging && $(STATICCHECK) ./...

bin/staticcheck: FORCE
	GOBIN=$(CURDIR)/bin GOFLAGS= $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

# The plugin packages run calls under wall-clock safety nets (a node's 1-2 s,
# 10x that in the conformance suite and the TLDs' tests, 50 ms in the few tests
# of the net itself): they run on their own, after the network-heavy packages (50-node DHTs, a private Tor network,
# role processes), so they do not share the two cores with them.
PLUGIN_PKGS = ./internal/plugins/... ./tlds/... ./conformance/...

# -timeout only guards against a hang: cmd/ronhost's tests (role processes, plugin
# templates built with cargo and clang) fit in the 19 minutes the whole make test
# took on CI, but passed 40 at a load average of 40 (TestPluginNewTemplatesPass/rust alone
# took 9 minutes there), so the guard is far above both.
unit:
	$(GO) test -race -timeout 75m $$($(GO) list ./... | grep -v -e /plugins -e /tlds -e /conformance)
	$(GO) test -race -timeout 30m $(PLUGIN_PKGS)
	cd sdk-wasm && $(GO) test -race -timeout 10m ./...

# The conformance suite on every built-in plugin, as a plugin author runs it.
conformance: build
	@for t in $(TLDS); do \
		echo "== ronhost plugin test bin/tlds/$$t.wasm"; \
		cases=""; [ -d tlds/$$t/testdata/cases ] && cases="--cases tlds/$$t/testdata/cases"; \
		RON_DATA=$(CURDIR)/bin/.cache/conformance-data ./bin/ronhost plugin test bin/tlds/$$t.wasm $$cases || exit 1; \
	done

# Each figure is reported as a ratio to a limit measured in the same run
# (native Go for plugins, raw BLAKE3 and plain file I/O for the store).
bench: build
	$(GO) test -run '^$$' -bench . -benchtime 1000x -timeout 30m ./internal/plugins/
	RON_BENCH_CALLS=1000000 $(GO) test -run '^$$' -bench SteadyState -benchtime 1x -timeout 60m ./internal/plugins/
	RON_BENCH_BYTES=1073741824 $(GO) test -run '^$$' -bench . -benchtime 1x -timeout 30m ./internal/core/store/
	$(GO) test -run '^$$' -bench . -benchtime 300x -timeout 30m ./tlds/...
	$(GO) test -run '^$$' -bench RequestReply -benchtime 20000x -count 3 ./internal/bus/
	$(GO) test -run '^$$' -bench GetLarge -benchtime 5x -timeout 30m ./internal/core/gateway/
	$(GO) test -run '^$$' -bench GetSmall -benchtime 5000x ./internal/core/gateway/
	$(GO) test -run '^$$' -bench VerifyEntry -benchtime 2000x -count 3 ./internal/core/gateway/
	$(GO) test -run '^$$' -bench . -benchtime 2s ./internal/core/ledger/
	$(GO) test -run '^$$' -bench DecodeTOML -benchtime 1x ./internal/core/manifest/
	$(GO) test -run '^$$' -bench Set -benchtime 200000x -count 5 ./internal/pebbledb/
	$(GO) test -run '^$$' -bench SealOpen -benchtime 2000x -count 3 ./internal/core/mailbox/
	$(GO) test -run '^$$' -bench 'Fetch1GiB/tcp-tls' -benchtime 5x -timeout 30m ./internal/core/blob/
	$(GO) test -run '^$$' -bench FindProviders50 -benchtime 490x -timeout 30m ./internal/core/overlay/
	$(GO) test -run '^$$' -bench DHTScale -benchtime 2x -timeout 120m ./internal/core/overlay/

# The whole process, end to end (internal/nodebench): real `ronhost serve`
# processes on 127.0.0.1, each figure a ratio to a limit measured in the same
# run (exec of the binary, a plain http.FileServer, a loopback TCP copy,
# core/blob's in-process fetch benchmark of the same size, run in turn).
# RON_BENCH_NODE_BYTES (default 1 GiB) and RON_BENCH_NODE_ROUNDS (3) make
# quick runs: RON_BENCH_NODE_BYTES=67108864 make bench-node.
bench-node: build
	$(GO) run ./internal/nodebench -bin bin/ronhost

# Releases (docs/OPERATING.md, "Releases"). For each platform: a binary
# built with CGO off, -trimpath and pinned flags, with the built-in plugins
# embedded; a tar.gz written by packaging/ (entries sorted, times from the
# commit, owners 0); its module list (go version -m); for Linux, a Debian
# package. Then SHA256SUMS, signed when RELEASE_KEY names a key file (made by
# ronhost plugin keygen). Two runs from clean clones of one commit with one Go
# version give the same bytes (make dist-check).
DIST_PLATFORMS    ?= linux/amd64 linux/arm64 darwin/arm64
SOURCE_DATE_EPOCH ?= $(shell git log -1 --format=%ct 2>/dev/null || echo 0)
RELEASE_KEY       ?=
DIST_ENV   = GOFLAGS= CGO_ENABLED=0 GOAMD64=v1 GOARM64=v8.0 GOEXPERIMENT=
# No VCS stamp: go stamps a clone but not a git worktree or a source tarball,
# and the bytes must not depend on how the source was checked out; the
# version string names the commit.
DIST_FLAGS = -trimpath -buildvcs=false -ldflags "-s -w -X main.version=$(VERSION)"

dist: build bin/ronhost-dist
	@rm -rf dist bin/dist && mkdir -p dist bin/dist
	@RON_DATA=$(CURDIR)/bin/dist/data ./bin/ronhost --config bin/dist/config.toml config init >/dev/null
	@set -e; for p in $(DIST_PLATFORMS); do \
		os=$${p%/*}; arch=$${p#*/}; name=ronhost_$(VERSION)_$${os}_$$arch; out=bin/dist/$${os}_$$arch; \
		echo "dist  $$p -> dist/$$name.tar.gz"; \
		$(DIST_ENV) GOOS=$$os GOARCH=$$arch $(GO) build $(DIST_FLAGS) -o $$out/ronhost ./cmd/ronhost; \
		(cd $$out && $(GO) version -m ronhost) > dist/$$name.modules.txt; \
		./bin/ronhost-dist archive -epoch $(SOURCE_DATE_EPOCH) -root $$name -o dist/$$name.tar.gz \
			$$out/ronhost README.md docs/OPERATING.md; \
		if [ $$os = linux ]; then \
			./bin/ronhost-dist deb -epoch $(SOURCE_DATE_EPOCH) -version $(VERSION) -arch $$arch \
				-binary $$out/ronhost -conf bin/dist/config.toml -spec packaging/nfpm.yaml -o dist; \
		fi; \
	done
	@./bin/ronhost-dist sums dist
	@if [ -n "$(RELEASE_KEY)" ]; then ./bin/ronhost sign-release --key "$(RELEASE_KEY)" dist; \
	else echo "dist: SHA256SUMS is not signed (make dist RELEASE_KEY=FILE, or ronhost sign-release --key FILE dist)"; fi
	@ls -l dist

bin/ronhost-dist: FORCE
	cd packaging && $(GO) build -o ../bin/ronhost-dist .

# The release tests (packaging/dist_test.go) on the release make dist just
# wrote for linux/amd64: signed sums verify and a flipped byte is refused; the
# package installs with dpkg (as root; skipped otherwise) and purges cleanly;
# two clean clones of HEAD rebuild the same bytes. dist-check rebuilds every
# platform twice (minutes of CPU: not part of make test).
dist-test:
	$(MAKE) dist DIST_PLATFORMS=linux/amd64
	cd packaging && $(GO) vet ./... && RON_DIST_DIR=$(CURDIR)/dist RON_DIST_PLATFORMS=linux/amd64 $(GO) test -count=1 -timeout 20m ./...

dist-check:
	cd packaging && RON_DIST_PLATFORMS="$(DIST_PLATFORMS)" $(GO) test -count=1 -timeout 60m -run TestReproducible -v ./...

clean:
	rm -rf bin dist tlds/build/*.wasm

FORCE:
