package ron

// ABI constants.
const (
	// ABIVersion is the plugin ABI version this SDK implements.
	ABIVersion = 1

	// MaxAmount is the largest integer the ABI carries (2^53-1): amounts,
	// byte and request counts, payload sizes.
	MaxAmount = 1<<53 - 1

	// MaxInputBytes and MaxOutputBytes are the ABI's limits on one call's
	// input and output. A node may set tighter ones.
	MaxInputBytes  = 1 << 20
	MaxOutputBytes = 1 << 20

	// MaxDepth is the deepest nesting of JSON objects and arrays accepted in
	// an input; deeper inputs are rejected before decoding.
	MaxDepth = 64

	// MaxKeyBytes is the longest object key accepted in an input (TOML
	// keys are names, not data); longer keys are rejected.
	MaxKeyBytes = 1024

	// TotalBPS is the basis points in a whole (100%).
	TotalBPS = 10000
)

// Status codes an entry point returns.
const (
	StatusOK       int32 = 0 // the output is the result
	StatusRejected int32 = 1 // the input is not acceptable; output is {"errors":[...]}
	StatusFault    int32 = 2 // the plugin failed (recovered panic, broken contract)
)

// Entry point names, as exported by the module.
const (
	EntryDescribe = "ron_describe"
	EntryValidate = "ron_validate"
	EntrySplit    = "ron_split"
	EntryResolve  = "ron_resolve"
)

// FeatureResolve is the feature a plugin declares when it implements
// [Resolver]; Dispatch adds it to the description automatically.
const FeatureResolve = "resolve"

// HostInfo names the node calling the plugin (ron_describe's "host").
type HostInfo struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

// DescribeInput is the input document of ron_describe.
type DescribeInput struct {
	ABI  int      `json:"abi"`
	Host HostInfo `json:"host"`
}

// Description is the output of ron_describe.
type Description struct {
	TLD      string      `json:"tld"`      // lowercase [a-z0-9-]{1,32}
	Name     string      `json:"name"`     // human name of the plugin
	Version  string      `json:"version"`  // the plugin's own version, e.g. "1.2.0"
	Summary  string      `json:"summary"`  // one line
	Roles    []string    `json:"roles"`    // every role a split may pay
	Features []string    `json:"features"` // "resolve" is added when the plugin implements Resolver
	Examples []*Manifest `json:"examples"` // at least one manifest that validate accepts
}

// ValidateInput is the input document of ron_validate.
type ValidateInput struct {
	Manifest *Manifest `json:"manifest"`
	Context  Context   `json:"context"`
}

// Context is the context of a validate call.
type Context struct {
	TLD         string `json:"tld"`
	PayloadSize uint64 `json:"payload_size"`
}

// ValidateOutput is the output of ron_validate. A nil Manifest means the
// input manifest unchanged (it is still written in canonical form).
type ValidateOutput struct {
	Manifest *Manifest `json:"manifest"`
	Index    Index     `json:"index"`
}

// Index is what the node indexes for search.
type Index struct {
	Title string   `json:"title"`
	Tags  []string `json:"tags"`
}

// SplitInput is the input document of ron_split.
type SplitInput struct {
	Manifest *Manifest `json:"manifest"`
	Epoch    string    `json:"epoch"`
	Amount   uint64    `json:"amount"`
	Usage    Usage     `json:"usage"`
}

// Usage is what the host metered for the address during the epoch.
type Usage struct {
	Requests uint64   `json:"requests"`
	Bytes    uint64   `json:"bytes"`
	Servers  []Server `json:"servers"`
}

// Server is one node that served the address during the epoch.
type Server struct {
	Node     string `json:"node"`
	Payout   string `json:"payout"`
	Requests uint64 `json:"requests"`
	Bytes    uint64 `json:"bytes"`
}

// Allocation is one payment in a split's result.
type Allocation struct {
	Payee  string `json:"payee"`
	Role   string `json:"role"`
	Amount uint64 `json:"amount"`
}

// SplitOutput is the output document of ron_split.
type SplitOutput struct {
	Allocations []Allocation `json:"allocations"`
}

// ResolveInput is the input document of ron_resolve.
type ResolveInput struct {
	Manifest    *Manifest `json:"manifest"`
	Path        string    `json:"path"`
	PayloadSize uint64    `json:"payload_size"`
}

// ResolveOutput is the output of ron_resolve: a byte range of the payload
// to serve (Status 200) or another HTTP status with no body (e.g. 404).
// Only Status is written when Status is not 200.
type ResolveOutput struct {
	Status      int    `json:"status"`
	ContentType string `json:"content_type,omitempty"`
	Offset      uint64 `json:"offset"`
	Length      uint64 `json:"length"`
}

// NotFound is the ResolveOutput for a path that does not exist.
func NotFound() ResolveOutput { return ResolveOutput{Status: 404} }

// Serve is the ResolveOutput serving length bytes of the payload from offset.
func Serve(contentType string, offset, length uint64) ResolveOutput {
	return ResolveOutput{Status: 200, ContentType: contentType, Offset: offset, Length: length}
}

// ServePayload resolves an address whose payload is one object: the address
// itself (path "/" or "") is the whole payload, with the [payload]
// media_type (application/octet-stream when there is none); every other
// path is NotFound.
func ServePayload(in ResolveInput) ResolveOutput {
	if in.Path != "" && in.Path != "/" {
		return NotFound()
	}
	ct := "application/octet-stream"
	if p, err := in.Manifest.Payload(); err == nil && p.MediaType != "" {
		ct = p.MediaType
	}
	return Serve(ct, 0, in.PayloadSize)
}

// Plugin is what a TLD plugin implements. Each method is a pure function of
// its input: the host may memoize results and run calls in fresh or reused
// instances in any order.
type Plugin interface {
	// Describe returns the plugin's description. It must not depend on host
	// beyond, at most, the wording of Summary.
	Describe(host HostInfo) Description
	// Validate checks a manifest and returns its normalized form and index.
	// Normalization must be idempotent.
	Validate(in ValidateInput) (ValidateOutput, error)
	// Split divides in.Amount among payees. The allocations must sum to
	// exactly in.Amount and use only declared roles; their order does not
	// matter (Dispatch merges and sorts them).
	Split(in SplitInput) ([]Allocation, error)
}

// Resolver is implemented by plugins that serve sub-paths of an address.
type Resolver interface {
	Resolve(in ResolveInput, obj Object) (ResolveOutput, error)
}
