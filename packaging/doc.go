// Command ronhost-dist makes the files of a ronhost release; `make dist`
// runs it (docs/OPERATING.md, "Releases").
//
//	ronhost-dist archive -o OUT.tar.gz -root DIR -epoch SECONDS FILE...
//	ronhost-dist deb -o DIR -version V -arch ARCH -binary FILE -conf FILE -epoch SECONDS
//	ronhost-dist sums DIR
//
// archive writes a tar.gz whose bytes depend only on its inputs: entries in
// name order under one directory, modification times set to the commit's
// time (SOURCE_DATE_EPOCH), owner and group 0 with no names, modes 0755 or
// 0644 whatever the checkout's umask, gzip without a name or time. deb
// builds the Debian package described by nfpm.yaml with
// github.com/goreleaser/nfpm/v2, the same way (nfpm sorts entries and takes
// the time given). sums writes SHA256SUMS in sha256sum's format, which
// `ronhost sign-release` signs and `ronhost verify-release` checks.
//
// This directory is a Go module of its own so that nfpm and its dependencies
// stay out of the node's go.mod: the node's module list is what operators
// audit (`go version -m`), and nothing of this tool is in the binary. It
// imports nothing of ronhost's. Its tests (dist_test.go) rebuild a release
// from clean clones and compare the bytes, and install the package with dpkg.
//
// deb/ holds what the package installs besides the binary and the
// configuration: the systemd units and the maintainer scripts.
package main
