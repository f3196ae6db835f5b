# ronhost: build, run and test.
#   make build   bin/ronhost with the built-in plugins (bin/tlds/NAME.wasm) embedded
#   make run     build, then run a node on 127.0.0.1 with the built-in plugins
#   make test    go vet, every test with -race, the conformance suite on every built-in plugin
#   make bench   the benchmarks (figures as ratios to this machine's limits)

GO      ?= go
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
TLDS    := $(patsubst tlds/%/main.go,%,$(wildcard tlds/*/main.go))
WASM    := $(TLDS:%=bin/tlds/%.wasm)

# Test binaries share wazero's compilation cache: a Go plugin compiles in
# seconds under the race detector and loads from the cache in milliseconds.
export RON_TEST_WAZERO_CACHE ?= $(CURDIR)/bin/.cache/wazero-test

.PHONY: all build wasm run test vet unit conformance bench clean
all: build

build: bin/ronhost

# go build is incremental, so these always run and are quick when nothing changed.
wasm:
	@mkdir -p bin/tlds tlds/build
	@for t in $(TLDS); do \
		echo "wasm  tlds/$$t -> bin/tlds/$$t.wasm"; \
		GOOS=wasip1 GOARCH=wasm $(GO) build -buildmode=c-shared -trimpath -o bin/tlds/$$t.wasm ./tlds/$$t || exit 1; \
		cp bin/tlds/$$t.wasm tlds/build/$$t.wasm; \
	done

bin/ronhost: wasm FORCE
	$(GO) build -trimpath -ldflags "-X main.version=$(VERSION)" -o bin/ronhost ./cmd/ronhost

run: build
	./bin/ronhost serve

test: build vet unit conformance

vet:
	$(GO) vet ./...
	cd sdk-wasm && $(GO) vet ./... && GOOS=wasip1 GOARCH=wasm $(GO) vet ./...

# The plugin packages hold calls to wall-clock deadlines (50 ms): they run on
# their own, after the network-heavy packages (50-node DHTs, a private Tor
# network, role processes), so they do not share the two cores with them.
PLUGIN_PKGS = ./plugins/... ./tlds/... ./conformance/...

unit:
	$(GO) test -race -timeout 15m $$($(GO) list ./... | grep -v -e /plugins -e /tlds -e /conformance)
	$(GO) test -race -timeout 15m $(PLUGIN_PKGS)
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
	$(GO) test -run '^$$' -bench . -benchtime 1000x -timeout 30m ./plugins/
	RON_BENCH_CALLS=1000000 $(GO) test -run '^$$' -bench SteadyState -benchtime 1x -timeout 60m ./plugins/
	RON_BENCH_BYTES=1073741824 $(GO) test -run '^$$' -bench . -benchtime 1x -timeout 30m ./core/store/
	$(GO) test -run '^$$' -bench . -benchtime 300x -timeout 30m ./tlds/...
	$(GO) test -run '^$$' -bench RequestReply -benchtime 20000x -count 3 ./bus/
	$(GO) test -run '^$$' -bench GetLarge -benchtime 5x -timeout 30m ./core/gateway/
	$(GO) test -run '^$$' -bench GetSmall -benchtime 5000x ./core/gateway/
	$(GO) test -run '^$$' -bench . -benchtime 2s ./core/ledger/
	$(GO) test -run '^$$' -bench SealOpen -benchtime 2000x -count 3 ./core/mailbox/
	$(GO) test -run '^$$' -bench 'Fetch1GiB/tcp-tls' -benchtime 5x -timeout 30m ./core/blob/
	$(GO) test -run '^$$' -bench FindProviders50 -benchtime 490x -timeout 30m ./core/overlay/

clean:
	rm -rf bin tlds/build/*.wasm

FORCE:
