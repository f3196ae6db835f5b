package mailbox

import (
	"errors"
	"net/http"
	"testing"

	"github.com/ronhost/ronhost/internal/pebbledb/diskfulltest"
)

// A message that does not fit the recipient's disk is refused with 507
// (the sender keeps it and retries) and arrives once space returns; the
// inbox stays readable meanwhile. ENOSPC met inside Pebble is an error too,
// not a panic.
func TestDeliverDiskFull(t *testing.T) {
	n := newMemNet()
	alice := newBox(t, n, "/a", testOptions(n, "alice.onion:80"))
	disk := diskfulltest.New()
	o := testOptions(n, "bob.onion:80")
	o.FS, o.MinFree = disk.FS(), 64<<20
	bob := newBox(t, n, "/b", o)
	first := sealed(t, alice.m.id, alice.addr, bob.addr.Keys, "first")
	if _, err := bob.m.Deliver(first.Marshal()); err != nil {
		t.Fatal(err)
	}

	disk.SetFree(1 << 20)
	env := sealed(t, alice.m.id, alice.addr, bob.addr.Keys, "on a full disk")
	if _, err := bob.m.Deliver(env.Marshal()); !errors.Is(err, ErrDiskFull) {
		t.Fatalf("deliver on a full disk: %v", err)
	}
	if resp := post(t, n, bob.addr.Host, env.Marshal()); resp.StatusCode != http.StatusInsufficientStorage {
		t.Fatalf("deliver over HTTP on a full disk: %s", resp.Status)
	}
	if got := inbox(t, bob.m); len(got) != 1 {
		t.Fatalf("inbox on a full disk: %d entries", len(got))
	}
	if disk.Refused() != 0 {
		t.Fatal("a write reached the disk")
	}
	disk.SetFree(diskfulltest.Plenty)
	if _, err := bob.m.Deliver(env.Marshal()); err != nil {
		t.Fatalf("deliver once space returned: %v", err)
	}
	if got := inbox(t, bob.m); len(got) != 2 {
		t.Fatalf("inbox: %d entries", len(got))
	}

	disk.SetFree(100 << 20) // under twice the reserve; the disk fills after the check
	disk.ENOSPC(true)
	late := sealed(t, alice.m.id, alice.addr, bob.addr.Keys, "ENOSPC")
	if _, err := bob.m.Deliver(late.Marshal()); !errors.Is(err, ErrDiskFull) {
		t.Fatalf("deliver meeting ENOSPC: %v", err)
	}
	disk.ENOSPC(false)
	if _, err := bob.m.Inbox(bg); err != nil {
		t.Fatalf("inbox after Pebble failed: %v", err)
	}
}
