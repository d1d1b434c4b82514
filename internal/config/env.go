package config

import (
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"
)

// field is one configuration key, addressed by its YAML path.
type field struct {
	key      string // "ari.password"
	typeName string // Go type name of a section ("ARI"), empty for leaves
	index    []int
	kind     reflect.Type
}

var durationType = reflect.TypeOf(time.Duration(0))

// fields lists the sections and leaves of v's type, depth first.
func fields(v any) []field {
	var out []field
	var walk func(t reflect.Type, prefix string, index []int)
	walk = func(t reflect.Type, prefix string, index []int) {
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			name := strings.Split(f.Tag.Get("yaml"), ",")[0]
			if name == "" || name == "-" {
				continue
			}
			key := name
			if prefix != "" {
				key = prefix + "." + name
			}
			idx := append(append([]int{}, index...), i)
			if f.Type.Kind() == reflect.Struct && f.Type != durationType {
				out = append(out, field{key: key, typeName: f.Type.Name(), index: idx, kind: f.Type})
				walk(f.Type, key, idx)
				continue
			}
			out = append(out, field{key: key, index: idx, kind: f.Type})
		}
	}
	walk(reflect.TypeOf(v), "", nil)
	return out
}

// EnvName is the environment variable that overrides a key.
func EnvName(key string) string {
	return EnvPrefix + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}

// Keys lists every leaf key with its environment variable, for documentation.
func Keys() []string {
	var keys []string
	for _, f := range fields(Config{}) {
		if f.typeName == "" {
			keys = append(keys, f.key)
		}
	}
	return keys
}

func applyEnv(cfg *Config, environ []string) error {
	byEnv := map[string]field{}
	for _, f := range fields(Config{}) {
		if f.typeName == "" {
			byEnv[EnvName(f.key)] = f
		}
	}
	var errs []string
	root := reflect.ValueOf(cfg).Elem()
	for _, kv := range environ {
		name, value, ok := strings.Cut(kv, "=")
		if !ok || !strings.HasPrefix(name, EnvPrefix) {
			continue
		}
		f, known := byEnv[name]
		if !known {
			errs = append(errs, fmt.Sprintf("environment %s: unknown key (known: %s)", name, strings.Join(envNames(byEnv), ", ")))
			continue
		}
		if err := setValue(root.FieldByIndex(f.index), value); err != nil {
			errs = append(errs, fmt.Sprintf("environment %s (%s): %v", name, f.key, err))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w: %s", ErrInvalid, strings.Join(errs, "; "))
	}
	return nil
}

func envNames(m map[string]field) []string {
	return sortedKeys(m)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func setValue(v reflect.Value, s string) error {
	switch {
	case v.Type() == durationType:
		d, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("%q is not a duration (e.g. 5s, 200ms)", s)
		}
		v.SetInt(int64(d))
	case v.Kind() == reflect.String:
		v.SetString(s)
	case v.Kind() == reflect.Int:
		n, err := strconv.Atoi(s)
		if err != nil {
			return fmt.Errorf("%q is not an integer", s)
		}
		v.SetInt(int64(n))
	case v.Kind() == reflect.Bool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return fmt.Errorf("%q is not a boolean", s)
		}
		v.SetBool(b)
	case v.Kind() == reflect.Slice && v.Type().Elem().Kind() == reflect.String:
		var parts []string
		for _, p := range strings.Split(s, ",") {
			if p = strings.TrimSpace(p); p != "" {
				parts = append(parts, p)
			}
		}
		v.Set(reflect.ValueOf(parts))
	default:
		return fmt.Errorf("unsupported type %s", v.Type())
	}
	return nil
}
