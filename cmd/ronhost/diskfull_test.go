package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestDiskFullNode runs `ronhost serve` with its data directory on a 64 MiB
// tmpfs the test mounts (it needs root; it is skipped otherwise). Filled
// through the API, the node answers writes 507 (disk_full) while reads keep
// working and no slot leaks (more requests than the gateway's slots); with
// the disk filled to the last byte by another process, it still serves
// reads, /readyz says the disk is full, and SIGTERM ends it cleanly; it
// starts on the full disk read-only and serves reads; once space is freed,
// writes resume by themselves; SIGTERM ends it again.
func TestDiskFullNode(t *testing.T) {
	mnt := t.TempDir()
	if err := syscall.Mount("tmpfs", mnt, "tmpfs", 0, "size=40m,mode=0755"); err != nil {
		t.Skipf("skipped: mounting a tmpfs for the data directory needs root (CAP_SYS_ADMIN): %v", err)
	}
	t.Cleanup(func() { _ = syscall.Unmount(mnt, syscall.MNT_DETACH) })
	c := newCLI(t)
	c.data = filepath.Join(mnt, "data")
	const slots = 8
	useTestCache(t, c.data, fmt.Sprintf("[node]\nmin_free = \"8MiB\"\nstop_timeout = \"8s\"\n[overlay]\nmode = \"off\"\n[gateway]\nmax_concurrent = %d\n", slots))
	n := startServe(t, c)
	tok, err := os.ReadFile(filepath.Join(c.data, "operator.token"))
	if err != nil {
		t.Fatal(err)
	}
	op := strings.TrimSpace(string(tok))
	rng := rand.New(rand.NewPCG(7, 7))
	object := func(size int) []byte {
		b := make([]byte, size)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return b
	}
	put := func(b []byte) (int, string) {
		t.Helper()
		code, _, body := request(t, "POST", n.api+"/v1/objects", op, "application/octet-stream", bytes.NewReader(b), nil)
		var e struct{ CID, Code, Message string }
		_ = json.Unmarshal(body, &e)
		if code == 507 && e.Code != "disk_full" {
			t.Fatalf("507 with code %q: %s", e.Code, body)
		}
		if code != 201 && code != 507 {
			t.Fatalf("put: %d %s", code, body)
		}
		return code, e.CID
	}
	stored := map[string][]byte{}
	readAll := func(what string) {
		t.Helper()
		for c, want := range stored {
			code, _, got := request(t, "GET", n.api+"/o/"+c, "", "", nil, nil)
			if code != 200 || !bytes.Equal(got, want) {
				t.Fatalf("%s: reading %s: %d, %d bytes", what, c, code, len(got))
			}
		}
	}
	diskState := func() (bool, []map[string]any) {
		t.Helper()
		var r struct {
			Disk struct {
				Writable  bool             `json:"writable"`
				Databases []map[string]any `json:"databases"`
			} `json:"disk"`
		}
		if code := n.get("/readyz", &r); code != 200 {
			t.Fatalf("/readyz %d on a full disk", code)
		}
		return r.Disk.Writable, r.Disk.Databases
	}

	// Fill it through the API, 1 MiB at a time (bounded: the disk is 40 MiB).
	for i := 0; ; i++ {
		if i == 64 {
			t.Fatal("64 MiB accepted on a 64 MiB disk")
		}
		b := object(1 << 20)
		code, c := put(b)
		if code == 507 {
			break
		}
		stored[c] = b
	}
	if len(stored) < 16 {
		t.Fatalf("only %d MiB stored before 507", len(stored))
	}
	// Writes keep getting 507 and reads keep working, many more requests
	// than there are slots: nothing hangs holding one.
	for i := range 3 * slots {
		if code, _ := put(object(1 << 20)); code != 507 {
			t.Fatalf("write %d on a full disk: %d", i, code)
		}
		if i%slots == 0 {
			readAll("reads between refused writes")
		}
	}

	// Another process takes the last byte.
	filler := filepath.Join(mnt, "filler")
	f, err := os.Create(filler)
	if err != nil {
		t.Fatal(err)
	}
	chunk := make([]byte, 1<<20)
	for i := 0; ; i++ {
		if i == 64 {
			t.Fatal("wrote 64 MiB more on a full 64 MiB disk")
		}
		if _, err := f.Write(chunk); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatal(err)
			}
			break
		}
	}
	f.Close()
	if code, _ := put([]byte("tiny")); code != 507 {
		t.Fatalf("a tiny write with no byte free: %d", code)
	}
	readAll("reads with no byte free")
	if w, _ := diskState(); w {
		t.Fatal("/readyz says the disk is writable with no byte free")
	}
	if code := n.get("/healthz", nil); code != 200 {
		t.Fatalf("/healthz %d", code)
	}
	n.stop() // SIGTERM: exit 0 within stop_timeout (the harness allows a minute)

	// It starts on the full disk, read-only, and serves reads.
	n = startServe(t, c)
	_, dbs := diskState()
	for _, db := range dbs {
		if db["read_only"] != true {
			t.Fatalf("started on a full disk, %v is not read-only", db)
		}
	}
	readAll("reads after starting on a full disk")
	if code, _ := put([]byte("tiny")); code != 507 {
		t.Fatalf("a write to a node started on a full disk: %d", code)
	}

	// Space is freed: writes resume by themselves.
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	b := object(256 << 10)
	n.waitFor("writes after freeing space", func() bool {
		code, c := put(b)
		if code == 201 {
			stored[c] = b
		}
		return code == 201
	})
	// The other databases reopen for writing by themselves too.
	n.waitFor("/readyz to say writes are accepted again", func() bool {
		w, dbs := diskState()
		for _, db := range dbs {
			w = w && db["read_only"] == nil
		}
		return w
	})
	readAll("reads after space returned")
	n.stop()
}
