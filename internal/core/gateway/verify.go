package gateway

import (
	"encoding/json"
	"net/http"
	"sync"

	"github.com/ronhost/ronhost/internal/codes"
	"github.com/ronhost/ronhost/internal/core/cid"
)

// The index's entries cross the bus, so /r/ checks each against the address
// it serves: the BLAKE3 of the entry's Doc (the canonical manifest) must be
// the address's hash, and what /r/ serves from the entry (payload, size,
// media type, TLD, price) must be what that manifest says. No answer on the
// bus, from the index role or from anyone able to answer for it, can then
// make /r/ serve other bytes under an address: at most it makes it fail
// (502).
//
// A manifest never changes under its hash, so what a checked manifest says
// is remembered (up to maxVerified of them): the next entry for the same
// hash is compared with it, without hashing or decoding its Doc again.

// maxVerified bounds the manifests verifiedEntries remembers.
const maxVerified = 4096

// served is what /r/ takes from an entry.
type served struct {
	tld       string
	price     uint64
	payload   cid.CID
	size      int64
	mediaType string
}

func servedOf(e Entry) served {
	return served{tld: e.TLD, price: e.Price, payload: e.Payload, size: e.Size, mediaType: e.MediaType}
}

// verifiedEntries is what checked manifests say, by hash. Its zero value is
// ready.
type verifiedEntries struct {
	mu sync.Mutex
	m  map[cid.CID]served
}

// check returns nil when e is the entry of the manifest hash names.
func (v *verifiedEntries) check(hash cid.CID, e Entry) error {
	v.mu.Lock()
	want, ok := v.m[hash]
	v.mu.Unlock()
	if ok {
		if e.Manifest != hash || servedOf(e) != want {
			return refuseEntry(hash, "its fields differ from its manifest's")
		}
		return nil
	}
	if err := verifyEntry(hash, e); err != nil {
		return err
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.m == nil {
		v.m = map[cid.CID]served{}
	}
	if len(v.m) >= maxVerified {
		for k := range v.m { // forget one, any one
			delete(v.m, k)
			break
		}
	}
	v.m[hash] = servedOf(e)
	return nil
}

func refuseEntry(hash cid.CID, why string) error {
	return withStatus(http.StatusBadGateway, codes.Internal,
		"the index's entry for %s is refused: %s (a forged or corrupt answer on the bus)", hash, why)
}

// verifyEntry checks e against the manifest it carries, and that manifest
// against hash.
func verifyEntry(hash cid.CID, e Entry) error {
	if len(e.Doc) == 0 {
		return refuseEntry(hash, "it carries no manifest")
	}
	if cid.Sum(e.Doc) != hash {
		return refuseEntry(hash, "its manifest does not hash to the address")
	}
	var m struct {
		Meta struct {
			TLD   string `json:"tld"`
			Price uint64 `json:"price"`
		} `json:"meta"`
		Payload struct {
			CID       cid.CID `json:"cid"`
			Size      int64   `json:"size"`
			MediaType string  `json:"media_type"`
		} `json:"payload"`
	}
	if err := json.Unmarshal(e.Doc, &m); err != nil {
		return refuseEntry(hash, "its manifest does not decode: "+err.Error())
	}
	want := served{tld: m.Meta.TLD, price: m.Meta.Price, payload: m.Payload.CID, size: m.Payload.Size, mediaType: m.Payload.MediaType}
	if e.Manifest != hash || servedOf(e) != want {
		return refuseEntry(hash, "its fields differ from its manifest's")
	}
	return nil
}
