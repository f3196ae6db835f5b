package node

import (
	"github.com/ronhost/ronhost/internal/bus"
	"github.com/ronhost/ronhost/internal/bus/contract"
)

// BusContract is the one list of the roles on the bus: the verbs each
// serves, the verbs of the others it calls, and the events it emits,
// derived from the declarations in bus/contract (contract.Roles). Every
// process's bus permissions derive from it (bus.Contract.Permissions, for
// the union of its roles), so a process that runs the gateway can call the
// index's lookup but cannot answer it, and one that runs the store cannot
// emit manifest.published. TestBusContract checks it against the services
// this package puts on the bus and against docs/BUS.md.
func BusContract() bus.Contract { return contract.Roles() }
