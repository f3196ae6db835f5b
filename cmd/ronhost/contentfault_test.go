package main

import (
	bin "encoding/binary"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/ronhost/ronhost/internal/core/cid"
	"github.com/ronhost/ronhost/internal/core/node"
	"github.com/ronhost/ronhost/internal/wasmbuild"
)

// selfLeafPMTiles is a PMTiles v3 archive whose root directory points at a
// leaf directory of at most leafBytes that points at itself for tile 0/0/0
// (issue 14 item 2's archive): a reader that follows leaves without
// noticing the cycle reads and decodes the leaf again and again.
func selfLeafPMTiles(leafBytes int) []byte {
	pad := (leafBytes - 16) / 4 // each padding tile entry takes four one-byte varints; the pointer and count, at most 16
	leaf := func(self uint64) []byte {
		d := bin.AppendUvarint(nil, uint64(pad+1))
		d = bin.AppendUvarint(d, 0) // the pointer: tile ID 0
		for range pad {
			d = bin.AppendUvarint(d, 1) // tiles 1.. pad
		}
		d = bin.AppendUvarint(d, 0) // run length 0: a leaf pointer
		for range pad {
			d = bin.AppendUvarint(d, 1)
		}
		d = bin.AppendUvarint(d, self) // its length: the leaf itself
		for range pad {
			d = bin.AppendUvarint(d, 1)
		}
		d = bin.AppendUvarint(d, 1) // offset 0 in the leaf section: itself
		for range pad {
			d = bin.AppendUvarint(d, 0) // contiguous
		}
		return d
	}
	self := uint64(1)
	l := leaf(self)
	for uint64(len(l)) != self {
		self = uint64(len(l))
		l = leaf(self)
	}
	root := bin.AppendUvarint(nil, 1)
	root = bin.AppendUvarint(root, 0)    // tile ID 0
	root = bin.AppendUvarint(root, 0)    // a leaf pointer
	root = bin.AppendUvarint(root, self) // the leaf's length
	root = bin.AppendUvarint(root, 1)    // at offset 0 of the leaf section
	meta := []byte("{}")
	h := make([]byte, 127)
	copy(h, "PMTiles")
	h[7] = 3
	put := func(at int, v uint64) { bin.LittleEndian.PutUint64(h[at:], v) }
	put(8, 127)
	put(16, uint64(len(root)))
	put(24, 127+uint64(len(root)))
	put(32, uint64(len(meta)))
	put(40, 127+uint64(len(root)+len(meta)))
	put(48, self)
	put(56, 127+uint64(len(root)+len(meta))+self)
	put(64, 1)
	h[97], h[98], h[99] = 1, 1, 2 // no compression, PNG tiles
	for i, e7 := range []int32{-1800000000, -850511287, 1800000000, 850511287} {
		bin.LittleEndian.PutUint32(h[102+4*i:], uint32(e7))
	}
	out := append(h, root...)
	out = append(out, meta...)
	out = append(out, l...)
	return append(out, 0)
}

// TestContentFaultStaysWithContent (issue 14 item 2): A publishes a good
// one-tile archive and a crafted one whose leaf directory (2 MiB) points at
// itself. B, another `ronhost serve`, finds both over the DHT; anonymous
// GETs of the crafted address's /0/0/0, many more than quarantine_after,
// each answer a clear error (the plugin's rejection naming the cycle, or
// content_fault), never a quarantined .map: the good tile is served before
// and after. B's plugin memory cap is 16 MiB, so that a reader that decodes
// the 2 MiB leaf into entries (12 MiB) again and again faults
// deterministically, where on a fast machine it might only run long (the
// old reader: the first GET answered 502, a memory fault in
// DecodeDirectory). Running out of fuel marks the manifest at once
// (content_fault); only the wall-clock safety net, which a very loaded
// machine can reach, answers plugin_fault first and marks on the second
// timeout in a row.
func TestContentFaultStaysWithContent(t *testing.T) {
	if testing.Short() {
		t.Skip("starts two nodes")
	}
	mapWasm := writeFile(t, "map.wasm", wasmbuild.ForTest(t, "../../tlds/map"))
	a := newCLI(t)
	useTestCache(t, a.data, "")
	a.ok("plugin", "install", "--allow-unsigned", "--replace-builtin", mapWasm)
	sa := startServe(t, a)
	tok := strings.TrimSpace(string(mustRead(t, a.data+"/operator.token")))
	publish := func(title string, archive []byte) cid.Address {
		t.Helper()
		m := strings.Replace(pmtilesManifest, `title = "one tile"`, fmt.Sprintf("title = %q", title), 1)
		ct, body := publishBodyNamed(t, m, "tiles.pmtiles", archive)
		code, _, b := request(t, "POST", sa.api+"/v1/publish", tok, ct, body, nil)
		var out struct{ Address, Manifest, Payload string }
		if code != 201 || json.Unmarshal(b, &out) != nil {
			t.Fatalf("publish %s: %d %s", title, code, b)
		}
		addr, err := cid.ParseAddress(out.Address)
		if err != nil {
			t.Fatal(err)
		}
		return addr
	}
	tile := randData(3000)
	good := publish("good", onePMTile(tile))
	crafted := selfLeafPMTiles(2 << 20) // the largest directory a reader accepts
	if len(crafted) > 2<<20+200 {
		t.Fatalf("the crafted archive is %d bytes: its leaf is over 2 MiB, refused before any cycle", len(crafted))
	}
	bad := publish("self-referencing leaf", crafted)

	boot, _ := json.Marshal(runInfo(t, a).P2P)
	b := newCLI(t)
	// quarantine_after 3: the old rule quarantined after three faults in a row.
	// memory_mib 16: see above.
	useTestCache(t, b.data, fmt.Sprintf("memory_mib = 16\nquarantine_after = 3\n[overlay]\nbootstrap = %s\n", boot))
	b.ok("plugin", "install", "--allow-unsigned", "--replace-builtin", mapWasm)
	sb := startServe(t, b)

	tileURL := func(a cid.Address) string { return sb.api + "/r/" + a.Hash.Hex() + ".map/0/0/0" }
	var last []byte
	sb.waitFor("B to serve the good tile, fetched over the DHT", func() bool {
		code, _, got := request(t, "GET", tileURL(good), "", "", nil, nil)
		last = got
		return code == 200 && string(got) == string(tile)
	})
	for _, c := range []cid.CID{bad.Hash} {
		sb.waitFor("B to find a provider of the crafted manifest", func() bool {
			var st node.ObjectStat
			out, _, code := b.run("", "--json", "stat", c.String())
			return code == 0 && json.Unmarshal([]byte(out), &st) == nil && len(st.Copies) > 0
		})
	}
	// The crafted GETs come in a row, with nothing between them that could
	// reset a count of faults in a row.
	var codes []string
	for i := range 8 {
		code, _, body := request(t, "GET", tileURL(bad), "", "", nil, nil)
		var e struct{ Code, Message string }
		_ = json.Unmarshal(body, &e)
		codes = append(codes, fmt.Sprintf("%d %s", code, e.Code))
		switch {
		case code == 422 && e.Code == "rejected" && strings.Contains(string(body), "points back at a directory already read"):
			// The plugin's own answer: the field error names the cycle.
		case code == 422 && e.Code == "content_fault":
		case code == 502 && e.Code == "plugin_fault" && strings.Contains(e.Message, "timeout") && i < 7:
			// The wall-clock net on a very busy machine; a second in a row marks the content.
		default:
			t.Fatalf("GET %d of the crafted tile: %d %s, want a clear 422 (answers so far: %v)\n%s", i, code, body, codes, sb.log())
		}
	}
	if code, _, got := request(t, "GET", tileURL(good), "", "", nil, nil); code != 200 || string(got) != string(tile) {
		t.Fatalf("after the crafted GETs (%v), the good tile: %d %s\n%s", codes, code, got, sb.log())
	}
	t.Logf("the crafted tile answered %v; the good tile (first answer %d bytes) kept being served", codes, len(last))
}
