package main

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// These tests check a release that `make dist` wrote: make dist-test builds
// one for linux/amd64 and runs them with RON_DIST_DIR pointing at it (make
// test does); make dist-check rebuilds every platform twice.

// distDir returns the release directory under test, or skips.
func distDir(t *testing.T) string {
	t.Helper()
	d := os.Getenv("RON_DIST_DIR")
	if d == "" {
		t.Skip("RON_DIST_DIR is not set: `make dist-test` (part of make test) builds a release and runs these tests on it")
	}
	if _, err := os.Stat(filepath.Join(d, "SHA256SUMS")); err != nil {
		t.Fatalf("RON_DIST_DIR=%s holds no release: %v", d, err)
	}
	return d
}

// repoRoot is the checkout this module sits in.
func repoRoot(t *testing.T) string {
	t.Helper()
	r, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// hostRonhost is the ronhost make build left in bin/ (it signs and verifies).
func hostRonhost(t *testing.T) string {
	t.Helper()
	p := filepath.Join(repoRoot(t), "bin", "ronhost")
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("%s: %v (make dist builds it)", p, err)
	}
	return p
}

func platforms() []string {
	if p := strings.Fields(os.Getenv("RON_DIST_PLATFORMS")); len(p) > 0 {
		return p
	}
	return []string{"linux/amd64"}
}

func sh(t *testing.T, dir string, env []string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	if env != nil {
		cmd.Env = env
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// files lists a release directory: name -> SHA-256.
func files(t *testing.T, dir string) map[string][32]byte {
	t.Helper()
	out := map[string][32]byte{}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = sha256.Sum256(b)
	}
	return out
}

// Two `make dist` runs from clean clones of HEAD give byte-identical
// archives, module lists, Debian packages and SHA256SUMS. When the checkout
// this runs in is itself clean (CI's fresh clone) and RON_DIST_DIR holds its
// release, that release is the first run; otherwise two clones are built.
func TestReproducible(t *testing.T) {
	root := repoRoot(t)
	head := strings.TrimSpace(sh(t, root, nil, "git", "rev-parse", "HEAD"))
	plats := strings.Join(platforms(), " ")
	var dirs []string
	if d := os.Getenv("RON_DIST_DIR"); d != "" && strings.TrimSpace(sh(t, root, nil, "git", "status", "--porcelain")) == "" {
		dirs = append(dirs, d)
		t.Logf("run 1: this clean checkout's release in %s", d)
	} else {
		t.Logf("the checkout has uncommitted changes or no release: both runs build HEAD (%s) in fresh clones", head)
	}
	// The clones' make must not inherit the variables of a make that runs this test.
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "MAKEFLAGS", "MFLAGS", "MAKELEVEL", "VERSION", "SOURCE_DATE_EPOCH", "RELEASE_KEY", "DIST_PLATFORMS", "GOFLAGS":
			continue
		}
		env = append(env, kv)
	}
	for len(dirs) < 2 {
		clone := filepath.Join(t.TempDir(), "ronhost")
		sh(t, "", nil, "git", "clone", "--quiet", "--no-checkout", "--shared", root, clone)
		sh(t, clone, nil, "git", "checkout", "--quiet", head)
		start := time.Now()
		sh(t, clone, env, "make", "dist", "DIST_PLATFORMS="+plats)
		t.Logf("run %d: make dist in a clean clone took %v", len(dirs)+1, time.Since(start).Round(time.Second))
		dirs = append(dirs, filepath.Join(clone, "dist"))
	}

	a, b := files(t, dirs[0]), files(t, dirs[1])
	for _, p := range platforms() {
		os, arch, _ := strings.Cut(p, "/")
		want := []*regexp.Regexp{
			regexp.MustCompile(`^ronhost_[0-9a-f]{12}_` + os + `_` + arch + `\.tar\.gz$`),
			regexp.MustCompile(`^ronhost_[0-9a-f]{12}_` + os + `_` + arch + `\.modules\.txt$`),
		}
		if os == "linux" {
			want = append(want, regexp.MustCompile(`^ronhost_0~git[0-9]{14}\.[0-9a-f]{12}_`+arch+`\.deb$`))
		}
		for _, re := range want {
			if !slices.ContainsFunc(keys(a), re.MatchString) {
				t.Errorf("the release lacks %s (clean clones are never -dirty): %v", re, keys(a))
			}
		}
	}
	if !slices.Equal(keys(a), keys(b)) {
		t.Fatalf("the two runs wrote different files:\n%v\n%v", keys(a), keys(b))
	}
	for _, name := range keys(a) {
		if a[name] != b[name] {
			t.Errorf("%s differs between the two runs (%x, %x)", name, a[name], b[name])
		} else if st, err := os.Stat(filepath.Join(dirs[0], name)); err == nil {
			t.Logf("identical: %s (%d bytes)", name, st.Size())
		}
	}
}

func keys[V any](m map[string]V) []string {
	var k []string
	for n := range m {
		k = append(k, n)
	}
	slices.Sort(k)
	return k
}

// The signed checksums of a real release verify, and one flipped byte in an
// archive or a package is refused; the archives unpack into one directory
// with fixed times and owners, and the binary for this machine carries the
// built-in plugins.
func TestReleaseVerifies(t *testing.T) {
	src := distDir(t)
	ronhost := hostRonhost(t)
	dir := t.TempDir()
	for name := range files(t, src) {
		if name == "SHA256SUMS.sig" {
			continue
		}
		b, err := os.ReadFile(filepath.Join(src, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// A throwaway release key, as a maintainer makes the real one (offline).
	var kg struct {
		PublicKey string `json:"public_key"`
		KeyFile   string `json:"private_key_file"`
	}
	out := sh(t, "", nil, ronhost, "--json", "plugin", "keygen", "-o", filepath.Join(t.TempDir(), "release.key"))
	if err := json.Unmarshal([]byte(out), &kg); err != nil {
		t.Fatal(err)
	}
	sh(t, "", nil, ronhost, "sign-release", "--key", kg.KeyFile, dir)
	out = sh(t, "", nil, ronhost, "verify-release", "--key", kg.PublicKey, dir)
	sums, err := os.ReadFile(filepath.Join(dir, "SHA256SUMS"))
	if err != nil {
		t.Fatal(err)
	}
	listed := strings.Count(string(sums), "\n")
	if got := strings.Count(out, "\nOK "); got != listed || listed < 3 {
		t.Errorf("verify-release checked %d of %d files:\n%s", got, listed, out)
	}
	if sha, err := exec.LookPath("sha256sum"); err == nil {
		sh(t, dir, nil, sha, "-c", "--strict", "SHA256SUMS")
	}
	// The documented check without a ronhost binary (verify-release.sh:
	// openssl, sha256sum, xxd) agrees.
	script, _ := filepath.Abs("verify-release.sh")
	scriptOK := true
	for _, tool := range []string{"openssl", "xxd", "sha256sum"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Logf("no %s: verify-release.sh not checked", tool)
			scriptOK = false
		}
	}
	if scriptOK {
		sh(t, "", nil, "sh", script, kg.PublicKey, dir)
		var other struct {
			PublicKey string `json:"public_key"`
		}
		out := sh(t, "", nil, ronhost, "--json", "plugin", "keygen", "-o", filepath.Join(t.TempDir(), "other.key"))
		if err := json.Unmarshal([]byte(out), &other); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command("sh", script, other.PublicKey, dir).CombinedOutput(); err == nil || !strings.Contains(string(out), "Signature Verification Failure") {
			t.Errorf("verify-release.sh accepted another key:\n%s", out)
		}
	}

	var archives, debs []string
	for name := range files(t, dir) {
		switch {
		case strings.HasSuffix(name, ".tar.gz"):
			archives = append(archives, name)
		case strings.HasSuffix(name, ".deb"):
			debs = append(debs, name)
		}
	}
	for _, name := range append(archives, debs...) {
		path := filepath.Join(dir, name)
		orig, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		flipped := bytes.Clone(orig)
		flipped[len(flipped)/2] ^= 0x01
		if err := os.WriteFile(path, flipped, 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(ronhost, "verify-release", "--key", kg.PublicKey, dir, name)
		out, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 1 || !strings.Contains(string(out), name+" is not the file released") {
			t.Errorf("verify-release of %s with one flipped byte: %v\n%s", name, err, out)
		}
		if scriptOK {
			if out, err := exec.Command("sh", script, kg.PublicKey, dir).CombinedOutput(); err == nil || !strings.Contains(string(out), name+": FAILED") {
				t.Errorf("verify-release.sh with one flipped byte in %s: %v\n%s", name, err, out)
			}
		}
		if err := os.WriteFile(path, orig, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	for _, name := range archives {
		checkArchive(t, filepath.Join(dir, name))
	}
}

// checkArchive reads an archive: one top directory, entries in name order,
// one modification time, owner 0; the binary, when it runs here, lists the
// built-in plugins.
func checkArchive(t *testing.T, path string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	if !gz.ModTime.IsZero() || gz.Name != "" {
		t.Errorf("%s: gzip header carries a time or a name (%v, %q)", path, gz.ModTime, gz.Name)
	}
	root := strings.TrimSuffix(filepath.Base(path), ".tar.gz")
	tr := tar.NewReader(gz)
	var names []string
	var mtime time.Time
	var binary []byte
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if mtime.IsZero() {
			mtime = h.ModTime
		}
		if !h.ModTime.Equal(mtime) || h.Uid != 0 || h.Gid != 0 || h.Uname != "" || h.Gname != "" {
			t.Errorf("%s: %s has time %v, owner %d:%d %q:%q", path, h.Name, h.ModTime, h.Uid, h.Gid, h.Uname, h.Gname)
		}
		if h.Name != root+"/" && !strings.HasPrefix(h.Name, root+"/") {
			t.Errorf("%s: %s is outside %s/", path, h.Name, root)
		}
		names = append(names, h.Name)
		if h.Name == root+"/ronhost" {
			if h.Mode != 0o755 {
				t.Errorf("%s: ronhost has mode %o", path, h.Mode)
			}
			if binary, err = io.ReadAll(tr); err != nil {
				t.Fatal(err)
			}
		}
	}
	if !slices.IsSorted(names) || len(binary) == 0 {
		t.Errorf("%s: entries %v (sorted, with ronhost)", path, names)
	}
	if !strings.HasSuffix(root, "_"+runtime.GOOS+"_"+runtime.GOARCH) {
		return
	}
	bin := filepath.Join(t.TempDir(), "ronhost")
	if err := os.WriteFile(bin, binary, 0o755); err != nil {
		t.Fatal(err)
	}
	if out := sh(t, "", nil, bin, "version"); !strings.Contains(out, "built-in plugins: ai alg map mod") {
		t.Errorf("the released binary does not carry the built-in plugins:\n%s", out)
	}
}

// unit reads the settings of a systemd unit file (the last value of each key).
func unit(t *testing.T, path string) map[string][]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' || line[0] == '[' {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if ok {
			out[k] = append(out[k], v)
		}
	}
	return out
}

func mode(t *testing.T, path string) (fs.FileMode, string, string) {
	t.Helper()
	st, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	sys := st.Sys().(*syscall.Stat_t)
	u, g := strconv.Itoa(int(sys.Uid)), strconv.Itoa(int(sys.Gid))
	if uu, err := user.LookupId(u); err == nil {
		u = uu.Username
	}
	if gg, err := user.LookupGroupId(g); err == nil {
		g = gg.Name
	}
	return st.Mode(), u, g
}

func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}

// The Debian package on this machine: dpkg -i makes the ronhost system user,
// a private data directory and configuration; the unit passes systemd-analyze
// verify and, run as it says (user, environment, umask, ExecStart), the node
// serves the built-in TLDs and leaves only 0700 directories and 0600 files;
// dpkg -r keeps the data and the configuration, dpkg -P removes them. A data
// directory a hand-written unit left 0755 is made 0700 again on install. The
// test leaves the machine as it found it.
func TestDebInstall(t *testing.T) {
	dir := distDir(t)
	if os.Geteuid() != 0 {
		t.Skip("installing a Debian package needs root (CI runs as root)")
	}
	for _, tool := range []string{"dpkg", "systemd-analyze", "getent", "userdel"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("no %s on this machine (.ci/run installs systemd for systemd-analyze; dpkg comes with Debian)", tool)
		}
	}
	// Several checkouts on one machine may run this test at once: one at a time.
	lock, err := os.OpenFile(filepath.Join(os.TempDir(), "ronhost-deb-install-test.lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lock.Close() }) // registered first: released after the cleanup below
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("dpkg-query", "-W", "-f=${db:Status-Status}", "ronhost").Output(); err == nil && len(out) > 0 && string(out) != "not-installed" {
		t.Skipf("a ronhost package is already on this machine (%s): not touching it", out)
	}
	for _, p := range []string{"/var/lib/ronhost", "/etc/ronhost", "/usr/bin/ronhost"} {
		if exists(p) {
			t.Skipf("%s already exists on this machine: not touching it", p)
		}
	}
	var deb string
	for name := range files(t, dir) {
		if strings.HasSuffix(name, "_"+runtime.GOARCH+".deb") {
			deb = filepath.Join(dir, name)
		}
	}
	if deb == "" {
		t.Skipf("%s holds no package for %s", dir, runtime.GOARCH)
	}
	_, userErr := user.Lookup("ronhost")
	userExisted := userErr == nil
	t.Cleanup(func() {
		// Whatever happened, leave the machine as it was.
		_ = exec.Command("dpkg", "--purge", "ronhost").Run()
		if !userExisted {
			_ = exec.Command("userdel", "ronhost").Run()
			_ = exec.Command("groupdel", "ronhost").Run()
		}
		os.RemoveAll("/var/lib/ronhost")
		os.RemoveAll("/etc/ronhost")
	})

	sh(t, "", nil, "dpkg", "-i", deb)

	// The system user.
	pw := strings.Split(strings.TrimSpace(sh(t, "", nil, "getent", "passwd", "ronhost")), ":")
	if uid, _ := strconv.Atoi(pw[2]); len(pw) != 7 || uid >= 1000 || uid == 0 || pw[5] != "/var/lib/ronhost" || pw[6] != "/usr/sbin/nologin" {
		t.Errorf("ronhost user: %q (want a system uid, home /var/lib/ronhost, no login)", pw)
	}
	u, err := user.Lookup("ronhost")
	if err != nil {
		t.Fatal(err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)

	// What dpkg and postinst left, and with which modes.
	for _, c := range []struct {
		path       string
		mode       fs.FileMode
		owner, grp string
	}{
		{"/usr/bin/ronhost", 0o755, "root", "root"},
		{"/usr/lib/systemd/system/ronhost.service", 0o644, "root", "root"},
		{"/etc/ronhost", fs.ModeDir | 0o750, "root", "ronhost"},
		{"/etc/ronhost/config.toml", 0o640, "root", "ronhost"},
		{"/var/lib/ronhost", fs.ModeDir | 0o700, "ronhost", "ronhost"},
	} {
		if m, o, g := mode(t, c.path); m != c.mode || o != c.owner || g != c.grp {
			t.Errorf("%s: %v %s:%s, want %v %s:%s", c.path, m, o, g, c.mode, c.owner, c.grp)
		}
	}
	if out := sh(t, "", nil, "dpkg-query", "-W", "-f=${Conffiles}", "ronhost"); !strings.Contains(out, "/etc/ronhost/config.toml") {
		t.Errorf("/etc/ronhost/config.toml is not a conffile: %q", out)
	}
	if out := sh(t, "", nil, "dpkg-query", "-W", "-f=${Suggests}", "ronhost"); !strings.Contains(out, "tor") {
		t.Errorf("the package does not suggest tor: %q", out)
	}
	conf, err := os.ReadFile("/etc/ronhost/config.toml")
	if err != nil {
		t.Fatal(err)
	}
	fresh := filepath.Join(t.TempDir(), "config.toml")
	sh(t, "", nil, "/usr/bin/ronhost", "--config", fresh, "config", "init")
	if want, err := os.ReadFile(fresh); err != nil || !bytes.Equal(want, conf) {
		t.Errorf("/etc/ronhost/config.toml is not what ronhost config init writes (%v)", err)
	}
	if out := sh(t, "", nil, "/usr/bin/ronhost", "version"); !strings.Contains(out, "built-in plugins: ai alg map mod") {
		t.Errorf("ronhost version:\n%s", out)
	}

	// The unit: systemd's own check, then the hardening it promises.
	// verify exits 0 on an unknown key (a typo in a hardening line): any
	// word from it fails the test. security scores the sandbox (0 to 100, lower
	// is tighter): 17 today; a unit that loses its hardening goes over 20.
	for _, name := range []string{"ronhost.service", "ronhost-supervise.service"} {
		path := "/usr/lib/systemd/system/" + name
		out, err := exec.Command("systemd-analyze", "verify", path).CombinedOutput()
		if err != nil || len(bytes.TrimSpace(out)) > 0 {
			t.Errorf("systemd-analyze verify %s: %v\n%s", name, err, out)
		}
		out, err = exec.Command("systemd-analyze", "security", "--offline=yes", "--threshold=20", path).CombinedOutput()
		if err != nil {
			t.Errorf("systemd-analyze security %s: %v\n%s", name, err, out)
		}
	}
	u1 := unit(t, "/usr/lib/systemd/system/ronhost.service")
	for k, want := range map[string]string{
		"User": "ronhost", "ProtectSystem": "strict", "NoNewPrivileges": "yes", "StateDirectory": "ronhost",
		"StateDirectoryMode": "0700", "ReadWritePaths": "/var/lib/ronhost", "UMask": "0077", "CapabilityBoundingSet": "",
	} {
		if got := u1[k]; len(got) != 1 || got[0] != want {
			t.Errorf("ronhost.service %s=%q, want exactly %q", k, got, want)
		}
	}
	if _, ok := u1["MemoryDenyWriteExecute"]; ok {
		t.Error("ronhost.service sets MemoryDenyWriteExecute, which stops the plugin compiler")
	}

	// Run the node as the unit runs it, minus what systemd itself adds.
	listen := "127.0.0.1:0"
	env := []string{"PATH=/usr/bin:/bin", "RON_NODE_LISTEN=" + listen, "RON_TOR_MODE=off"}
	for _, e := range u1["Environment"] {
		env = append(env, strings.Fields(e)...)
	}
	// Killed well before the test's own deadline, so that the cleanup still runs.
	limit := time.Now().Add(5 * time.Minute)
	if d, ok := t.Deadline(); ok && d.Add(-time.Minute).Before(limit) {
		limit = d.Add(-time.Minute)
	}
	ctx, cancel := context.WithDeadline(context.Background(), limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, "/bin/sh", "-c", "umask "+u1["UMask"][0]+"; exec "+u1["ExecStart"][0])
	cmd.Env = env
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	lines := bufio.NewScanner(stdout)
	var api, tlds string
	for (api == "" || tlds == "") && lines.Scan() {
		line := lines.Text()
		if _, rest, ok := strings.Cut(line, " serving on "); ok {
			api, _, _ = strings.Cut(rest, " ")
		}
		if v, ok := strings.CutPrefix(line, "TLDs: "); ok {
			tlds = v
		}
	}
	go func() { _, _ = io.Copy(io.Discard, stdout); exited <- cmd.Wait() }()
	if api == "" {
		_ = cmd.Process.Kill()
		<-exited
		t.Fatalf("the node did not start:\n%s", stderr.String())
	}
	for {
		resp, err := http.Get(api + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if ctx.Err() != nil {
			<-exited
			t.Fatalf("the node never became ready:\n%s", stderr.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("the node exited with %v on SIGTERM:\n%s", err, stderr.String())
		}
	case <-ctx.Done():
		<-exited
		t.Fatalf("the node did not stop on SIGTERM:\n%s", stderr.String())
	}
	if tlds != "[ai alg map mod]" {
		t.Errorf("the node served TLDs %s, want [ai alg map mod]", tlds)
	}
	var count int
	err = filepath.WalkDir("/var/lib/ronhost", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		m, o, _ := mode(t, p)
		count++
		switch {
		case o != "ronhost":
			t.Errorf("%s is owned by %s", p, o)
		case d.IsDir() && m.Perm() != 0o700:
			t.Errorf("directory %s has mode %v, want 0700", p, m.Perm())
		case d.Type().IsRegular() && m.Perm() != 0o600:
			t.Errorf("file %s has mode %v, want 0600", p, m.Perm())
		}
		return nil
	})
	if err != nil || count < 5 {
		t.Fatalf("walked %d entries of /var/lib/ronhost: %v", count, err)
	}

	// dpkg -r: the program goes, the data and the configuration stay.
	sh(t, "", nil, "dpkg", "-r", "ronhost")
	if exists("/usr/bin/ronhost") || exists("/usr/lib/systemd/system/ronhost.service") {
		t.Error("dpkg -r left the binary or the unit")
	}
	if !exists("/var/lib/ronhost/keys") || !exists("/etc/ronhost/config.toml") {
		t.Error("dpkg -r removed the node's data or its configuration")
	}
	// A data directory loosened meanwhile (the old hand-written units made it
	// 0755) is private again after the next install.
	if err := os.Chmod("/var/lib/ronhost", 0o755); err != nil {
		t.Fatal(err)
	}
	sh(t, "", nil, "dpkg", "-i", deb)
	if m, o, _ := mode(t, "/var/lib/ronhost"); m.Perm() != 0o700 || o != "ronhost" {
		t.Errorf("after reinstalling, /var/lib/ronhost is %v owned by %s", m, o)
	}
	if !exists("/var/lib/ronhost/keys") {
		t.Error("reinstalling lost the node's data")
	}

	// dpkg -P: everything goes, the account stays (as Debian packages leave theirs).
	sh(t, "", nil, "dpkg", "-P", "ronhost")
	for _, p := range []string{"/var/lib/ronhost", "/etc/ronhost", "/usr/bin/ronhost"} {
		if exists(p) {
			t.Errorf("dpkg -P left %s", p)
		}
	}
	if out, _ := exec.Command("dpkg-query", "-W", "-f=${db:Status-Status}", "ronhost").Output(); len(out) > 0 && string(out) != "not-installed" {
		t.Errorf("after dpkg -P the package is %q", out)
	}
}
