// Package modtld is the logic of the built-in .mod plugin: moderation.
//
// A .mod manifest's [mod] table is one of two things:
//
//   - a moderator's registry entry ([mod.moderator]): name, ed25519 public
//     key, payout address, the CID of the charter they moderate by, stake,
//     score and the labels they issue, self-signed with the entry's key;
//   - a verdict on a target CID ([mod.verdict]): a label from [Labels], a
//     reason, a time, and the moderators who handled the item, each with a
//     payout address, a weight and a signature.
//
// Every signature is an ed25519 signature by the listed key over
// [SigningMessage]: a domain-separation line followed by the SDK's canonical
// JSON of the normalized [mod] table with every "signature" member removed.
// Validate verifies them all inside the plugin; Split pays the treasury its
// basis points ([TreasuryPayout], treasury_bps) and the moderators the rest
// by weight. README.md in the parent directory is the user-facing
// description, with the complete error code table.
//
// The package is importable natively (tests, benchmarks, signing tools) and
// is the whole plugin: tlds/mod registers [New] in a wasip1 reactor. It
// imports the SDK and the standard library only; it must not import the
// ronhost node (core, plugins, bus).
package modtld
