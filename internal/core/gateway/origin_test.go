package gateway

import (
	"errors"
	"strings"
	"testing"

	"github.com/ronhost/ronhost/internal/core/cid"
)

func TestClassify(t *testing.T) {
	h, err := NewHosts([]string{"gw.example.org", "Example.org."}, []string{"nas.lan"})
	if err != nil {
		t.Fatal(err)
	}
	c := cid.Sum([]byte("an address"))
	l := c.Label()
	for _, tc := range []struct {
		host string
		want Origin
		err  error
	}{
		{"", Origin{Kind: OriginNode}, nil},
		{"127.0.0.1", Origin{Kind: OriginNode}, nil},
		{"127.0.0.1:8470", Origin{Kind: OriginNode}, nil},
		{"[::1]:8470", Origin{Kind: OriginNode}, nil},
		{"[::1]", Origin{Kind: OriginNode}, nil},
		{"nas.lan:8470", Origin{Kind: OriginNode}, nil},
		{"localhost:8470", Origin{Kind: OriginNode, Domain: "localhost"}, nil},
		{"LocalHost.", Origin{Kind: OriginNode, Domain: "localhost"}, nil},
		{"gw.example.org", Origin{Kind: OriginNode, Domain: "gw.example.org"}, nil},
		{"example.org:443", Origin{Kind: OriginNode, Domain: "example.org"}, nil},
		{l + ".map.localhost:8470", Origin{Kind: OriginContent, Domain: "localhost", Hash: c, TLD: "map"}, nil},
		{strings.ToUpper(l) + ".MAP.LOCALHOST", Origin{Kind: OriginContent, Domain: "localhost", Hash: c, TLD: "map"}, nil},
		{l + ".localhost", Origin{Kind: OriginContent, Domain: "localhost", Hash: c}, nil},
		// The longest domain wins: gw.example.org, not example.org with TLD "gw".
		{l + ".ai.gw.example.org", Origin{Kind: OriginContent, Domain: "gw.example.org", Hash: c, TLD: "ai"}, nil},
		{l + ".gw.example.org", Origin{Kind: OriginContent, Domain: "gw.example.org", Hash: c}, nil},
		{l + ".my-tld.example.org", Origin{Kind: OriginContent, Domain: "example.org", Hash: c, TLD: "my-tld"}, nil},
		{"app.localhost", Origin{}, cid.ErrInvalidCID},
		{c.Hex() + ".map.localhost", Origin{}, cid.ErrInvalidCID},
		{l[:51] + "b.map.localhost", Origin{}, cid.ErrInvalidCID},
		{l + ".b_d.localhost", Origin{}, cid.ErrInvalidAddress},
		{"www." + l + ".map.localhost", Origin{}, ErrMisdirected},
		{"evil.example", Origin{}, ErrMisdirected},
		{"localhost.evil.example", Origin{}, ErrMisdirected},
		{"xlocalhost", Origin{}, ErrMisdirected},
		{"sub.nas.lan", Origin{}, ErrMisdirected},
		{"10.0.0.1.localhost", Origin{}, ErrMisdirected},
		{"localhost:http", Origin{}, ErrMisdirected},
		{"[::1", Origin{}, ErrMisdirected},
		{"[zz]:80", Origin{}, ErrMisdirected},
		{"[::ffff:1.2.3.4]x", Origin{}, ErrMisdirected},
	} {
		got, err := h.Classify(tc.host)
		if tc.err != nil {
			if !errors.Is(err, tc.err) {
				t.Errorf("Classify(%q) = %+v, %v; want %v", tc.host, got, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("Classify(%q) = %+v, %v; want %+v", tc.host, got, err, tc.want)
		}
	}
	// A nil table knows localhost only.
	var none *Hosts
	if o, err := none.Classify(l + ".map.localhost"); err != nil || o.Kind != OriginContent {
		t.Fatalf("nil Hosts: %+v %v", o, err)
	}
	if _, err := none.Classify("gw.example.org"); !errors.Is(err, ErrMisdirected) {
		t.Fatalf("nil Hosts served gw.example.org: %v", err)
	}
}

func TestNewHostsRefuses(t *testing.T) {
	for _, tc := range []struct{ domains, paths []string }{
		{[]string{"1.2.3.4"}, nil},
		{[]string{"gw.example.org:8080"}, nil},
		{[]string{"https://gw.example.org"}, nil},
		{[]string{"-bad.example"}, nil},
		{[]string{""}, nil},
		{[]string{strings.Repeat("a", 60) + "." + strings.Repeat("b", 60) + "." + strings.Repeat("c", 60)}, nil},
		{nil, []string{"::1"}},
		{[]string{"gw.example"}, []string{"GW.example"}},
	} {
		if _, err := NewHosts(tc.domains, tc.paths); err == nil {
			t.Errorf("NewHosts(%q, %q) accepted", tc.domains, tc.paths)
		}
	}
}

func FuzzClassify(f *testing.F) {
	h, _ := NewHosts([]string{"gw.example"}, []string{"nas.lan"})
	l := cid.Sum(nil).Label()
	for _, s := range []string{"", "localhost:1", l + ".map.localhost", "[::1]:80", "evil", l + ".gw.example"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, host string) {
		o, err := h.Classify(host)
		if err != nil {
			if o != (Origin{}) {
				t.Fatalf("an error with an origin: %+v", o)
			}
			return
		}
		switch o.Kind {
		case OriginContent:
			// A content origin's host is exactly its canonical name.
			want := o.Hash.Label() + "."
			if o.TLD != "" {
				want += o.TLD + "."
			}
			want += o.Domain
			if name, _ := hostName(host); name != want {
				t.Fatalf("%q classified as the content origin %q", host, want)
			}
		case OriginNode:
		default:
			t.Fatalf("kind %d without an error", o.Kind)
		}
	})
}
