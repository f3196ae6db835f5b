package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/ronhost/ronhost/internal/core/cid"
	"github.com/ronhost/ronhost/internal/core/node"
)

// overlayNode starts `ronhost serve` with the overlay joined through
// bootstrap and the extra [overlay] keys.
func overlayNode(t *testing.T, bootstrap []string, overlayKeys string) (*cli, *served) {
	t.Helper()
	c := newCLI(t)
	boot, _ := json.Marshal(bootstrap)
	useTestCache(t, c.data, fmt.Sprintf("[overlay]\nbootstrap = %s\n%s", boot, overlayKeys))
	s := startServe(t, c)
	return c, s
}

func runInfo(t *testing.T, c *cli) node.RunInfo {
	t.Helper()
	ri, err := node.ReadRunInfo(c.data)
	if err != nil {
		t.Fatal(err)
	}
	if len(ri.P2P) == 0 {
		t.Fatalf("node.json has no overlay address: %+v", ri)
	}
	return ri
}

// servedBytes reads ron_overlay_served_bytes_total from a node's metrics.
func servedBytes(s *served) float64 {
	resp, err := http.Get(s.api + "/metrics")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "ron_overlay_served_bytes_total "); ok {
			f, _ := strconv.ParseFloat(v, 64)
			return f
		}
	}
	return -1
}

// TestFetchSurvivesProviderKill runs four `ronhost serve` processes: A
// stores an object and asks for two replicas (B and C take them), `stat`
// shows the three copies, A stops, and D fetches the object through its
// gateway from one provider at a time, whose upload is paced (serve_rate);
// the provider serving it is killed mid-transfer and the fetch completes
// from the other, verified: the body hashes to the CID.
func TestFetchSurvivesProviderKill(t *testing.T) {
	if testing.Short() {
		t.Skip("starts four nodes")
	}
	const size = 24 << 20
	data := make([]byte, size)
	rng := rand.New(rand.NewPCG(6, 6))
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	want := cid.Sum(data)

	a := newCLI(t)
	useTestCache(t, a.data, "")
	file := filepath.Join(t.TempDir(), "blob.bin")
	if err := os.WriteFile(file, data, 0o644); err != nil {
		t.Fatal(err)
	}
	var put struct{ CID string }
	a.json(&put, "put", file)
	if put.CID != want.String() {
		t.Fatalf("put gave %s, want %s", put.CID, want)
	}
	sa := startServe(t, a)
	boot := runInfo(t, a).P2P

	// B and C hold replicas for A (the only peer they trust) and pace what
	// they send; D reads one provider at a time.
	_, aID, _ := strings.Cut(boot[0], "/p2p/")
	paced := fmt.Sprintf("serve_rate = \"6MiB\"\ntrusted_peers = [%q]\n", aID)
	b, sb := overlayNode(t, boot, paced)
	c, sc := overlayNode(t, boot, paced)

	var pin node.PinResult
	a.json(&pin, "pin", want.String(), "--replicas", "2")
	if pin.Held != 2 || !pin.Pinned {
		t.Fatalf("pin --replicas 2: %+v", pin)
	}
	for _, cl := range []*cli{b, c} {
		var st node.ObjectStat
		cl.json(&st, "stat", want.String())
		if !st.Stored || !st.Pinned || st.Size != size {
			t.Fatalf("a replica's stat: %+v", st)
		}
	}
	// Providing is asynchronous: wait until the DHT lists all three copies.
	var st node.ObjectStat
	sa.waitFor("three copies in the DHT", func() bool {
		st = node.ObjectStat{}
		out, _, code := a.run("", "--json", "stat", want.String())
		return code == 0 && json.Unmarshal([]byte(out), &st) == nil && len(st.Copies) >= 3
	})
	t.Logf("replicas placed on %v; stat lists %d copies", pin.Replicas, len(st.Copies))
	sa.stop()
	// D joins through B (A is gone) once the replicas are placed, so it
	// holds none itself.
	_, sd := overlayNode(t, runInfo(t, b).P2P, "providers = 1\n")

	resp, err := http.Get(sd.api + "/o/" + want.String())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET on D: %s: %s\n%s", resp.Status, body, sd.log())
	}
	got := make([]byte, 0, size)
	head := make([]byte, 1<<20)
	if _, err := io.ReadFull(resp.Body, head); err != nil {
		t.Fatalf("reading the first MiB: %v\n%s", err, sd.log())
	}
	got = append(got, head...)

	// Which replica is serving? Its served-bytes counter moves.
	var serving, other *served
	sd.waitFor("a provider serving", func() bool {
		switch {
		case servedBytes(sb) > 0:
			serving, other = sb, sc
		case servedBytes(sc) > 0:
			serving, other = sc, sb
		}
		return serving != nil
	})
	killedAt := servedBytes(serving)
	if err := serving.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	t.Logf("killed the serving provider after it had sent %.0f of %d bytes", killedAt, size)
	rest, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading the rest after the provider died: %v\n%s", err, sd.log())
	}
	got = append(got, rest...)
	if len(got) != size || cid.Sum(got) != want {
		t.Fatalf("D served %d bytes hashing to %s, want %d bytes of %s", len(got), cid.Sum(got), size, want)
	}
	t.Logf("the other replica sent %.0f bytes; the body (%d bytes) hashes to the CID", servedBytes(other), len(got))
	if servedBytes(other) <= 0 {
		t.Fatalf("the surviving replica sent nothing: the fetch cannot have resumed from it\n%s", sd.log())
	}
	if servedBytes(serving) >= size {
		t.Fatalf("the killed provider had already sent everything: the kill was not mid-transfer")
	}
	// D now holds a verified copy: a second GET is local.
	var dst node.ObjectStat
	sd.waitFor("D's copy committed", func() bool {
		return sd.get("/v1/stat/"+want.String(), &dst) == 200 && dst.Stored
	})
}
