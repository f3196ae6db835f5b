package aitld

import ron "github.com/ronhost/ronhost/sdk-wasm"

// Resolve implements ron.Resolver: "/" (or "") serves the whole payload —
// the weights of a model, the data of a dataset, the description of an
// inference service — with the payload's media type (default
// application/octet-stream). Every other path is 404: an .ai payload is one
// object.
func (Plugin) Resolve(in ron.ResolveInput, _ ron.Object) (ron.ResolveOutput, error) {
	t, err := decodeTable(in.Manifest)
	if err != nil {
		return ron.ResolveOutput{}, err
	}
	var errs ron.Errors
	normalize(t, &errs)
	if err := errs.Err(); err != nil {
		return ron.ResolveOutput{}, err
	}
	return ron.ServePayload(in), nil
}
