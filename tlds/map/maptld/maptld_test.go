package maptld_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/ronhost/ronhost/internal/tldtest"
	ron "github.com/ronhost/ronhost/sdk-wasm"
	"github.com/ronhost/ronhost/sdk-wasm/rontest"
	"github.com/ronhost/ronhost/tlds/map/maptld"
)

var ctx = context.Background()

func TestConformanceNative(t *testing.T) {
	rontest.CheckPlugin(t, rontest.New(maptld.New()))
}

// validate runs m through the fake host and returns the normalized [map]
// table as JSON, or the rejection as sorted "path:code" lines.
func validate(t *testing.T, m string) (string, []string) {
	return tldtest.ValidateNative(t, maptld.New(), "map", m, 4096)
}

func TestValidateNormalizes(t *testing.T) {
	h := rontest.New(maptld.New())
	out := rontest.CheckValidate(t, h, ron.MustManifest(maptld.Example), ron.Context{TLD: "map", PayloadSize: 5242880})
	want := `{"attribution":"© OpenStreetMap contributors, Lyon Cycling Collective","bounds":[4.7718,45.7073,4.8983,45.8082],` +
		`"center":[4.83505,45.75775,0],"creators":[{"name":"Lyon Cycling Collective","payout":"ron1lyoncycling","share":7000},` +
		`{"name":"Ada Mapper","payout":"ron1ada","share":3000}],"format":"pmtiles","license":"ODbL-1.0","maxzoom":16,"minzoom":0,` +
		`"scheme":"xyz","split":{"creators_bps":6900,"moderation_bps":500,"operators_bps":2500,"royalty_bps":100,"royalty_payout":"osmf.payout"}}`
	if got := string(out.Manifest.Raw("map")); got != want {
		t.Fatalf("\n got %s\nwant %s", got, want)
	}
	// The host's tables pass through untouched.
	if got := string(out.Manifest.Raw("meta")); got != `{"created":"2026-03-01T10:00:00Z","tags":["Cycling","lyon"],"title":"Lyon cycle network","tld":"map"}` {
		t.Fatalf("meta %s", got)
	}
	if out.Index.Title != "Lyon cycle network" || strings.Join(out.Index.Tags, ",") != "cycling,lyon,pmtiles" {
		t.Fatalf("index %+v", out.Index)
	}
}

func TestValidateAntimeridian(t *testing.T) {
	h := rontest.New(maptld.New())
	out := rontest.CheckValidate(t, h, ron.MustManifest(maptld.ExampleRaster), ron.Context{TLD: "map", PayloadSize: 80000})
	var n maptld.Normalized
	if err := json.Unmarshal(out.Manifest.Raw("map"), &n); err != nil {
		t.Fatal(err)
	}
	// West 176.8 to east -178.2 crosses 180: the middle is 179.3, not -0.7.
	if n.Center != [3]float64{179.3, -17.5, 0} {
		t.Fatalf("center %v", n.Center)
	}
	if n.Creators[0].Share != 10000 || n.Split.CreatorsBPS != 7400 || n.Split.RoyaltyPayout != maptld.DefaultRoyaltyPayout || n.MaxZoom != maptld.DefaultMaxZoom || n.Scheme != "xyz" {
		t.Fatalf("defaults %+v", n)
	}
	base := `{"meta":{"tld":"map"},"map":{"format":"png","license":"CC0-1.0","creators":[{"name":"A","payout":"ron1a"}],` +
		`"bounds":[170,-10,-170,10],"center":%s}}`
	for center, want := range map[string]string{
		"[175,0,3]":   "",                 // east of the west edge
		"[-175,0,3]":  "",                 // west of the east edge, across 180
		"[180,0,3]":   "",                 // on the antimeridian
		"[0,0,3]":     "map.center:range", // the other side of the world
		"[-169,0,3]":  "map.center:range",
		"[175,11,3]":  "map.center:range",
		"[175,0,3.5]": "map.center[2]:format",
		"[175,0,15]":  "map.center[2]:range",
		"[175,0]":     "map.center:format",
		"[181,0,3]":   "map.center:range",
	} {
		_, errs := validate(t, strings.Replace(base, "%s", center, 1))
		if got := strings.Join(errs, " "); got != want {
			t.Errorf("center %s: got %q, want %q", center, got, want)
		}
	}
	// The default center of a box across the antimeridian whose middle
	// falls west of 180 is written as a negative longitude.
	got, errs := validate(t, strings.Replace(strings.Replace(base, `,"center":%s`, "", 1), "[170,-10,-170,10]", "[178,-10,-170,10]", 1))
	if errs != nil || !strings.Contains(got, `"center":[-176,0,0]`) {
		t.Fatalf("got %s %v", got, errs)
	}
}

func TestValidateCanonicalNumbers(t *testing.T) {
	m := `{"meta":{"tld":"map"},"map":{"format":"MVT","license":"cc0-1.0","creators":[{"name":" A  B ","payout":"ron1a","share":10000}],` +
		`"bounds":[-0.0, -45.123456789, 1e-9, 45.00000004],"minzoom":3,"maxzoom":3,"scheme":"TMS"}}`
	got, errs := validate(t, m)
	if errs != nil {
		t.Fatal(errs)
	}
	want := `{"attribution":"","bounds":[0,-45.1234568,0,45],"center":[0,-0.0617284,3],"creators":[{"name":"A B","payout":"ron1a","share":10000}],` +
		`"format":"mvt","license":"CC0-1.0","maxzoom":3,"minzoom":3,"scheme":"tms","split":{"creators_bps":7400,"moderation_bps":500,"operators_bps":2000,"royalty_bps":100,"royalty_payout":"pool:open-source"}}`
	if got != want {
		t.Fatalf("\n got %s\nwant %s", got, want)
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	m := `{"meta":{"tld":"map"},"payload":{"cid":"b3:00","size":10,"media_type":"image/png"},"extra":{},"map":{
		"format":"pmtiles","bounds":[-181,10,20,5],"minzoom":30,"maxzoom":-1,"scheme":"google","attribution":"",
		"license":"CC-BY-4.0 OR", "creators":[{"name":"","payout":"Bad","share":0},{"name":"B","payout":"ron1b"}],
		"split":{"operators_bps":10001,"moderation_bps":50,"royalty_payout":"-x"}}}`
	_, errs := validate(t, m)
	want := []string{
		"extra:unknown",
		"map.bounds[0]:range",
		"map.creators[0].name:required", "map.creators[0].payout:format", "map.creators[0].share:range",
		"map.creators[1].share:required",
		"map.license:format",
		"map.maxzoom:range", "map.minzoom:range",
		"map.scheme:enum",
		"map.split.moderation_bps:range", "map.split.operators_bps:range", "map.split.royalty_payout:format",
		"payload.media_type:mismatch", "payload.size:range",
	}
	if strings.Join(errs, "\n") != strings.Join(want, "\n") {
		t.Fatalf("got\n%s\nwant\n%s", strings.Join(errs, "\n"), strings.Join(want, "\n"))
	}
}

func TestValidateErrors(t *testing.T) {
	const ok = `"license":"CC0-1.0","creators":[{"name":"A","payout":"ron1a"}]`
	for _, c := range []struct{ manifest, want string }{
		{`{"meta":{"tld":"mod"},"map":{"format":"png",` + ok + `}}`, "meta.tld:mismatch"},
		{`{"meta":{"tld":"map"}}`, "map:required"},
		{`{"meta":{"tld":"map"},"map":{"format":"png","zoom":3,` + ok + `}}`, "map.zoom:unknown"},
		{`{"meta":{"tld":"map"},"map":{"format":"png","minzoom":1.5,` + ok + `}}`, "map.minzoom:type"},
		{`{"meta":{"tld":"map"},"map":{"format":"png","minzoom":"3",` + ok + `}}`, "map.minzoom:type"},
		{`{"meta":{"tld":"map"},"map":{` + ok + `}}`, "map.format:required"},
		{`{"meta":{"tld":"map"},"map":{"format":"geojson",` + ok + `}}`, "map.format:enum"},
		{`{"meta":{"tld":"map"},"map":{"format":"png","minzoom":9,"maxzoom":8,` + ok + `}}`, "map.minzoom:order"},
		{`{"meta":{"tld":"map"},"map":{"format":"png","minzoom":0,"maxzoom":25,` + ok + `}}`, "map.maxzoom:range"},
		{`{"meta":{"tld":"map"},"map":{"format":"png","bounds":[0,1,2],` + ok + `}}`, "map.bounds:format"},
		{`{"meta":{"tld":"map"},"map":{"format":"png","bounds":[0,20,2,10],` + ok + `}}`, "map.bounds:order"},
		{`{"meta":{"tld":"map"},"map":{"format":"png","bounds":[0,-91,2,10],` + ok + `}}`, "map.bounds[1]:range"},
		{`{"meta":{"tld":"map"},"map":{"format":"png","bounds":[0,0,180.5,10],` + ok + `}}`, "map.bounds[2]:range"},
		{`{"meta":{"tld":"map"},"map":{"format":"png","license":"WTFPL","creators":[{"name":"A","payout":"ron1a"}]}}`, "map.license:license"},
		{`{"meta":{"tld":"map"},"map":{"format":"png","license":"(MIT OR CC0-1.0)","creators":[{"name":"A","payout":"ron1a"}]}}`, "map.license:format"},
		{`{"meta":{"tld":"map"},"map":{"format":"png","license":"MIT XOR CC0-1.0","creators":[{"name":"A","payout":"ron1a"}]}}`, "map.license:format"},
		{`{"meta":{"tld":"map"},"map":{"format":"png","creators":[{"name":"A","payout":"ron1a"}]}}`, "map.license:required"},
		{`{"meta":{"tld":"map"},"map":{"format":"png","license":"ODbL-1.0","creators":[{"name":"A","payout":"ron1a"}]}}`, "map.attribution:required"},
		{`{"meta":{"tld":"map"},"map":{"format":"png","license":"CC0-1.0","attribution":"a\u0000b","creators":[{"name":"A","payout":"ron1a"}]}}`, "map.attribution:format"},
		{`{"meta":{"tld":"map"},"map":{"format":"png","license":"CC0-1.0","creators":[]}}`, "map.creators:required"},
		{`{"meta":{"tld":"map"},"map":{"format":"png","license":"CC0-1.0"}}`, "map.creators:required"},
		{`{"meta":{"tld":"map"},"map":{"format":"png","license":"CC0-1.0","creators":[{"name":"A","payout":"ron1a","share":6000},{"name":"B","payout":"ron1b","share":3000}]}}`, "map.creators:sum"},
		{`{"meta":{"tld":"map"},"map":{"format":"png","license":"CC0-1.0","creators":[{"name":"A","payout":"ron1a","share":5000},{"name":"B","payout":"ron1a","share":5000}]}}`, "map.creators[1].payout:duplicate"},
		{`{"meta":{"tld":"map"},"map":{"format":"png","license":"CC0-1.0","creators":[{"name":"A","payout":" "}]}}`, "map.creators[0].payout:required"},
		{`{"meta":{"tld":"map"},"map":{"format":"png","license":"CC0-1.0","creators":[{"name":"A","payout":"ron1a","share":-1}]}}`, "map.creators[0].share:type"},
		{`{"meta":{"tld":"map"},"map":{"format":"png","split":{"creators_bps":7000},` + ok + `}}`, "map.split:sum"},
		{`{"meta":{"tld":"map"},"map":{"format":"png","split":{"operators_bps":9500},` + ok + `}}`, "map.split:sum"},
		{`{"meta":{"tld":"map"},"map":{"format":"png","split":{"treasury_bps":5},` + ok + `}}`, "map.split.treasury_bps:unknown"},
		{`{"meta":{"tld":"map"},"payload":{"cid":"b3:00","size":"12"},"map":{"format":"png",` + ok + `}}`, "payload.size:type"},
		{`{"meta":{"tld":"map","title":7},"map":{"format":"png",` + ok + `}}`, "meta.title:type"},
	} {
		_, errs := validate(t, c.manifest)
		if got := strings.Join(errs, " "); got != c.want {
			t.Errorf("%s\n got %q\nwant %q", c.manifest, got, c.want)
		}
	}
	// The address's TLD must be .map too.
	_, err := rontest.New(maptld.New()).Validate(ctx, ron.MustManifest(maptld.ExampleRaster), ron.Context{TLD: "ai"})
	if r, ok := ron.AsRejection(err); !ok || r.Errors[0].Path != "meta.tld" || r.Errors[0].Code != maptld.CodeMismatch {
		t.Fatalf("context tld ai: %v", err)
	}
}

func TestLicenses(t *testing.T) {
	for in, want := range map[string]string{
		"odbl-1.0":                      "ODbL-1.0",
		" cc-by-sa-4.0   or  odbl-1.0 ": "CC-BY-SA-4.0 OR ODbL-1.0",
		"MIT and Apache-2.0":            "MIT AND Apache-2.0",
		"licenseref-City-Of-Lyon.2":     "LicenseRef-City-Of-Lyon.2",
		"CC0-1.0 OR LicenseRef-x":       "CC0-1.0 OR LicenseRef-x",
		"ETALAB-2.0":                    "etalab-2.0",
	} {
		m := `{"meta":{"tld":"map"},"map":{"format":"png","attribution":"x","license":` + jsonString(in) + `,"creators":[{"name":"A","payout":"ron1a"}]}}`
		got, errs := validate(t, m)
		var n maptld.Normalized
		if errs != nil || json.Unmarshal([]byte(got), &n) != nil || n.License != want {
			t.Errorf("%q: got %q %v, want %q", in, n.License, errs, want)
		}
	}
	for _, in := range []string{"LicenseRef-", "LicenseRef-a b", "MIT WITH Classpath-exception-2.0", "AND", "MIT AND"} {
		m := `{"meta":{"tld":"map"},"map":{"format":"png","attribution":"x","license":` + jsonString(in) + `,"creators":[{"name":"A","payout":"ron1a"}]}}`
		if _, errs := validate(t, m); len(errs) != 1 || !strings.HasPrefix(errs[0], "map.license:") {
			t.Errorf("%q: got %v, want a map.license error", in, errs)
		}
	}
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
