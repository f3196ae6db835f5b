// Package aitld is the logic of the built-in .ai plugin: models, datasets
// and inference services.
//
// An .ai manifest has an [ai] table: the kind (model, dataset or
// inference), a model card (architecture, parameter count, license as an
// SPDX expression, the CIDs of the training data, intended use,
// limitations), pricing (per call and per 1000 tokens, in minor units), the
// compute providers, the creators with their shares, the dataset
// contributors with their weights, and the split of revenue between
// creators, contributors, compute operators and a moderation pool.
// Validate checks all of it, reporting every problem at once, and writes the
// table back canonically with every default filled in. Split pays the parts
// with the SDK's exact helpers. Resolve serves the payload (weights, data
// or the service's description) at "/". tlds/ai/README.md is the
// user-facing description, with the error codes and the remainder rule.
//
// The package is pure logic, importable natively (tests, benchmarks); the
// main package tlds/ai registers it in a wasip1 reactor. It imports only the
// SDK and the standard library; it must not import the ronhost node.
package aitld
