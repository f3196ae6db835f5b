package plugins

import "sort"

// Statuses of a registry row of the catalog.
const (
	StatusActive  = ""        // served (unless the operator installed the TLD by hand)
	StatusRefused = "refused" // the module failed the node's checks (conformance, ABI)
	StatusRevoked = "revoked" // the registry revoked the module
)

// Registry returns the rows the node's registry follower wrote: for each
// TLD the registries bind, the module served (Status "") and those not
// served, with why.
func (c *Catalog) Registry() ([]CatalogEntry, error) {
	f, err := c.read()
	return f.Registry, err
}

// SetRegistry replaces the registry rows, first writing the modules of the
// active ones (by hash) that the catalog lacks. The operator's own entries
// are left alone: an installed TLD wins over any registry.
func (c *Catalog) SetRegistry(rows []CatalogEntry, modules map[string][]byte) error {
	rows = append([]CatalogEntry(nil), rows...)
	sort.SliceStable(rows, func(i, j int) bool { return rows[i].TLD < rows[j].TLD })
	return c.update(func(f *catalogFile) error {
		for hash, wasm := range modules {
			if HashBytes(wasm) != hash {
				continue
			}
			if err := writeAtomic(c.modulePath(hash), wasm, 0o644); err != nil {
				return err
			}
		}
		f.Registry = rows
		return nil
	})
}

// HasModule says whether the catalog holds the module with hash, intact.
func (c *Catalog) HasModule(hash string) bool {
	_, err := c.Module(hash)
	return err == nil
}
