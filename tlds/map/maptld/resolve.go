package maptld

import (
	"errors"
	"strings"

	ron "github.com/ronhost/ronhost/sdk-wasm"
	"github.com/ronhost/ronhost/tlds/map/internal/pmtiles"
)

// Content types of what resolve serves.
const (
	ContentTypePMTiles = "application/vnd.pmtiles"
	ContentTypeMVT     = "application/vnd.mapbox-vector-tile"
)

// tileTypes maps a PMTiles tile type to its content type and the file
// extensions a tile path may end with.
var tileTypes = map[pmtiles.TileType]struct {
	contentType string
	exts        []string
}{
	pmtiles.TileMVT:     {ContentTypeMVT, []string{"mvt", "pbf"}},
	pmtiles.TilePNG:     {"image/png", []string{"png"}},
	pmtiles.TileJPEG:    {"image/jpeg", []string{"jpg", "jpeg"}},
	pmtiles.TileWebP:    {"image/webp", []string{"webp"}},
	pmtiles.TileAVIF:    {"image/avif", []string{"avif"}},
	pmtiles.TileUnknown: {"application/octet-stream", nil},
}

// formatTypes is the content type of a whole payload of each format.
var formatTypes = map[string]string{
	FormatPMTiles: ContentTypePMTiles,
	FormatMVT:     ContentTypeMVT,
	FormatPNG:     "image/png",
	FormatWebP:    "image/webp",
	FormatJPG:     "image/jpeg",
}

// Resolve implements ron.Resolver:
//
//   - "" and "/" serve the whole payload (its media type, else the
//     format's);
//   - for a PMTiles payload, "/{z}/{x}/{y}" (optionally with the extension
//     of the archive's tile type, e.g. ".mvt" or ".png") serves that tile's
//     bytes: the header and directories are read through object_read and
//     the tile's range returned. y counts from the north (xyz) or, for
//     scheme "tms", from the south. A tile outside the manifest's zoom
//     range or the grid, or absent from the archive, is 404;
//   - anything else is 404.
//
// A payload that is not a readable PMTiles v3 archive is rejected with code
// "pmtiles" at path "payload".
func (Plugin) Resolve(in ron.ResolveInput, obj ron.Object) (ron.ResolveOutput, error) {
	t, err := decodeTable(in.Manifest)
	if err != nil {
		return ron.ResolveOutput{}, err
	}
	var errs ron.Errors
	n := normalize(t, &errs)
	if err := errs.Err(); err != nil {
		return ron.ResolveOutput{}, err
	}
	if in.Path == "" || in.Path == "/" {
		ct := formatTypes[n.Format]
		if p, err := in.Manifest.Payload(); err == nil && p.MediaType != "" {
			ct = p.MediaType
		}
		return ron.Serve(ct, 0, in.PayloadSize), nil
	}
	if n.Format != FormatPMTiles {
		return ron.NotFound(), nil
	}
	z, x, y, ext, ok := parseTilePath(in.Path)
	if !ok || int64(z) < n.MinZoom || int64(z) > n.MaxZoom {
		return ron.NotFound(), nil
	}
	if side := uint64(1) << z; uint64(x) >= side || uint64(y) >= side {
		return ron.NotFound(), nil
	} else if n.Scheme == SchemeTMS {
		y = uint32(side - 1 - uint64(y))
	}
	id, err := pmtiles.ZXYToID(z, x, y)
	if err != nil {
		return ron.NotFound(), nil
	}
	rd, err := pmtiles.Open(obj, in.PayloadSize)
	if err != nil {
		return ron.ResolveOutput{}, archiveError(err)
	}
	tt, known := tileTypes[rd.Header.TileType]
	if !known {
		tt = tileTypes[pmtiles.TileUnknown]
	}
	if ext != "" && tt.exts != nil && !contains(tt.exts, ext) {
		return ron.NotFound(), nil
	}
	r, found, err := rd.Find(id)
	if err != nil {
		return ron.ResolveOutput{}, archiveError(err)
	}
	if !found {
		return ron.NotFound(), nil
	}
	return ron.Serve(tt.contentType, r.Offset, r.Length), nil
}

func archiveError(err error) error {
	if errors.Is(err, pmtiles.ErrFormat) || errors.Is(err, pmtiles.ErrUnsupported) {
		return ron.Reject("payload", CodePMTiles, err.Error())
	}
	return ron.Reject("payload", ron.CodeInvalid, err.Error())
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// parseTilePath parses "/{z}/{x}/{y}" or "/{z}/{x}/{y}.{ext}": decimal
// numbers without signs or leading zeros, z at most MaxZoom, ext lowercase
// letters.
func parseTilePath(p string) (z uint8, x, y uint32, ext string, ok bool) {
	if !strings.HasPrefix(p, "/") {
		return
	}
	parts := strings.Split(p[1:], "/")
	if len(parts) != 3 {
		return
	}
	last := parts[2]
	if i := strings.IndexByte(last, '.'); i >= 0 {
		last, ext = last[:i], last[i+1:]
		if ext == "" || strings.Trim(ext, "abcdefghijklmnopqrstuvwxyz") != "" {
			return
		}
	}
	zz, ok1 := parseUint(parts[0], MaxZoom)
	xx, ok2 := parseUint(parts[1], 1<<MaxZoom-1)
	yy, ok3 := parseUint(last, 1<<MaxZoom-1)
	if !ok1 || !ok2 || !ok3 {
		return
	}
	return uint8(zz), uint32(xx), uint32(yy), ext, true
}

// parseUint parses a canonical decimal number up to max.
func parseUint(s string, max uint64) (uint64, bool) {
	if s == "" || len(s) > 10 || (len(s) > 1 && s[0] == '0') {
		return 0, false
	}
	var v uint64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + uint64(c-'0')
	}
	return v, v <= max
}
