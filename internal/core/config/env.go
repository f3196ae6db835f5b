package config

import (
	"encoding"
	"fmt"
	"reflect"
	"strconv"
	"strings"
)

// EnvName returns the environment variable that overrides a key: section
// "gateway" and key "max_body" give RON_GATEWAY_MAX_BODY.
func EnvName(section, key string) string {
	return "RON_" + strings.ToUpper(section) + "_" + strings.ToUpper(key)
}

// Keys lists every key of the file as "section.key", in file order.
func Keys() []string {
	var out []string
	walk(reflect.ValueOf(&Config{}).Elem(), func(section, key string, _ reflect.Value) error {
		out = append(out, section+"."+key)
		return nil
	})
	return out
}

// ApplyEnv overrides c with every RON_<SECTION>_<KEY> variable getenv
// returns non-empty, and says which it applied. Lists are comma-separated.
// The result is not validated; Resolve does that.
func (c *Config) ApplyEnv(getenv func(string) string) (applied []string, err error) {
	err = walk(reflect.ValueOf(c).Elem(), func(section, key string, f reflect.Value) error {
		name := EnvName(section, key)
		v := getenv(name)
		if v == "" {
			return nil
		}
		if err := setText(f, v); err != nil {
			return fmt.Errorf("config: %s=%q: %w", name, v, err)
		}
		applied = append(applied, name)
		return nil
	})
	return applied, err
}

// Set overrides one key ("section.key") from its text form, as a flag does.
func (c *Config) Set(key, value string) error {
	found := false
	err := walk(reflect.ValueOf(c).Elem(), func(section, k string, f reflect.Value) error {
		if section+"."+k != key {
			return nil
		}
		found = true
		if err := setText(f, value); err != nil {
			return fmt.Errorf("config: %s = %q: %w", key, value, err)
		}
		return nil
	})
	if err == nil && !found {
		err = fmt.Errorf("config: no key %q", key)
	}
	return err
}

// Resolve reads DATA/config.toml over the defaults, applies the RON_*
// variables and validates the result: the configuration a process runs with.
func Resolve(dataDir string, getenv func(string) string) (Config, error) {
	return ResolveFile(Path(dataDir), getenv)
}

// ResolveFile is Resolve for a configuration file kept elsewhere than in the
// data directory (ronhost --config, RON_CONFIG: the Debian package keeps it
// in /etc/ronhost/config.toml). A missing file means every default.
func ResolveFile(path string, getenv func(string) string) (Config, error) {
	c, err := load(path)
	if err != nil {
		return c, err
	}
	if _, err := c.ApplyEnv(getenv); err != nil {
		return c, err
	}
	return c, c.Validate()
}

func walk(v reflect.Value, fn func(section, key string, f reflect.Value) error) error {
	t := v.Type()
	for i := range t.NumField() {
		section := tomlName(t.Field(i))
		sv := v.Field(i)
		st := sv.Type()
		for j := range st.NumField() {
			if err := fn(section, tomlName(st.Field(j)), sv.Field(j)); err != nil {
				return err
			}
		}
	}
	return nil
}

func tomlName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
	return name
}

func setText(f reflect.Value, s string) error {
	if u, ok := f.Addr().Interface().(encoding.TextUnmarshaler); ok {
		return u.UnmarshalText([]byte(s))
	}
	switch f.Kind() {
	case reflect.String:
		f.SetString(s)
	case reflect.Int:
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil {
			return fmt.Errorf("not an integer")
		}
		f.SetInt(int64(n))
	case reflect.Bool:
		b, err := strconv.ParseBool(strings.TrimSpace(s))
		if err != nil {
			return fmt.Errorf("not true or false")
		}
		f.SetBool(b)
	case reflect.Slice:
		var items []string
		for _, it := range strings.Split(s, ",") {
			if it = strings.TrimSpace(it); it != "" {
				items = append(items, it)
			}
		}
		f.Set(reflect.ValueOf(items))
	default:
		return fmt.Errorf("unsupported kind %s", f.Kind())
	}
	return nil
}
