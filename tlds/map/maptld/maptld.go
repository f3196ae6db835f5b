package maptld

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"

	ron "github.com/ronhost/ronhost/sdk-wasm"
)

// TLD is the namespace this plugin owns.
const TLD = "map"

// Version is the plugin's version (describe).
const Version = "1.0.0"

// Roles the split pays.
const (
	RoleCreator    = "creator"    // the data creators, by their shares
	RoleOperator   = "operator"   // the nodes that served the bytes, pro rata by bytes
	RoleModeration = "moderation" // the moderation pool
	RoleRoyalty    = "royalty"    // the open-source royalty
)

// Tile formats ([map] format).
const (
	FormatPMTiles = "pmtiles"
	FormatMVT     = "mvt"
	FormatPNG     = "png"
	FormatWebP    = "webp"
	FormatJPG     = "jpg"
)

// Tile schemes ([map] scheme).
const (
	SchemeXYZ = "xyz" // y grows southwards (the web's slippy map tiles)
	SchemeTMS = "tms" // y grows northwards
)

// Limits and defaults of the [map] table.
const (
	MaxZoom            = 24
	DefaultMinZoom     = 0
	DefaultMaxZoom     = 14
	MaxCreators        = 32
	MaxNameRunes       = 200
	MaxAttribution     = 1000 // characters
	MaxLicenseBytes    = ron.MaxLicenseBytes
	DefaultOperatorBPS = 2000
	DefaultModeration  = 500
	MinModerationBPS   = 100
	DefaultRoyaltyBPS  = 100
	// MercatorLat is the latitude where Web Mercator tiles end, rounded to
	// the 7 decimals coordinates keep: the default bounds are the whole
	// tiled world.
	MercatorLat = 85.0511288
	// ModerationPool is the payee of the moderation part; a manifest
	// cannot redirect it.
	ModerationPool = "pool:moderation"
	// DefaultRoyaltyPayout is the payee of the open-source royalty unless
	// [map.split] royalty_payout names another.
	DefaultRoyaltyPayout = "pool:open-source"
	// MinPMTilesBytes is the smallest PMTiles archive (its header).
	MinPMTilesBytes = 127
)

// Error codes beyond the SDK's (see the README's table).
const (
	CodeMismatch = "mismatch"      // a value contradicts another one (meta.tld, payload.media_type)
	CodeEnum     = "enum"          // a value outside a documented vocabulary
	CodeOrder    = "order"         // a minimum above its maximum
	CodeSum      = ron.CodeSum     // basis points that do not total 10000
	CodeLicense  = ron.CodeLicense // a license identifier that is not a known SPDX id
	CodePMTiles  = "pmtiles"       // (resolve) the payload is not a readable PMTiles v3 archive
)

// Table is the [map] table as a manifest may write it: optional keys are
// pointers or nil slices so that defaults can be told from values.
type Table struct {
	Format      string      `json:"format"`
	Bounds      []float64   `json:"bounds"`
	Center      []float64   `json:"center"`
	MinZoom     *int64      `json:"minzoom"`
	MaxZoom     *int64      `json:"maxzoom"`
	Scheme      string      `json:"scheme"`
	Attribution string      `json:"attribution"`
	License     string      `json:"license"`
	Creators    []Creator   `json:"creators"`
	Split       *SplitTable `json:"split"`
}

// rawTable is Table with the nested tables left undecoded, so that their
// errors can be reported at their full paths.
type rawTable struct {
	Format      string            `json:"format"`
	Bounds      []float64         `json:"bounds"`
	Center      []float64         `json:"center"`
	MinZoom     *int64            `json:"minzoom"`
	MaxZoom     *int64            `json:"maxzoom"`
	Scheme      string            `json:"scheme"`
	Attribution string            `json:"attribution"`
	License     string            `json:"license"`
	Creators    []json.RawMessage `json:"creators"`
	Split       json.RawMessage   `json:"split"`
}

// decodeTable decodes the [map] table strictly. Errors are a *ron.Rejection
// with full paths ("map.creators[1].share", "map.split.royalty_bps").
func decodeTable(m *ron.Manifest) (Table, error) {
	// One strict pass decodes a well-formed table; only a table with a
	// problem is decoded again piece by piece to locate it.
	var t Table
	if m.Table(TLD, &t) == nil {
		return t, nil
	}
	var raw rawTable
	if err := m.Table(TLD, &raw); err != nil {
		return Table{}, err
	}
	t = Table{
		Format: raw.Format, Bounds: raw.Bounds, Center: raw.Center, MinZoom: raw.MinZoom, MaxZoom: raw.MaxZoom,
		Scheme: raw.Scheme, Attribution: raw.Attribution, License: raw.License,
	}
	var errs ron.Errors
	if raw.Creators != nil {
		t.Creators = make([]Creator, len(raw.Creators))
		for i, c := range raw.Creators {
			errs.AddErr("map.creators", decodeSub(fmt.Sprintf("map.creators[%d]", i), c, &t.Creators[i]))
		}
	}
	if raw.Split != nil {
		t.Split = &SplitTable{}
		errs.AddErr("map.split", decodeSub("map.split", raw.Split, t.Split))
	}
	return t, errs.Err()
}

// decodeSub decodes the JSON value raw into v strictly, as the SDK decodes
// a manifest's table, with errors at path.
func decodeSub(path string, raw json.RawMessage, v any) error {
	key, _ := json.Marshal(path)
	doc, err := ron.ParseManifest([]byte("{" + string(key) + ":" + string(raw) + "}"))
	if err != nil {
		return ron.Reject(path, ron.CodeSyntax, err.Error())
	}
	return doc.Table(path, v)
}

// Creator is one entry of [[map.creators]].
type Creator struct {
	Name   string  `json:"name"`
	Payout string  `json:"payout"`
	Share  *uint64 `json:"share"` // basis points; may be left out when there is one creator
}

// SplitTable is [map.split]: how each payment is divided, in basis points
// that total exactly 10000.
type SplitTable struct {
	CreatorsBPS   *uint64 `json:"creators_bps"`
	OperatorsBPS  *uint64 `json:"operators_bps"`
	ModerationBPS *uint64 `json:"moderation_bps"`
	RoyaltyBPS    *uint64 `json:"royalty_bps"`
	RoyaltyPayout *string `json:"royalty_payout"`
}

// Normalized is the [map] table validate writes back: every key present.
type Normalized struct {
	Format      string         `json:"format"`
	Bounds      [4]float64     `json:"bounds"` // west, south, east, north
	Center      [3]float64     `json:"center"` // longitude, latitude, zoom
	MinZoom     int64          `json:"minzoom"`
	MaxZoom     int64          `json:"maxzoom"`
	Scheme      string         `json:"scheme"`
	Attribution string         `json:"attribution"`
	License     string         `json:"license"`
	Creators    []NormCreator  `json:"creators"`
	Split       NormSplitTable `json:"split"`
}

// NormCreator is a normalized creator.
type NormCreator struct {
	Name   string `json:"name"`
	Payout string `json:"payout"`
	Share  uint64 `json:"share"`
}

// NormSplitTable is a normalized [map.split].
type NormSplitTable struct {
	CreatorsBPS   uint64 `json:"creators_bps"`
	OperatorsBPS  uint64 `json:"operators_bps"`
	ModerationBPS uint64 `json:"moderation_bps"`
	RoyaltyBPS    uint64 `json:"royalty_bps"`
	RoyaltyPayout string `json:"royalty_payout"`
}

// Plugin is the .map plugin. Its zero value is ready to use.
type Plugin struct{}

// New returns the plugin.
func New() Plugin { return Plugin{} }

var _ ron.Resolver = Plugin{}

// Example is the first manifest describe offers: a vector tile set in a
// PMTiles archive with two creators.
const Example = `{
  "meta": {"tld": "map", "title": "Lyon cycle network", "created": "2026-03-01T10:00:00Z", "tags": ["Cycling", "lyon"]},
  "payload": {"cid": "b3:5f0e3c7a1d9b24e68c0a4f2d7e91b3c5a8d6f40e2b7c19a3d5e8f0b2c4a6d8e1", "size": 5242880, "media_type": "application/vnd.pmtiles"},
  "map": {
    "format": "PMTiles",
    "bounds": [4.7718, 45.7073, 4.8983, 45.8082],
    "maxzoom": 16,
    "attribution": "© OpenStreetMap contributors,  Lyon Cycling Collective",
    "license": "odbl-1.0",
    "creators": [
      {"name": "Lyon Cycling Collective", "payout": "ron1lyoncycling", "share": 7000},
      {"name": "Ada Mapper", "payout": "ron1ada", "share": 3000}
    ],
    "split": {"operators_bps": 2500, "royalty_payout": "osmf.payout"}
  }
}`

// ExampleRaster is the second: one PNG image of islands astride the
// antimeridian (west > east), one creator, every default.
const ExampleRaster = `{
  "meta": {"tld": "map", "title": "Fiji relief"},
  "payload": {"cid": "b3:0c3a5e7f9b1d2f4a6c8e0b2d4f6a8c0e2b4d6f8a0c2e4b6d8f0a2c4e6b8d0f2a", "size": 80000, "media_type": "image/png"},
  "map": {
    "format": "png",
    "bounds": [176.8, -19.3, -178.2, -15.7],
    "license": "CC0-1.0",
    "creators": [{"name": "Reef Survey", "payout": "ron1reef"}]
  }
}`

// Describe implements ron.Plugin.
func (Plugin) Describe(ron.HostInfo) ron.Description {
	return ron.Description{
		TLD:      TLD,
		Name:     "Maps",
		Version:  Version,
		Summary:  "Map datasets and tile sets; /{z}/{x}/{y} serves tiles straight out of a PMTiles archive.",
		Roles:    []string{RoleCreator, RoleOperator, RoleModeration, RoleRoyalty},
		Examples: []*ron.Manifest{ron.MustManifest(Example), ron.MustManifest(ExampleRaster)},
	}
}

// formats maps accepted spellings (lowercased) to the canonical format.
var formats = map[string]string{
	"pmtiles": FormatPMTiles, "mvt": FormatMVT, "pbf": FormatMVT, "png": FormatPNG,
	"webp": FormatWebP, "jpg": FormatJPG, "jpeg": FormatJPG,
}

// mediaTypes lists the payload media types each format accepts (besides
// application/octet-stream, which any accepts).
var mediaTypes = map[string][]string{
	FormatPMTiles: {"application/vnd.pmtiles"},
	FormatMVT:     {"application/vnd.mapbox-vector-tile", "application/x-protobuf"},
	FormatPNG:     {"image/png"},
	FormatWebP:    {"image/webp"},
	FormatJPG:     {"image/jpeg"},
}

// Validate implements ron.Plugin: it checks the host's tables as far as the
// plugin relies on them and the whole [map] table, reports every problem,
// and writes the normalized table back.
func (Plugin) Validate(in ron.ValidateInput) (ron.ValidateOutput, error) {
	var errs ron.Errors
	meta, err := in.Manifest.Meta()
	if err != nil {
		return ron.ValidateOutput{}, err
	}
	if meta.TLD != TLD {
		errs.Addf("meta.tld", CodeMismatch, "the manifest is for .%s, this plugin owns .%s", meta.TLD, TLD)
	} else if in.Context.TLD != "" && in.Context.TLD != TLD {
		errs.Addf("meta.tld", CodeMismatch, "the manifest is for .%s but the address is .%s", meta.TLD, in.Context.TLD)
	}
	for _, name := range in.Manifest.Names() {
		if name != ron.TableMeta && name != ron.TablePayload && name != TLD {
			errs.Addf(name, ron.CodeUnknown, "unknown table [%s]; a .map manifest has [meta], [payload] and [map]", name)
		}
	}
	var payload *ron.Payload
	if in.Manifest.Has(ron.TablePayload) {
		p, err := in.Manifest.Payload()
		if err != nil {
			errs.AddErr("payload", err)
		} else {
			payload = &p
		}
	}
	t, err := decodeTable(in.Manifest)
	if err != nil {
		errs.AddErr(TLD, err)
		return ron.ValidateOutput{}, errs.Err()
	}
	norm := normalize(t, &errs)
	if payload != nil && norm.Format != "" {
		checkPayload(norm.Format, *payload, &errs)
	}
	if err := errs.Err(); err != nil {
		return ron.ValidateOutput{}, err
	}
	out := in.Manifest.Clone()
	if err := out.Set(TLD, norm); err != nil {
		return ron.ValidateOutput{}, err
	}
	return ron.ValidateOutput{Manifest: out, Index: index(meta, norm)}, nil
}

// checkPayload checks the payload against the format.
func checkPayload(format string, p ron.Payload, errs *ron.Errors) {
	if mt := baseMediaType(p.MediaType); mt != "" && mt != "application/octet-stream" {
		ok := false
		for _, want := range mediaTypes[format] {
			ok = ok || mt == want
		}
		if !ok {
			errs.Addf("payload.media_type", CodeMismatch, "a %s payload is %s (or application/octet-stream), not %q", format, strings.Join(mediaTypes[format], " or "), p.MediaType)
		}
	}
	if format == FormatPMTiles && p.Size < MinPMTilesBytes {
		errs.Addf("payload.size", ron.CodeRange, "a PMTiles archive has at least %d bytes, the payload has %d", MinPMTilesBytes, p.Size)
	}
}

// baseMediaType is the lowercase type/subtype of a media type, without
// parameters.
func baseMediaType(s string) string {
	if i := strings.IndexByte(s, ';'); i >= 0 {
		s = s[:i]
	}
	return strings.ToLower(strings.TrimSpace(s))
}

// index is what the node indexes: the title and the tags of [meta],
// lowercased, plus the format.
func index(meta ron.Meta, n Normalized) ron.Index {
	seen := map[string]bool{n.Format: true}
	tags := []string{n.Format}
	for _, tag := range meta.Tags {
		tag = strings.ToLower(cleanText(tag))
		if tag != "" && !seen[tag] && len(tags) < 32 {
			seen[tag] = true
			tags = append(tags, tag)
		}
	}
	sort.Strings(tags)
	return ron.Index{Title: cleanText(meta.Title), Tags: tags}
}

// normalize checks t, recording problems in errs, and returns it with every
// default written out. When errs holds anything the result is unusable.
func normalize(t Table, errs *ron.Errors) Normalized {
	var n Normalized

	f := strings.ToLower(strings.TrimSpace(t.Format))
	switch canon, ok := formats[f]; {
	case f == "":
		errs.Add("map.format", ron.CodeRequired, "a format is required: pmtiles, mvt, png, webp or jpg")
	case !ok:
		errs.Addf("map.format", CodeEnum, "format %q is not pmtiles, mvt, png, webp or jpg", t.Format)
	default:
		n.Format = canon
	}

	n.MinZoom, n.MaxZoom = DefaultMinZoom, DefaultMaxZoom
	if t.MinZoom != nil {
		n.MinZoom = *t.MinZoom
	}
	if t.MaxZoom != nil {
		n.MaxZoom = *t.MaxZoom
	}
	zoomsOK := true
	for _, z := range []struct {
		path string
		v    int64
	}{{"map.minzoom", n.MinZoom}, {"map.maxzoom", n.MaxZoom}} {
		if z.v < 0 || z.v > MaxZoom {
			errs.Addf(z.path, ron.CodeRange, "zoom %d is not 0..%d", z.v, MaxZoom)
			zoomsOK = false
		}
	}
	if zoomsOK && n.MinZoom > n.MaxZoom {
		errs.Addf("map.minzoom", CodeOrder, "minzoom %d is above maxzoom %d", n.MinZoom, n.MaxZoom)
		zoomsOK = false
	}

	boundsOK := normalizeBounds(t.Bounds, &n, errs)
	normalizeCenter(t.Center, &n, boundsOK, zoomsOK, errs)

	s := strings.ToLower(strings.TrimSpace(t.Scheme))
	switch s {
	case "":
		n.Scheme = SchemeXYZ
	case SchemeXYZ, SchemeTMS:
		n.Scheme = s
	default:
		errs.Addf("map.scheme", CodeEnum, "scheme %q is not xyz or tms", t.Scheme)
	}

	n.Attribution = cleanText(t.Attribution)
	if c := utf8.RuneCountInString(n.Attribution); c > MaxAttribution {
		errs.Addf("map.attribution", ron.CodeRange, "the attribution has %d characters, at most %d", c, MaxAttribution)
	} else if hasControl(n.Attribution) {
		errs.Add("map.attribution", ron.CodeFormat, "the attribution has a control character")
	}
	lic, needsAttribution, fe := normalizeLicense(t.License)
	if fe != nil {
		errs.Add("map.license", fe.Code, fe.Message)
	} else {
		n.License = lic
		if needsAttribution && n.Attribution == "" {
			errs.Addf("map.attribution", ron.CodeRequired, "license %s requires an attribution", lic)
		}
	}

	n.Creators = normalizeCreators(t.Creators, errs)
	n.Split = normalizeSplit(t.Split, errs)
	return n
}

// canonDeg rounds degrees to 7 decimals (about 1 cm), the precision of a
// PMTiles header, with -0 written as 0.
func canonDeg(x float64) float64 {
	r := math.Round(x*1e7) / 1e7
	if r == 0 {
		return 0
	}
	return r
}

func normalizeBounds(b []float64, n *Normalized, errs *ron.Errors) bool {
	if b == nil {
		n.Bounds = [4]float64{-180, -MercatorLat, 180, MercatorLat}
		return true
	}
	if len(b) != 4 {
		errs.Addf("map.bounds", ron.CodeFormat, "bounds are [west, south, east, north], not %d numbers", len(b))
		return false
	}
	ok := true
	for i, v := range b {
		limit := 180.0
		if i%2 == 1 {
			limit = 90
		}
		if v < -limit || v > limit {
			errs.Addf(fmt.Sprintf("map.bounds[%d]", i), ron.CodeRange, "%v is not in [-%v, %v]", v, limit, limit)
			ok = false
		}
		n.Bounds[i] = canonDeg(v)
	}
	if ok && n.Bounds[1] > n.Bounds[3] {
		errs.Addf("map.bounds", CodeOrder, "south %v is north of north %v", b[1], b[3])
		ok = false
	}
	return ok
}

// crossesAntimeridian reports whether bounds go east across 180°.
func crossesAntimeridian(b [4]float64) bool { return b[0] > b[2] }

func normalizeCenter(c []float64, n *Normalized, boundsOK, zoomsOK bool, errs *ron.Errors) {
	b := n.Bounds
	if c == nil {
		if !boundsOK {
			return
		}
		lon := (b[0] + b[2]) / 2
		if crossesAntimeridian(b) {
			lon = b[0] + (b[2]+360-b[0])/2
			if lon > 180 {
				lon -= 360
			}
		}
		n.Center = [3]float64{canonDeg(lon), canonDeg((b[1] + b[3]) / 2), float64(n.MinZoom)}
		return
	}
	if len(c) != 3 {
		errs.Addf("map.center", ron.CodeFormat, "the center is [longitude, latitude, zoom], not %d numbers", len(c))
		return
	}
	lon, lat, z := canonDeg(c[0]), canonDeg(c[1]), c[2]
	if z != math.Trunc(z) {
		errs.Addf("map.center[2]", ron.CodeFormat, "the center's zoom %v is not an integer", z)
		return
	}
	n.Center = [3]float64{lon, lat, z}
	if !boundsOK || !zoomsOK {
		return
	}
	inLon := b[0] <= lon && lon <= b[2]
	if crossesAntimeridian(b) {
		inLon = lon >= b[0] || lon <= b[2]
	}
	if !inLon || lat < b[1] || lat > b[3] || math.Abs(c[0]) > 180 {
		errs.Addf("map.center", ron.CodeRange, "the center %v, %v is outside the bounds", c[0], c[1])
	}
	if z < float64(n.MinZoom) || z > float64(n.MaxZoom) {
		errs.Addf("map.center[2]", ron.CodeRange, "the center's zoom %v is outside %d..%d", z, n.MinZoom, n.MaxZoom)
	}
}

func normalizeCreators(cs []Creator, errs *ron.Errors) []NormCreator {
	switch {
	case len(cs) == 0:
		errs.Add("map.creators", ron.CodeRequired, "a map needs at least one creator")
		return []NormCreator{}
	case len(cs) > MaxCreators:
		errs.Addf("map.creators", ron.CodeRange, "%d creators, at most %d", len(cs), MaxCreators)
		return []NormCreator{}
	}
	out := make([]NormCreator, len(cs))
	payouts := map[string]int{}
	declared := make([]*uint64, len(cs))
	for i, c := range cs {
		declared[i] = c.Share
	}
	shares := ron.CheckShares("map.creators", "creators", declared, errs)
	for i, c := range cs {
		path := fmt.Sprintf("map.creators[%d]", i)
		nc := NormCreator{Name: cleanText(c.Name), Payout: strings.TrimSpace(c.Payout)}
		switch r := utf8.RuneCountInString(nc.Name); {
		case hasControl(nc.Name):
			errs.Add(path+".name", ron.CodeFormat, "the name has a control character")
		case r == 0:
			errs.Add(path+".name", ron.CodeRequired, "a creator needs a name")
		case r > MaxNameRunes:
			errs.Addf(path+".name", ron.CodeRange, "the name has %d characters, at most %d", r, MaxNameRunes)
		}
		switch j, dup := payouts[nc.Payout]; {
		case nc.Payout == "":
			errs.Add(path+".payout", ron.CodeRequired, "a creator needs a payout address")
		case !ron.ValidPayout(nc.Payout):
			errs.Addf(path+".payout", ron.CodeFormat, "%q is not a payout address ([a-z0-9][a-z0-9:._-]{2,127})", nc.Payout)
		case dup:
			errs.Addf(path+".payout", ron.CodeDuplicate, "creator %d already has payout %q", j, nc.Payout)
		default:
			payouts[nc.Payout] = i
		}
		nc.Share = shares[i]
		out[i] = nc
	}
	return out
}

func normalizeSplit(st *SplitTable, errs *ron.Errors) NormSplitTable {
	if st == nil {
		st = &SplitTable{}
	}
	bps := ron.CheckSplitParts("map.split", []ron.SplitPart{
		{Name: "creators", Path: "map.split.creators_bps", Declared: st.CreatorsBPS},
		{Name: "operators", Path: "map.split.operators_bps", Declared: st.OperatorsBPS, Default: DefaultOperatorBPS},
		{Name: "moderation", Path: "map.split.moderation_bps", Declared: st.ModerationBPS, Default: DefaultModeration},
		{Name: "royalty", Path: "map.split.royalty_bps", Declared: st.RoyaltyBPS, Default: DefaultRoyaltyBPS},
	}, errs)
	n := NormSplitTable{CreatorsBPS: bps[0], OperatorsBPS: bps[1], ModerationBPS: bps[2], RoyaltyBPS: bps[3], RoyaltyPayout: DefaultRoyaltyPayout}
	if n.ModerationBPS < MinModerationBPS {
		errs.Addf("map.split.moderation_bps", ron.CodeRange, "the moderation pool takes at least %d basis points, not %d", MinModerationBPS, n.ModerationBPS)
	}
	if st.RoyaltyPayout != nil {
		n.RoyaltyPayout = strings.TrimSpace(*st.RoyaltyPayout)
		if !ron.ValidPayout(n.RoyaltyPayout) {
			errs.Addf("map.split.royalty_payout", ron.CodeFormat, "%q is not a payout address ([a-z0-9][a-z0-9:._-]{2,127})", n.RoyaltyPayout)
		}
	}
	return n
}

// hasControl reports whether s has a control character (cleanText has
// already turned white space into single spaces).
func hasControl(s string) bool { return strings.ContainsFunc(s, unicode.IsControl) }

// cleanText trims s and collapses runs of white space to one space.
func cleanText(s string) string {
	return strings.Join(strings.FieldsFunc(s, unicode.IsSpace), " ")
}
