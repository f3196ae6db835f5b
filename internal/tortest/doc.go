// Package tortest runs a private Tor network on 127.0.0.1 for tests: three
// directory authorities (keys from tor-gencert) and a few relays under
// TestingTorNetwork 1 with fast voting intervals. Clients join it with the
// lines ClientTorrc returns. It owns only the test network's tor processes;
// it imports no ronhost package (internal/core/tor's tests import it).
package tortest
