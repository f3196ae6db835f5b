// Package maptld is the logic of the built-in .map plugin: map datasets and
// tile sets.
//
// A .map manifest has a [map] table: the tile format (mvt, png, webp, jpg
// or a PMTiles v3 archive), the bounding box (WGS84, west > east when it
// crosses the antimeridian), the zoom range (0 to 24), the center, the tile
// scheme (xyz or tms), attribution, the license (an SPDX expression), the
// data creators with their shares, and the split of revenue between
// creators, operators, a moderation pool and an open-source royalty.
// Validate checks all of it, reporting every problem at once, and writes
// the table back canonically with every default filled in. Split pays the
// parts with the SDK's exact helpers. Resolve maps /{z}/{x}/{y} to the
// tile's byte range inside a PMTiles payload by reading the archive's
// header and directories through object_read. tlds/map/README.md is the
// user-facing description, with the error codes and the remainder rule.
//
// The package is pure logic, importable natively (tests, benchmarks); the
// main package tlds/map registers it in a wasip1 reactor. It imports only
// the SDK, the standard library and tlds/map/internal/pmtiles; it must not
// import the ronhost node.
package maptld
