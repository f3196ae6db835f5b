//go:build wasip1

package plugkit

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"math/bits"
	"sort"
	"strings"
	"unicode/utf8"
)

// TLD is the reference plugin's namespace.
const TLD = "refdemo"

// KeepRemainder, when false, drops the rounding remainder of the servers'
// shares (the bug of the losesmoney plugin).
var KeepRemainder = true

// Meta is the [meta] table of the reference manifest.
type Meta struct {
	TLD   *string   `json:"tld"`
	Title *string   `json:"title"`
	Tags  *[]string `json:"tags"`
}

// Manifest is the reference manifest.
type Manifest struct {
	Meta       *Meta   `json:"meta"`
	Creator    *string `json:"creator"`
	CreatorBPS *uint64 `json:"creator_bps"`
}

type normMeta struct {
	TLD   string   `json:"tld"`
	Title string   `json:"title"`
	Tags  []string `json:"tags"`
}

type normManifest struct {
	Meta       normMeta `json:"meta"`
	Creator    string   `json:"creator"`
	CreatorBPS uint64   `json:"creator_bps"`
}

type fieldError struct {
	Path    string `json:"path"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Reject renders a status-1 answer.
func Reject(errs ...fieldError) (int32, []byte) {
	out, _ := json.Marshal(struct {
		Errors []fieldError `json:"errors"`
	}{errs})
	return 1, out
}

func fe(path, code, msg string) fieldError { return fieldError{path, code, msg} }

// MaxInput bounds what the reference decodes: Go's encoding/json runs at a
// few MB/s inside wazero, so a 1 MiB input would blow the 100 ms deadline.
// A manifest is small; anything larger is rejected before it is parsed.
const MaxInput = 64 << 10

// decode reads exactly one JSON value into v, rejecting unknown fields,
// invalid UTF-8 and trailing data.
func decode(in []byte, v any) error {
	if len(in) > MaxInput {
		return errors.New("the input is over 64 KiB")
	}
	if !utf8.Valid(in) {
		return errors.New("the input is not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(in))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("trailing data after the JSON value")
	}
	return nil
}

// Examples are the manifests describe offers.
var Examples = []string{
	`{"meta":{"tld":"refdemo","title":"  Hello, world ","tags":["Demo","b","demo"]},"creator":"alice","creator_bps":2500}`,
	`{"meta":{"tld":"refdemo","title":"Minimal"},"creator":"bob"}`,
}

// RefDescribe answers ron_describe.
func RefDescribe(in []byte) (int32, []byte) {
	var req struct {
		ABI  int `json:"abi"`
		Host struct {
			Name    string `json:"name"`
			Version string `json:"version"`
		} `json:"host"`
	}
	if t := bytes.TrimSpace(in); len(t) == 0 || t[0] != '{' {
		return Reject(fe("", "type", "the input is a JSON object"))
	}
	if err := decode(in, &req); err != nil {
		return Reject(fe("", "syntax", err.Error()))
	}
	if req.ABI != 1 {
		return Reject(fe("abi", "unsupported", "this plugin speaks ABI version 1"))
	}
	exs := make([]json.RawMessage, len(Examples))
	for i, e := range Examples {
		exs[i] = json.RawMessage(e)
	}
	out, _ := json.Marshal(map[string]any{
		"tld":      TLD,
		"name":     "Reference demo",
		"version":  "1.0.0",
		"summary":  "the conformance suite's well-behaved plugin",
		"roles":    []string{"creator", "server"},
		"features": []string{"resolve"},
		"examples": exs,
	})
	return 0, out
}

// normalize checks a manifest and returns its normal form.
func normalize(m *Manifest, tld string) (*normManifest, []fieldError) {
	var errs []fieldError
	n := &normManifest{CreatorBPS: 10000}
	if m.Meta == nil {
		errs = append(errs, fe("meta", "required", "the [meta] table is required"))
	} else {
		switch {
		case m.Meta.TLD == nil:
			errs = append(errs, fe("meta.tld", "required", "meta.tld is required"))
		case *m.Meta.TLD != tld:
			errs = append(errs, fe("meta.tld", "mismatch", "meta.tld must be "+tld))
		default:
			n.Meta.TLD = *m.Meta.TLD
		}
		if m.Meta.Title == nil {
			errs = append(errs, fe("meta.title", "required", "meta.title is required"))
		} else if t := strings.TrimSpace(*m.Meta.Title); t == "" || len(t) > 200 {
			errs = append(errs, fe("meta.title", "range", "meta.title must have 1 to 200 bytes"))
		} else {
			n.Meta.Title = t
		}
		n.Meta.Tags = []string{}
		if m.Meta.Tags != nil {
			seen := map[string]bool{}
			for _, tag := range *m.Meta.Tags {
				t := strings.ToLower(strings.TrimSpace(tag))
				if t == "" || len(t) > 32 {
					errs = append(errs, fe("meta.tags", "range", "a tag has 1 to 32 bytes"))
					break
				}
				if !seen[t] {
					seen[t] = true
					n.Meta.Tags = append(n.Meta.Tags, t)
				}
			}
			sort.Strings(n.Meta.Tags)
			if len(n.Meta.Tags) > 16 {
				errs = append(errs, fe("meta.tags", "range", "at most 16 tags"))
			}
		}
	}
	if m.Creator == nil || strings.TrimSpace(*m.Creator) == "" {
		errs = append(errs, fe("creator", "required", "creator (the payee of the creator's share) is required"))
	} else {
		n.Creator = strings.TrimSpace(*m.Creator)
	}
	if m.CreatorBPS != nil {
		if *m.CreatorBPS > 10000 {
			errs = append(errs, fe("creator_bps", "range", "creator_bps is 0 to 10000"))
		}
		n.CreatorBPS = *m.CreatorBPS
	}
	return n, errs
}

// RefValidate answers ron_validate.
func RefValidate(in []byte) (int32, []byte) {
	var req struct {
		Manifest *Manifest `json:"manifest"`
		Context  *struct {
			TLD         string `json:"tld"`
			PayloadSize uint64 `json:"payload_size"`
		} `json:"context"`
	}
	if err := decode(in, &req); err != nil {
		return Reject(fe("", "syntax", err.Error()))
	}
	if req.Manifest == nil {
		return Reject(fe("manifest", "required", "the manifest is required"))
	}
	if req.Context == nil {
		return Reject(fe("context", "required", "the context is required"))
	}
	n, errs := normalize(req.Manifest, req.Context.TLD)
	if len(errs) > 0 {
		return Reject(errs...)
	}
	out, _ := json.Marshal(struct {
		Manifest *normManifest `json:"manifest"`
		Index    any           `json:"index"`
	}{n, struct {
		Title string   `json:"title"`
		Tags  []string `json:"tags"`
	}{n.Meta.Title, n.Meta.Tags}})
	return 0, out
}

// Server is one server in a split's usage.
type Server struct {
	Node     string `json:"node"`
	Payout   string `json:"payout"`
	Requests uint64 `json:"requests"`
	Bytes    uint64 `json:"bytes"`
}

// Allocation is one payment.
type Allocation struct {
	Payee  string `json:"payee"`
	Role   string `json:"role"`
	Amount uint64 `json:"amount"`
}

const maxMoney = 1<<53 - 1

// mulDiv returns a*b/c without overflow (a*b/c must fit in 64 bits).
func mulDiv(a, b, c uint64) (q, r uint64) {
	hi, lo := bits.Mul64(a, b)
	return bits.Div64(hi, lo, c)
}

// RefSplit answers ron_split: the creator takes creator_bps of the amount,
// the servers share the rest by bytes served (largest remainder, ties by
// node), and the creator takes everything when no server served a byte.
func RefSplit(in []byte) (int32, []byte) {
	var req struct {
		Manifest *Manifest `json:"manifest"`
		Epoch    string    `json:"epoch"`
		Amount   *uint64   `json:"amount"`
		Usage    struct {
			Requests uint64   `json:"requests"`
			Bytes    uint64   `json:"bytes"`
			Servers  []Server `json:"servers"`
		} `json:"usage"`
	}
	if err := decode(in, &req); err != nil {
		return Reject(fe("", "syntax", err.Error()))
	}
	if req.Manifest == nil || req.Amount == nil || *req.Amount > maxMoney {
		return Reject(fe("", "invalid", "manifest and an amount of 0 to 2^53-1 are required"))
	}
	n, errs := normalize(req.Manifest, TLD)
	if len(errs) > 0 {
		return Reject(errs...)
	}
	amount := *req.Amount
	servers := append([]Server(nil), req.Usage.Servers...)
	sort.Slice(servers, func(i, j int) bool {
		a, b := servers[i], servers[j]
		if a.Node != b.Node {
			return a.Node < b.Node
		}
		if a.Payout != b.Payout {
			return a.Payout < b.Payout
		}
		return a.Bytes < b.Bytes
	})
	var total uint64
	for _, s := range servers {
		if s.Payout == "" {
			return Reject(fe("usage.servers", "required", "every server has a payout"))
		}
		var carry uint64
		total, carry = bits.Add64(total, s.Bytes, 0)
		if carry != 0 {
			return Reject(fe("usage.servers", "range", "bytes overflow"))
		}
	}
	paid := map[[2]string]uint64{}
	creator, _ := mulDiv(amount, n.CreatorBPS, 10000)
	rest := amount - creator
	if total == 0 {
		creator, rest = amount, 0
	}
	paid[[2]string{n.Creator, "creator"}] += creator
	if rest > 0 {
		type share struct {
			i   int
			rem uint64
		}
		shares := make([]share, len(servers))
		var given uint64
		for i, s := range servers {
			q, r := mulDiv(rest, s.Bytes, total)
			paid[[2]string{s.Payout, "server"}] += q
			given += q
			shares[i] = share{i, r}
		}
		sort.SliceStable(shares, func(a, b int) bool { return shares[a].rem > shares[b].rem })
		if KeepRemainder {
			for k := 0; given < rest; k++ {
				paid[[2]string{servers[shares[k%len(shares)].i].Payout, "server"}]++
				given++
			}
		}
	}
	allocs := []Allocation{}
	for k, v := range paid {
		if v > 0 {
			allocs = append(allocs, Allocation{Payee: k[0], Role: k[1], Amount: v})
		}
	}
	sort.Slice(allocs, func(i, j int) bool {
		if allocs[i].Payee != allocs[j].Payee {
			return allocs[i].Payee < allocs[j].Payee
		}
		return allocs[i].Role < allocs[j].Role
	})
	out, _ := json.Marshal(struct {
		Allocations []Allocation `json:"allocations"`
	}{allocs})
	return 0, out
}

// RefResolve answers ron_resolve: "/" serves the whole payload, "/magic"
// serves it only when it starts with "RON1" (read through object_read), and
// every other path is 404.
func RefResolve(in []byte) (int32, []byte) {
	var req struct {
		Manifest    *Manifest `json:"manifest"`
		Path        *string   `json:"path"`
		PayloadSize *uint64   `json:"payload_size"`
	}
	if err := decode(in, &req); err != nil {
		return Reject(fe("", "syntax", err.Error()))
	}
	if req.Manifest == nil || req.Path == nil || req.PayloadSize == nil {
		return Reject(fe("", "required", "manifest, path and payload_size are required"))
	}
	if _, errs := normalize(req.Manifest, TLD); len(errs) > 0 {
		return Reject(errs...)
	}
	type resolved struct {
		Status      int    `json:"status"`
		ContentType string `json:"content_type,omitempty"`
		Offset      uint64 `json:"offset,omitempty"`
		Length      uint64 `json:"length,omitempty"`
	}
	r := resolved{Status: 404}
	switch *req.Path {
	case "/":
		r = resolved{Status: 200, ContentType: "application/octet-stream", Length: *req.PayloadSize}
	case "/magic":
		head := make([]byte, 4)
		if *req.PayloadSize >= 4 && ReadObject(0, head) == 4 && string(head) == "RON1" {
			r = resolved{Status: 200, ContentType: "application/octet-stream", Offset: 4, Length: *req.PayloadSize - 4}
		}
	}
	out, _ := json.Marshal(r)
	return 0, out
}
