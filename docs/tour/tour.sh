#!/bin/sh
# The README's five-minute tour, as a script: README.md shows this file
# between its tour markers, and cmd/ronhost's TestTour runs it against
# bin/ronhost and fails when the two differ. Run it from the repository
# root after `make build`; RON_DATA and TOUR_PORT choose where it runs.
set -eu
export RON_DATA=${RON_DATA:-/tmp/ron-tour}   # every command takes --data DIR too
API=127.0.0.1:${TOUR_PORT:-8470}             # the node's HTTP API
TOUR=docs/tour                               # the files the tour publishes

bin/ronhost plugin list                      # the built-in plugins this node serves
bin/ronhost plugin info map                  # what .map declares: roles, features

# Store content, verified and deduplicated, and read a range back.
echo 'hello, crab' > "$RON_DATA.hello.txt"
HELLO=$(bin/ronhost put "$RON_DATA.hello.txt")   # b3:<hex>, equal to `b3sum`
test "$HELLO" = "b3:$(b3sum --no-names "$RON_DATA.hello.txt")"
bin/ronhost get "$HELLO" --range 0-4         # "hello"
bin/ronhost scrub                            # re-verifies every stored byte and every reference

bin/ronhost config init                      # DATA/config.toml with every default, commented
bin/ronhost serve --listen "$API" &          # a node: store, index, plugins, ledger on NATS
NODE=$!
trap 'kill $NODE 2>/dev/null; wait $NODE' EXIT
until curl -sf "$API/readyz" >/dev/null; do sleep 0.2; done   # 200 once it can serve
curl -s "$API/readyz?verbose"                # each component: tor and the overlay may be degraded
curl -s "$API/v1/plugins" | grep -c '"tld"'  # installs are picked up (hot reload) while it runs
curl -s "$API/metrics" | grep -c '^ron_plugin_calls_total'

# Publish through the node: its .map plugin validates the manifest (tlds/map/README.md).
ADDR=$(bin/ronhost publish $TOUR/tiles.png --manifest $TOUR/Manifest.toml)   # crab://<hash>.map
HASH=${ADDR#crab://}
test "$(curl -s "$API/r/$HASH" -r 0-99 | wc -c)" -eq 100         # a verified range
TILES=b3:$(b3sum --no-names $TOUR/tiles.png)
curl -sI "$API/o/$TILES" | grep -i etag                            # immutable caching
# In a browser every address has its own origin (so one publisher's page can never reach
# another's, nor the node's API): /r/<hash>.map on localhost redirects to
# http://<label>.map.localhost:<port>/ (<label>: the hash in base32, 52 characters).
curl -sI "http://localhost:${API#*:}/r/$HASH" | grep -i location
# Trust no gateway: fetch the verifiable stream from any node and check every 64 KiB group.
bin/ronhost get "$TILES" --gateway "http://$API" -o "$RON_DATA.tiles.png"
cmp "$RON_DATA.tiles.png" $TOUR/tiles.png
bin/ronhost token mint --path /v1/publish --expires 24h   # a narrower token for someone else
bin/ronhost payouts settle && bin/ronhost payouts         # [meta] price per access, split by the plugin
bin/ronhost mailbox address                  # the private plane: with tor installed, a v3 onion service

# Many nodes: a second node joins the overlay through the first (its address is in
# DATA/node.json), fetches what it lacks from it (verified), and holds copies only for the
# peers it trusts: here the first, which asks it for one.
N1=$(grep -o '/ip4/127.0.0.1/tcp/[0-9]*/p2p/[0-9A-Za-z]*' "$RON_DATA/node.json" | head -n 1)
API2=127.0.0.1:${TOUR_PORT2:-8471}
RON_DATA=$RON_DATA.n2 RON_NODE_LISTEN=$API2 RON_OVERLAY_BOOTSTRAP=$N1 RON_OVERLAY_TRUSTED_PEERS=${N1##*/} bin/ronhost serve &
NODE2=$!
trap 'kill $NODE $NODE2 2>/dev/null; wait' EXIT
until curl -sf "$API2/readyz" >/dev/null; do sleep 0.2; done
bin/ronhost --data "$RON_DATA.n2" get "$TILES" -o "$RON_DATA.n2.png"   # not stored there: found through the overlay
cmp "$RON_DATA.n2.png" $TOUR/tiles.png
bin/ronhost pin "$HELLO" --replicas 1        # "1 of 1 replicas placed": a copy on the second node
bin/ronhost stat "$HELLO"                    # where copies are
bin/ronhost overlay                          # reachability, announced addresses, connections
