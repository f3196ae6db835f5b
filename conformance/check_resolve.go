package conformance

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ronhost/ronhost/internal/plugins"
)

// The resolve.* checks run only for a plugin whose describe lists the
// "resolve" feature: the host never calls ron_resolve otherwise.

func (s *suite) resolves() bool { return s.p.Info().HasFeature("resolve") }

// payload is a synthetic payload of any size: deterministic bytes that are
// not what the manifest describes, which a plugin must survive (a 404 or a
// rejection, never a fault).
type payload struct{ size uint64 }

func (p payload) ReadAt(b []byte, off int64) (int, error) {
	if off < 0 || uint64(off) >= p.size {
		return 0, errors.New("conformance: read past the payload")
	}
	n := len(b)
	if rest := p.size - uint64(off); uint64(n) > rest {
		n = int(rest)
	}
	for i := range n {
		x := uint64(off) + uint64(i)
		b[i] = byte((x * 0x9e3779b97f4a7c15) >> 56)
	}
	if n < len(b) {
		return n, errors.New("conformance: short read at the end of the payload")
	}
	return n, nil
}

var resolvePaths = []string{
	"/", "", "/index.html", "/0/0/0", "/12/2048/1361", "/../../etc/passwd", "//", "/a/./b/../c",
	"/%00", "/\u00e9t\u00e9", "/" + strings.Repeat("a", 2000), "/" + strings.Repeat("x/", 500),
}

func (s *suite) checkResolvePaths(ctx context.Context) outcome {
	if len(s.examples) == 0 {
		return failf("no example was accepted by ron_validate (see describe.examples), so there is nothing to resolve")
	}
	n, served := 0, 0
	for i, ex := range s.examples {
		if i == maxSplitManifests {
			break
		}
		for _, path := range resolvePaths {
			in := plugins.ResolveInput{Manifest: ex.normalized, Path: path, PayloadSize: ex.size}
			label := fmt.Sprintf("normalized examples[%d], path %q, a payload of %d bytes that is not the real one", i, path, ex.size)
			start := time.Now()
			r, err := s.p.Resolve(ctx, in, payload{ex.size})
			rec := callRecord{entry: plugins.EntryResolve, label: label, elapsed: time.Since(start), wall: true}
			rec.input, _ = jsonMarshal(in)
			var fe *plugins.FaultError
			if errors.As(err, &fe) {
				rec.fault = fe
			}
			if errors.Is(err, plugins.ErrWallClock) {
				s.stalls++
			}
			s.calls = append(s.calls, rec)
			if ctx.Err() != nil {
				return failf("%v", ctx.Err())
			}
			n++
			switch {
			case fe != nil:
				return failf("ron_resolve failed: %s; a path or payload it cannot serve gets {\"status\":404} or status 1, and a 200 range lies inside the payload\n  input (%s): %s",
					faultText(err), label, show(rec.input))
			case errors.Is(err, plugins.ErrRejected):
			case err != nil:
				return failf("ron_resolve: %v\n  input (%s): %s", err, label, show(rec.input))
			case r.Status == 200:
				served++
			}
		}
	}
	return passf("%d paths, %d served a range", n, served)
}

func (s *suite) checkResolveGarbage(ctx context.Context) outcome {
	var valid []byte
	if len(s.examples) > 0 {
		valid, _ = jsonMarshal(plugins.ResolveInput{Manifest: s.examples[0].normalized, Path: "/", PayloadSize: s.examples[0].size})
	}
	rp := func(label string, in []byte) probe {
		return probe{entry: plugins.EntryResolve, label: label, input: in, strict: true}
	}
	ps := []probe{
		rp("empty input", nil),
		rp("null", []byte("null")),
		rp("an array", []byte("[]")),
		rp("manifest 42", []byte(`{"manifest":42,"path":"/","payload_size":1}`)),
		rp("path 42", []byte(`{"manifest":{},"path":42,"payload_size":1}`)),
		rp("payload_size negative", []byte(`{"manifest":{},"path":"/","payload_size":-1}`)),
		rp("arrays nested 100000 deep", []byte(strings.Repeat("[", 100000)+strings.Repeat("]", 100000))),
		rp("invalid UTF-8 in the path", []byte("{\"manifest\":{},\"path\":\"/\xff\",\"payload_size\":1}")),
	}
	b := make([]byte, 4096)
	for i := range b {
		b[i] = byte(s.rng.Uint32())
	}
	ps = append(ps, rp("4096 random bytes", b))
	for _, cut := range []int{len(valid) / 3, len(valid) / 2, len(valid) - 1} {
		if cut > 0 {
			ps = append(ps, rp(fmt.Sprintf("a resolve input cut to %d of its %d bytes", cut, len(valid)), valid[:cut]))
		}
	}
	return s.expect(ctx, "garbage", ps)
}
