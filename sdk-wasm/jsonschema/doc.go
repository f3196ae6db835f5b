// Package jsonschema checks JSON documents against the ABI's JSON Schemas
// (docs/schema in the ronhost repository): a small checker of our own for
// the subset of JSON Schema draft 2020-12 those files use, so the SDK keeps
// requiring nothing. The host's conformance suite, the SDKs' tests and the
// docs all read the same files through it.
//
// Supported keywords: $ref (to "#/$defs/NAME", "FILE.schema.json" or
// "FILE.schema.json#/$defs/NAME" in the same Set), $defs, type (one name or
// a list; "integer" is a number written without fraction or exponent),
// const, enum, properties, required, additionalProperties (a boolean or a
// schema), propertyNames, patternProperties, minProperties, maxProperties,
// items, minItems, maxItems, uniqueItems, minimum, maximum (exact, on the
// decimal text), minLength, maxLength (in code points), pattern (Go's RE2
// syntax, unanchored as the standard says), format "date-time" (RFC 3339),
// allOf, anyOf, oneOf, not. Annotations ($schema, $id, $comment, title,
// description, examples, default) are ignored. Any other keyword is an
// error when the schema is added, so a schema cannot silently ask for
// more than is checked.
package jsonschema
