package main

import (
	"archive/tar"
	"compress/gzip"
	"crypto/sha256"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/goreleaser/nfpm/v2"
	"github.com/goreleaser/nfpm/v2/deb"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintf(os.Stderr, "ronhost-dist: %v\n", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) == 0 {
		return errors.New("usage: ronhost-dist archive|deb|sums ... (see packaging/doc.go)")
	}
	fs := flag.NewFlagSet("ronhost-dist "+args[0], flag.ContinueOnError)
	out := fs.String("o", "", "output file (archive) or directory (deb)")
	epoch := fs.String("epoch", os.Getenv("SOURCE_DATE_EPOCH"), "modification time of every entry, in seconds since 1970 (default $SOURCE_DATE_EPOCH)")
	switch args[0] {
	case "archive":
		root := fs.String("root", "", "the one directory the archive unpacks into")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		t, err := parseEpoch(*epoch)
		if err != nil {
			return err
		}
		if *out == "" || *root == "" || fs.NArg() == 0 {
			return errors.New("archive: -o, -root and at least one file are required")
		}
		return writeArchive(*out, *root, t, fs.Args())
	case "deb":
		version := fs.String("version", "", "the release version (git describe); the package's version is derived from it")
		arch := fs.String("arch", "", "GOARCH of the binary: amd64 or arm64")
		binary := fs.String("binary", "", "the ronhost binary built for -arch")
		conf := fs.String("conf", "", "the configuration file written by ronhost config init")
		spec := fs.String("spec", "", "nfpm.yaml (default: beside this tool's source, packaging/nfpm.yaml)")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		t, err := parseEpoch(*epoch)
		if err != nil {
			return err
		}
		if *out == "" || *version == "" || *arch == "" || *binary == "" || *conf == "" || *spec == "" {
			return errors.New("deb: -o, -version, -arch, -binary, -conf and -spec are required")
		}
		path, err := writeDeb(*spec, *out, debVersion(*version, t), *arch, *binary, *conf, t)
		if err != nil {
			return err
		}
		fmt.Println(path)
		return nil
	case "sums":
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		if fs.NArg() != 1 {
			return errors.New("sums: one directory")
		}
		return writeSums(fs.Arg(0))
	}
	return fmt.Errorf("unknown command %q", args[0])
}

func parseEpoch(s string) (time.Time, error) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return time.Time{}, fmt.Errorf("-epoch (or SOURCE_DATE_EPOCH) %q: want seconds since 1970, e.g. git log -1 --format=%%ct", s)
	}
	return time.Unix(n, 0).UTC(), nil
}

// writeArchive writes files (each a path; the archive keeps its base name)
// under root/ into a gzipped tar at out, reproducibly.
func writeArchive(out, root string, mtime time.Time, files []string) error {
	sorted := append([]string(nil), files...)
	sort.Slice(sorted, func(i, j int) bool { return filepath.Base(sorted[i]) < filepath.Base(sorted[j]) })
	tmp, err := os.CreateTemp(filepath.Dir(out), ".archive-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	gz, err := gzip.NewWriterLevel(tmp, gzip.BestCompression)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(gz)
	hdr := func(name string, typ byte, mode, size int64) *tar.Header {
		return &tar.Header{Name: name, Typeflag: typ, Mode: mode, Size: size, ModTime: mtime, Format: tar.FormatPAX}
	}
	if err := tw.WriteHeader(hdr(root+"/", tar.TypeDir, 0o755, 0)); err != nil {
		return err
	}
	for i, path := range sorted {
		name := filepath.Base(path)
		if i > 0 && filepath.Base(sorted[i-1]) == name {
			return fmt.Errorf("archive: two files named %s", name)
		}
		if err := addFile(tw, path, hdr(root+"/"+name, tar.TypeReg, 0, 0)); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	if err := gz.Close(); err != nil {
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), out)
}

// addFile writes one regular file; its mode is 0755 if any execute bit is
// set, else 0644, so the checkout's umask does not matter.
func addFile(tw *tar.Writer, path string, h *tar.Header) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	if !st.Mode().IsRegular() {
		return fmt.Errorf("archive: %s is not a regular file", path)
	}
	h.Size = st.Size()
	h.Mode = 0o644
	if st.Mode()&0o111 != 0 {
		h.Mode = 0o755
	}
	if err := tw.WriteHeader(h); err != nil {
		return err
	}
	n, err := io.Copy(tw, f)
	if err == nil && n != h.Size {
		err = fmt.Errorf("archive: %s changed while it was archived", path)
	}
	return err
}

var tagVersion = regexp.MustCompile(`^v?([0-9]+\.[0-9]+\.[0-9]+)(?:-([0-9A-Za-z.]+))?$`)

// debVersion turns a release version into a Debian version: a tag v1.2.3 is
// 1.2.3 and v1.2.3-rc1 is 1.2.3~rc1 (before 1.2.3); anything else (a commit,
// git describe's v1.2.3-4-gHASH) is 0~gitDATE.VERSION, ordered by the
// commit's time.
func debVersion(v string, t time.Time) string {
	if m := tagVersion.FindStringSubmatch(v); m != nil {
		if m[2] != "" {
			return m[1] + "~" + m[2]
		}
		return m[1]
	}
	clean := strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r == '.' || r == '+' || r == '~' {
			return r
		}
		return '.'
	}, v)
	return "0~git" + t.Format("20060102150405") + "." + clean
}

// writeDeb builds the package spec describes into dir and returns its path.
func writeDeb(spec, dir, version, arch, binary, conf string, mtime time.Time) (string, error) {
	abs := func(p string) string {
		a, err := filepath.Abs(p)
		if err != nil {
			return p
		}
		return a
	}
	vars := map[string]string{"VERSION": version, "ARCH": arch, "BINARY": abs(binary), "CONFIG": abs(conf)}
	cfg, err := nfpm.ParseFileWithEnvMapping(spec, func(k string) string { return vars[k] })
	if err != nil {
		return "", fmt.Errorf("deb: %s: %w", spec, err)
	}
	info, err := cfg.Get("deb")
	if err != nil {
		return "", fmt.Errorf("deb: %w", err)
	}
	// Relative paths in the spec are relative to it, not to the caller.
	base := filepath.Dir(abs(spec))
	rel := func(p string) string {
		if p == "" || filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(base, p)
	}
	for _, c := range info.Contents {
		c.Source = rel(c.Source)
	}
	info.Scripts.PostInstall = rel(info.Scripts.PostInstall)
	info.Scripts.PreInstall = rel(info.Scripts.PreInstall)
	info.Scripts.PreRemove = rel(info.Scripts.PreRemove)
	info.Scripts.PostRemove = rel(info.Scripts.PostRemove)
	info.MTime = mtime
	info.Target = filepath.Join(dir, deb.Default.ConventionalFileName(info))
	if err := info.Validate(); err != nil {
		return "", fmt.Errorf("deb: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".deb-*")
	if err != nil {
		return "", err
	}
	defer os.Remove(tmp.Name())
	if err := deb.Default.Package(info, tmp); err != nil {
		tmp.Close()
		return "", fmt.Errorf("deb: %w", err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		return "", err
	}
	if err := tmp.Close(); err != nil {
		return "", err
	}
	return info.Target, os.Rename(tmp.Name(), info.Target)
}

// writeSums writes dir/SHA256SUMS for every regular file in dir (but itself
// and its signature), in name order, in sha256sum's format.
func writeSums(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	var b strings.Builder
	for _, e := range entries { // ReadDir sorts by name
		name := e.Name()
		if !e.Type().IsRegular() || name == "SHA256SUMS" || name == "SHA256SUMS.sig" || strings.HasPrefix(name, ".") {
			continue
		}
		f, err := os.Open(filepath.Join(dir, name))
		if err != nil {
			return err
		}
		h := sha256.New()
		_, err = io.Copy(h, f)
		f.Close()
		if err != nil {
			return err
		}
		fmt.Fprintf(&b, "%x  %s\n", h.Sum(nil), name)
	}
	if b.Len() == 0 {
		return fmt.Errorf("sums: no file in %s", dir)
	}
	return os.WriteFile(filepath.Join(dir, "SHA256SUMS"), []byte(b.String()), 0o644)
}
