package supervise

import (
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseExample(t *testing.T) {
	b, err := os.ReadFile("testdata/macronode.toml")
	if err != nil {
		t.Fatal(err)
	}
	c, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	if c.Supervise != DefaultSettings() {
		t.Fatalf("settings %+v, want the defaults %+v", c.Supervise, DefaultSettings())
	}
	if got := c.Order(); !slices.Equal(got, []string{"store", "roles", "gateway", "log-shipper"}) {
		t.Fatalf("order %v", got)
	}
	g := c.Process[2]
	if g.Name != "gateway" || g.Ready != "http://127.0.0.1:8470/readyz" || !slices.Equal(g.After, []string{"store", "roles"}) ||
		g.Args[0] != "--data" || g.Command != "" || g.Optional {
		t.Fatalf("gateway %+v", g)
	}
	if s := c.Process[0]; s.Env["RON_BUS_LISTEN"] != "127.0.0.1:4222" {
		t.Fatalf("store %+v", s)
	}
	if l := c.Process[3]; l.Command != "/usr/local/bin/ship-logs" || !l.Optional || l.Dir != "/var/log/ronhost" {
		t.Fatalf("log-shipper %+v", l)
	}
}

func TestParseDefaultsAndOverrides(t *testing.T) {
	c, err := Parse([]byte("[supervise]\nbackoff_max = \"2m\"\nrestart_cap = -1\n[[process]]\nname = \"a\"\nargs = [\"serve\"]\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := DefaultSettings()
	want.BackoffMax = Duration(2 * time.Minute)
	want.RestartCap = -1
	if c.Supervise != want {
		t.Fatalf("%+v", c.Supervise)
	}
	if b, _ := want.BackoffMax.MarshalText(); string(b) != "2m0s" {
		t.Fatalf("MarshalText: %s", b)
	}
}

func TestParseRefuses(t *testing.T) {
	const a = "[[process]]\nname = \"a\"\nargs = [\"serve\"]\n"
	for _, tc := range []struct{ name, file, want string }{
		{"unknown top key", "restart = 1\n" + a, "restart"},
		{"unknown supervise key", "[supervise]\nbackof_min = \"1s\"\n" + a, "backof_min"},
		{"unknown process key", "[[process]]\nname = \"a\"\nargs = [\"serve\"]\nreadyz = \"http://x/\"\n", "readyz"},
		{"bad duration", "[supervise]\nstop_timeout = \"10\"\n" + a, "not a duration"},
		{"not TOML", "[[process]\n", "line 1"},
		{"no process", "[supervise]\nrestart_cap = 1\n", "no [[process]]"},
		{"zero ready_timeout", "[supervise]\nready_timeout = \"0s\"\n" + a, "ready_timeout"},
		{"zero stop_timeout", "[supervise]\nstop_timeout = \"0s\"\n" + a, "stop_timeout"},
		{"zero backoff_min", "[supervise]\nbackoff_min = \"0s\"\n" + a, "backoff_min"},
		{"max below min", "[supervise]\nbackoff_min = \"2s\"\nbackoff_max = \"1s\"\n" + a, "below backoff_min"},
		{"cap below -1", "[supervise]\nrestart_cap = -2\n" + a, "restart_cap -2"},
		{"zero window", "[supervise]\nrestart_window = \"0s\"\n" + a, "restart_window"},
		{"no name", "[[process]]\nargs = [\"serve\"]\n", `name ""`},
		{"bad name", "[[process]]\nname = \"a b\"\nargs = [\"serve\"]\n", `name "a b"`},
		{"duplicate", a + a, `two processes are named "a"`},
		{"nothing to run", "[[process]]\nname = \"a\"\n", "no command and no args"},
		{"bad env", "[[process]]\nname = \"a\"\nargs = [\"x\"]\nenv = { \"A=B\" = \"1\" }\n", "env name"},
		{"ready not http", "[[process]]\nname = \"a\"\nargs = [\"x\"]\nready = \"tcp://127.0.0.1:1\"\n", "not an http(s) URL"},
		{"ready no host", "[[process]]\nname = \"a\"\nargs = [\"x\"]\nready = \"http:///readyz\"\n", "not an http(s) URL"},
		{"after unknown", "[[process]]\nname = \"a\"\nargs = [\"x\"]\nafter = [\"b\"]\n", `after "b", which is not a process`},
		{"after itself", "[[process]]\nname = \"a\"\nargs = [\"x\"]\nafter = [\"a\"]\n", "after itself"},
		{"cycle", "[[process]]\nname = \"x\"\nargs = [\"x\"]\nafter = [\"c\"]\n" +
			"[[process]]\nname = \"a\"\nargs = [\"x\"]\nafter = [\"b\"]\n" +
			"[[process]]\nname = \"b\"\nargs = [\"x\"]\nafter = [\"c\"]\n" +
			"[[process]]\nname = \"c\"\nargs = [\"x\"]\nafter = [\"a\"]\n", "dependency cycle: c after a after b after c"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.file))
			if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Parse: %v; want ErrConfig mentioning %q", err, tc.want)
			}
		})
	}
}

func TestOrderKeepsFileOrderAndDedups(t *testing.T) {
	c := Config{Supervise: DefaultSettings(), Process: []Process{
		{Name: "z", Args: []string{"x"}, After: []string{"y", "y"}},
		{Name: "y", Args: []string{"x"}},
		{Name: "x", Args: []string{"x"}},
	}}
	if got := c.Order(); !slices.Equal(got, []string{"y", "z", "x"}) {
		t.Fatalf("order %v", got)
	}
	c.Process[1].After = []string{"z"}
	if got := c.Order(); got != nil {
		t.Fatalf("order of a cycle: %v", got)
	}
}
