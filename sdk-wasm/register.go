package ron

// registered is the plugin the wasm exports dispatch to. It is the one piece
// of package state in the SDK: a reactor module has exactly one plugin, set
// once from the main package's init before the host makes any call.
var registered Plugin

// Register makes p the plugin this module serves. Call it exactly once, from
// an init function of the main package (a c-shared wasip1 reactor never runs
// main). It panics if p is nil or a plugin is already registered.
//
// Natively Register only records p; tests use rontest.New(p) instead.
func Register(p Plugin) {
	if p == nil {
		panic("ron: Register(nil)")
	}
	if registered != nil {
		panic("ron: Register called twice")
	}
	registered = p
	prepareRuntime()
}
