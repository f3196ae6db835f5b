package store

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/ronhost/ronhost/internal/core/cid"
	"github.com/ronhost/ronhost/internal/core/store/internal/crashdata"
)

// checkStore opens dir and checks that every acknowledged object reads back
// verified and equal, nothing is left in tmp/, and a scrub finds nothing
// wrong (no half-written object, no orphan file, exact usage counters).
func checkStore(t *testing.T, dir string, fs vfs.FS, acked map[cid.CID][]byte) {
	t.Helper()
	s, err := Open(context.Background(), dir, Options{FS: fs})
	if err != nil {
		t.Fatalf("reopen after crash: %v", err)
	}
	defer s.Close()
	assertNoTemp(t, s)
	for c, data := range acked {
		if got := readAll(t, s, c, 0, -1); !bytes.Equal(got, data) {
			t.Fatalf("acknowledged %s reads back wrong", c)
		}
	}
	rep, err := s.Scrub(context.Background(), ScrubOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Damage) != 0 {
		t.Fatalf("after crash, scrub found %v", rep.Damage)
	}
}

// TestKill9 kills a real process putting objects (kill -9, mid-ingest or
// mid-commit) many times, then checks the store each time.
func TestKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills a helper process")
	}
	bin := filepath.Join(t.TempDir(), "crashput")
	build := exec.Command("go", "build", "-o", bin, "./testdata/crashput")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the helper: %v\n%s", err, out)
	}
	dir := t.TempDir()
	acked := map[cid.CID][]byte{}
	rng := rand.New(rand.NewPCG(42, 42))
	const runs = 20
	midKills := 0
	for run := 0; run < runs; run++ {
		seed := uint64(run + 1)
		cmd := exec.Command(bin, dir, fmt.Sprint(seed))
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Kill at a random line (after some ACKs, at a BEGIN or at a MID), or,
		// in two runs of three, at the first MID (half the input read) after it.
		killAt := 1 + rng.IntN(12)
		atMid := rng.IntN(3) > 0
		sc := bufio.NewScanner(out)
		lines := 0
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			if len(f) == 4 && f[0] == "ACK" {
				c, err := cid.Parse(f[2])
				if err != nil {
					t.Fatal(err)
				}
				var i, n int
				fmt.Sscan(f[1], &i)
				fmt.Sscan(f[3], &n)
				acked[c] = crashdata.Object(seed*1_000_000+uint64(i), n)
			}
			if lines++; lines >= killAt && (!atMid || f[0] == "MID") {
				if f[0] == "MID" {
					midKills++
				}
				cmd.Process.Kill() // SIGKILL
				break
			}
		}
		cmd.Wait()
		if lines < killAt || cmd.ProcessState.Success() {
			t.Fatalf("run %d: the helper stopped early: %s", run, stderr.String())
		}
		checkStore(t, dir, nil, acked)
	}
	if midKills == 0 {
		t.Fatal("no kill landed mid-ingest")
	}
	t.Logf("%d kills (%d at mid-ingest), %d acknowledged objects verified", runs, midKills, len(acked))
}

// TestPowerLoss uses Pebble's crash-testing filesystem for the whole store
// (index and payload files): at random points, during puts and after acks,
// it takes the filesystem a power cut would leave (synced data, plus a
// random share of unsynced data) and checks the store opened on it.
func TestPowerLoss(t *testing.T) {
	ctx := context.Background()
	fs := vfs.NewCrashableMem()
	const dir = "/store"
	s, err := Open(ctx, dir, Options{FS: fs, InlineMax: 1000})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	rng := rand.New(rand.NewPCG(7, 7))
	acked := map[cid.CID][]byte{}
	type crash struct {
		fs    *vfs.MemFS
		acked map[cid.CID][]byte
	}
	var crashes []crash
	snapshot := func() {
		ack := make(map[cid.CID][]byte, len(acked))
		for k, v := range acked {
			ack[k] = v
		}
		pct := rng.IntN(101)
		crashes = append(crashes, crash{fs.CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: pct, RNG: rand.New(rand.NewPCG(uint64(pct), 3))}), ack})
	}
	sizes := []int{0, 10, 999, 1001, GroupSize, 5*GroupSize + 3, 20 * GroupSize}
	for i := 0; i < 40; i++ {
		n := sizes[rng.IntN(len(sizes))]
		data := crashdata.Object(uint64(i), n)
		crashAt := int64(-1)
		if rng.IntN(2) == 0 {
			crashAt = rng.Int64N(int64(n) + 1)
		}
		var r = bytesReader(data)
		if i%2 == 1 {
			r = onlyReader{r}
		}
		// Every third put references an earlier object, as a manifest its
		// payload (scrub then checks every reference after each cut), and
		// the put holds its object (in memory: a cut just ends the hold).
		var refs []cid.CID
		if i%3 == 2 {
			for c := range acked {
				refs = append(refs, c)
				break
			}
		}
		res, err := s.Put(ctx, r, PutOptions{Pin: i%4 == 0, Refs: refs, Hold: time.Minute, Progress: func(done int64) {
			if crashAt >= 0 && done >= crashAt {
				crashAt = -1
				snapshot()
			}
		}})
		if err != nil {
			t.Fatal(err)
		}
		res.Release()
		acked[res.CID] = data
		if rng.IntN(3) == 0 {
			snapshot()
		}
		if i%15 == 14 {
			// A GC too: its crash must not lose pinned objects or leak files.
			if _, err := s.GC(ctx); err != nil {
				t.Fatal(err)
			}
			for c := range acked {
				if info, err := s.Info(ctx, c); err != nil || !info.Pinned {
					delete(acked, c)
				}
			}
			snapshot()
		}
	}
	if len(crashes) < 15 {
		t.Fatalf("only %d crash points", len(crashes))
	}
	for _, c := range crashes {
		checkStore(t, dir, c.fs, c.acked)
	}
	t.Logf("%d simulated power cuts checked", len(crashes))
}
