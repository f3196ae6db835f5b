//go:build wasip1

//lint:file-ignore U1000 the go:wasmexport functions are called by the host, which staticcheck cannot see

package ron

import (
	"errors"
	"io"
	"runtime"
	"unsafe"
)

// The host's imports (module "ron"), ABI v1.

//go:wasmimport ron input_len
func ronInputLen() int32

//go:wasmimport ron input_read
func ronInputRead(dst unsafe.Pointer)

//go:wasmimport ron output_set
func ronOutputSet(ptr unsafe.Pointer, n int32)

//go:wasmimport ron log
func ronLog(level int32, ptr unsafe.Pointer, n int32)

//go:wasmimport ron object_read
func ronObjectRead(offset int64, dst unsafe.Pointer, n int32) int32

// The module's exports.

//go:wasmexport ron_abi_v1
func ronABIv1() {}

//go:wasmexport ron_describe
func ronDescribe() int32 { return serve(EntryDescribe) }

//go:wasmexport ron_validate
func ronValidate() int32 { return serve(EntryValidate) }

//go:wasmexport ron_split
func ronSplit() int32 { return serve(EntrySplit) }

//go:wasmexport ron_resolve
func ronResolve() int32 { return serve(EntryResolve) }

// serve reads the input, dispatches to the registered plugin and hands the
// output to the host.
func serve(entry string) int32 {
	n := ronInputLen()
	var input []byte
	if n > 0 {
		input = make([]byte, n)
		ronInputRead(unsafe.Pointer(&input[0]))
	}
	var obj io.ReaderAt
	if entry == EntryResolve {
		obj = hostObject{}
	}
	status, output := Dispatch(registered, entry, input, obj)
	if len(output) > 0 {
		ronOutputSet(unsafe.Pointer(&output[0]), int32(len(output)))
	}
	return status
}

func hostLog(level Level, msg string) {
	if len(msg) == 0 {
		return
	}
	b := []byte(msg)
	ronLog(int32(level), unsafe.Pointer(&b[0]), int32(len(b)))
}

// hostObject reads the payload through object_read.
type hostObject struct{}

func (hostObject) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errors.New("ron: negative offset")
	}
	total := 0
	for total < len(p) {
		chunk := len(p) - total
		if chunk > 1<<30 {
			chunk = 1 << 30
		}
		got := ronObjectRead(off+int64(total), unsafe.Pointer(&p[total]), int32(chunk))
		if got < 0 {
			return total, ErrObjectRead
		}
		if got == 0 {
			return total, io.EOF
		}
		total += int(got)
	}
	return total, nil
}

// heapReserve is how much the Go heap grows while the module initializes.
const heapReserve = 4 << 20

// prepareRuntime runs once, from Register, while the host runs the module's
// _initialize: it grows the Go heap by heapReserve and collects it again, so
// that its pages are the heap's free pages from the start. Without it the
// heap grows in 512 KiB steps during the first thousand calls of an
// instance (the runtime's heap goal is at least 4 MiB; the notes example's
// validate grew memory 7 times in 1,000 calls, once with the reserve), and
// each growth is a memory.grow paid within the call: the host reallocates
// and copies the whole linear memory (about 1 ms, tens of ms on a busy
// machine, against a call's 60 µs) and the meter charges 64 units a byte.
// One large block is enough: freed, its pages serve every size class, and
// it costs one allocation and one collection of a nearly empty heap.
func prepareRuntime() {
	runtime.KeepAlive(make([]byte, heapReserve))
	runtime.GC()
}
