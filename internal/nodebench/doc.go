// Command nodebench is `make bench-node`: a whole-process benchmark that
// starts real `ronhost serve` processes on 127.0.0.1 and reports each
// figure as a ratio to a limit measured in the same run:
//
//   - start-up to ready (/readyz answers 200), cold (an empty wazero
//     compilation cache and a new data directory) and warm (a restart), as
//     ratios to exec-ing the same binary for `ronhost version`;
//   - idle resident memory after start (VmRSS), against kubo's 80 MiB
//     (issue 18's figure, not measured here);
//   - 1 MiB range GETs (p50, p99) and full GETs of one object, against a
//     plain Go http.FileServer (a process of its own) serving the same file, interleaved;
//   - a node fetching the object from another node through its gateway,
//     against a raw loopback TCP copy of the same bytes (to nothing, and
//     to a file with fsync) and against internal/core/blob's own in-process fetch
//     benchmark of the same size (its test binary, built with `go test -c`
//     from -blobpkg), each round measuring all of them in turn; with the
//     CPU per MB of A, B and the GET's client, the cores they keep busy,
//     and the ratio's CPU ceiling when both it and the in-process fetch
//     fill the machine (in-process CPU per MB over A's, B's and the
//     client's: the node-to-node path does the in-process fetch's work
//     plus serving and reading the bytes over loopback);
//   - the first fetch of fresh 4 KiB objects from a connected peer (some
//     after a peer just left), against a plain file server's 4 KiB GET.
//
// It is bounded: fixed counts and sizes (RON_BENCH_NODE_BYTES, default
// 1 GiB; RON_BENCH_NODE_ROUNDS), an overall deadline, every process killed
// on the way out. It imports no ronhost package: it drives the binary as an
// operator does.
package main
