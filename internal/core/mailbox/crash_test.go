package mailbox

import (
	"math/rand/v2"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// TestCrashAfterSend: the sender's power is cut right after Send returned
// (a crash clone of its filesystem keeps synced data and a random share of
// the rest), before any delivery; the mailbox reopened from what the crash
// left delivers the message, once.
func TestCrashAfterSend(t *testing.T) {
	n := newMemNet()
	bob := newBox(t, n, "/b", testOptions(n, "bob.onion:80"))
	for i, pct := range []int{0, 50, 100} {
		mem := vfs.NewCrashableMem()
		o := testOptions(n, "alice.onion:80")
		o.FS = mem
		n.setFail(bob.addr.Host, 1<<30) // bob unreachable until the crash
		m, err := Open(bg, "/data/mailbox", o)
		if err != nil {
			t.Fatal(err)
		}
		if err := m.Start(bg); err != nil {
			t.Fatal(err)
		}
		var ids []string
		for range 3 {
			id, err := m.Send(bg, bob.addr, []byte("survive"), "")
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, id)
		}
		crashed := mem.CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: pct, RNG: rand.New(rand.NewPCG(uint64(i), 1))})
		if err := m.Close(); err != nil {
			t.Fatal(err)
		}
		n.setFail(bob.addr.Host, 0)

		o.FS = crashed
		m2, err := Open(bg, "/data/mailbox", o)
		if err != nil {
			t.Fatalf("reopening after the crash: %v", err)
		}
		if err := m2.Start(bg); err != nil {
			t.Fatal(err)
		}
		for _, id := range ids {
			waitStatus(t, m2, id, StatusDelivered)
		}
		if err := m2.Close(); err != nil {
			t.Fatal(err)
		}
	}
	got := inbox(t, bob.m)
	if len(got) != 9 {
		t.Fatalf("bob has %d messages, want 9", len(got))
	}
}
