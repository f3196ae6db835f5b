package blob

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/libp2p/go-libp2p/core/protocol"

	"github.com/ronhost/ronhost/internal/core/cid"
	"github.com/ronhost/ronhost/internal/core/store"
)

// Protocol IDs.
const (
	ProtocolBlob      protocol.ID = "/ronhost/blob/1.0.0"
	ProtocolReplicate protocol.ID = "/ronhost/replicate/1.0.0"
)

// Limits of the wire format.
const (
	// MaxHeader is the longest JSON header (request or response) either side
	// accepts.
	MaxHeader = 4096
	// MaxRead is the longest range one read request may ask for.
	MaxRead = 64 << 20
	// MaxOutboard is the longest outboard either side sends or accepts:
	// 64 MiB, the outboard of a 64 GiB object.
	MaxOutboard = 64 << 20
)

// Ops.
const (
	opOutboard  = "outboard"
	opRead      = "read"
	opReplicate = "replicate"
)

// Error codes a peer answers with.
const (
	CodeNotFound = "not_found" // the peer does not have the object
	CodeRange    = "range"     // the range is outside the object
	CodeBusy     = "busy"      // the peer serves too many streams; try later or elsewhere
	CodeTooLarge = "too_large" // a header, a read or an outboard over its limit
	CodeInvalid  = "invalid"   // a malformed request
	CodeRefused  = "refused"   // replicate: the peer does not take copies
	CodeFailed   = "failed"    // the peer could not do it (its own copy is damaged, its fetch failed)
)

// request is what a client sends; Off and Len only for reads.
type request struct {
	Op  string `json:"op"`
	CID string `json:"cid"`
	Off int64  `json:"off,omitempty"`
	Len int64  `json:"len,omitempty"`
}

// response is what a server answers. For outboard and read: Size is the
// object's size and Len the number of raw bytes that follow the header.
// For replicate: OK. On failure only Error is set and no bytes follow.
type response struct {
	Size  int64      `json:"size,omitempty"`
	Len   int64      `json:"len,omitempty"`
	OK    bool       `json:"ok,omitempty"`
	Error *wireError `json:"error,omitempty"`
}

type wireError struct {
	Code    string `json:"code"`
	Message string `json:"message,omitempty"`
}

// errHeaderTooLarge is what readFrame returns for an announced header over
// MaxHeader.
var errHeaderTooLarge = errors.New("header too large")

// writeFrame writes v as one frame: uvarint length, then the JSON.
func writeFrame(w io.Writer, v any) error {
	body, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if len(body) > MaxHeader {
		return fmt.Errorf("blob: header of %d bytes over %d", len(body), MaxHeader)
	}
	buf := binary.AppendUvarint(make([]byte, 0, len(body)+binary.MaxVarintLen16), uint64(len(body)))
	_, err = w.Write(append(buf, body...))
	return err
}

// errMalformed is what readFrame returns for a frame that is not one: an
// empty header, or the stream ending inside a frame.
var errMalformed = errors.New("malformed frame")

// readFrame reads one frame's JSON bytes. Its errors: io.EOF when the stream
// ended cleanly before a frame, errHeaderTooLarge, errMalformed, or the
// stream's own error.
func readFrame(r *bufio.Reader) ([]byte, error) {
	// The length is a uvarint of at most two bytes (MaxHeader < 1<<14).
	var n int
	for i := 0; ; i++ {
		b, err := r.ReadByte()
		if err != nil {
			if i > 0 && err == io.EOF {
				err = errMalformed
			}
			return nil, err
		}
		n |= int(b&0x7f) << (7 * i)
		if b < 0x80 {
			break
		}
		if i == 1 {
			return nil, errHeaderTooLarge
		}
	}
	if n == 0 {
		return nil, errMalformed
	}
	if n > MaxHeader {
		return nil, errHeaderTooLarge
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(r, body); err != nil {
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			err = errMalformed
		}
		return nil, err
	}
	return body, nil
}

// decodeStrict decodes one JSON object into v: no unknown fields, nothing
// after it.
func decodeStrict(b []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		return err
	}
	if d.More() {
		return errors.New("data after the header")
	}
	return nil
}

// parsedRequest is a request that passed parseRequest.
type parsedRequest struct {
	op       string
	c        cid.CID
	off, len int64
}

// parseRequest checks what can be checked without the object: the op, the
// CID, and for reads a group-aligned offset and a length in (0, MaxRead].
// Its error is the code to answer with and a message.
func parseRequest(b []byte, proto protocol.ID) (parsedRequest, *wireError) {
	var req request
	if err := decodeStrict(b, &req); err != nil {
		return parsedRequest{}, &wireError{CodeInvalid, "malformed request: " + err.Error()}
	}
	c, err := cid.Parse(req.CID)
	if err != nil {
		return parsedRequest{}, &wireError{CodeInvalid, err.Error()}
	}
	p := parsedRequest{op: req.Op, c: c, off: req.Off, len: req.Len}
	switch {
	case proto == ProtocolBlob && req.Op == opOutboard, proto == ProtocolReplicate && req.Op == opReplicate:
		if req.Off != 0 || req.Len != 0 {
			return parsedRequest{}, &wireError{CodeInvalid, "off and len are only for reads"}
		}
	case proto == ProtocolBlob && req.Op == opRead:
		if req.Off < 0 || req.Off%store.GroupSize != 0 {
			return parsedRequest{}, &wireError{CodeInvalid, fmt.Sprintf("off %d is not a non-negative multiple of %d", req.Off, store.GroupSize)}
		}
		if req.Len <= 0 {
			return parsedRequest{}, &wireError{CodeInvalid, fmt.Sprintf("len %d is not positive", req.Len)}
		}
		if req.Len > MaxRead {
			return parsedRequest{}, &wireError{CodeTooLarge, fmt.Sprintf("len %d over %d", req.Len, MaxRead)}
		}
	default:
		return parsedRequest{}, &wireError{CodeInvalid, fmt.Sprintf("unknown op %q", req.Op)}
	}
	return p, nil
}

// checkRead checks a read against the object's size: the range lies inside
// it and ends at a group boundary or at the end of the object.
func checkRead(p parsedRequest, size int64) *wireError {
	if p.off >= size || p.len > size-p.off {
		return &wireError{CodeRange, fmt.Sprintf("%d bytes at %d outside the object's %d", p.len, p.off, size)}
	}
	if p.len%store.GroupSize != 0 && p.off+p.len != size {
		return &wireError{CodeInvalid, fmt.Sprintf("len %d is neither a multiple of %d nor reaches the end of the object", p.len, store.GroupSize)}
	}
	return nil
}

// parseResponse decodes a response header and checks its shape.
func parseResponse(b []byte) (response, error) {
	var r response
	if err := decodeStrict(b, &r); err != nil {
		return response{}, err
	}
	if r.Error != nil {
		if r.Error.Code == "" || r.Size != 0 || r.Len != 0 || r.OK {
			return response{}, errors.New("an error response with other fields")
		}
		return r, nil
	}
	if r.Size < 0 || r.Len < 0 {
		return response{}, errors.New("negative size or len")
	}
	return r, nil
}
