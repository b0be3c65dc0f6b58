package conf

import (
	_ "embed"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/spf13/pflag"
	"github.com/spf13/viper"
)

// DefaultYAML is conf/strata.yaml: every directive with its default and help. A test keeps it
// equal to what Render(defaults) writes.
//
//go:embed strata.yaml
var DefaultYAML []byte

// EnvPrefix prefixes environment overrides: STRATA_MAXMEMORY, STRATA_PROTO_MAX_BULK_LEN ...
const EnvPrefix = "STRATA"

// Load builds the configuration from, in rising precedence: the defaults, the YAML file at
// path (none when empty), STRATA_* environment variables (environ, e.g. os.Environ()), and
// the flags of fs that were set on the command line (flag names are directive names). It
// validates every value once; the error names the source of a bad value.
func Load(t *Table, path string, environ []string, fs *pflag.FlagSet) (*Config, error) {
	v := viper.New()
	if path != "" {
		v.SetConfigFile(path)
		v.SetConfigType("yaml")
		if err := v.ReadInConfig(); err != nil {
			return nil, fmt.Errorf("conf: read %s: %w", path, err)
		}
		for _, k := range v.AllKeys() {
			if _, ok := t.Lookup(k); !ok {
				return nil, fmt.Errorf("conf: %s: unknown directive %q", path, k)
			}
		}
	}
	env := map[string]string{}
	for _, kv := range environ {
		if k, val, ok := strings.Cut(kv, "="); ok && strings.HasPrefix(k, EnvPrefix+"_") {
			env[k] = val
		}
	}
	c := t.Default()
	for i := range t.list {
		d := &t.list[i]
		source := ""
		text := ""
		if fs != nil {
			if f := fs.Lookup(d.Name); f != nil && f.Changed {
				source, text = "flag --"+d.Name, flagText(f)
			}
		}
		if source == "" {
			envName := EnvPrefix + "_" + strings.ToUpper(strings.ReplaceAll(d.Name, "-", "_"))
			if val, ok := env[envName]; ok {
				source, text = "environment "+envName, val
			}
		}
		if source == "" && v.IsSet(d.Name) {
			source, text = path+": "+d.Name, yamlText(v.Get(d.Name))
		}
		if source == "" {
			continue
		}
		if err := t.Set(c, d, text); err != nil {
			return nil, fmt.Errorf("conf: %s: %v", source, err)
		}
	}
	return c, nil
}

func flagText(f *pflag.Flag) string {
	if sv, ok := f.Value.(pflag.SliceValue); ok {
		return strings.Join(sv.GetSlice(), " ")
	}
	return f.Value.String()
}

// yamlText turns what YAML decoded into the text form directives parse.
func yamlText(x any) string {
	switch x := x.(type) {
	case nil:
		return ""
	case bool:
		if x {
			return "yes"
		}
		return "no"
	case int:
		return strconv.Itoa(x)
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = yamlText(e)
		}
		return strings.Join(parts, " ")
	}
	return fmt.Sprint(x)
}

// Render writes c as a YAML file with every directive and its help as a comment: the format
// of conf/strata.yaml and of CONFIG REWRITE.
func Render(t *Table, c *Config, header string) []byte {
	var b strings.Builder
	b.WriteString(header)
	for i := range t.list {
		d := &t.list[i]
		b.WriteString("\n# ")
		b.WriteString(strings.ReplaceAll(d.Help, "\n", "\n# ")) // a help may run over lines
		if d.Kind == "enum" {
			b.WriteString("\n# One of: " + strings.Join(d.Enum, ", ") + ".")
		}
		if d.Live {
			b.WriteString("\n# CONFIG SET can change it while the server runs.")
		}
		b.WriteString("\n")
		b.WriteString(d.Name)
		b.WriteString(": ")
		b.WriteString(yamlValue(t, c, d))
		b.WriteString("\n")
	}
	return []byte(b.String())
}

func yamlValue(t *Table, c *Config, d *Directive) string {
	val := t.Get(c, d)
	if d.Kind == "memory" {
		// Keep a readable unit where the value is a whole number of them.
		n, _ := strconv.ParseInt(val, 10, 64)
		for _, u := range []struct {
			s string
			m int64
		}{{"gb", 1 << 30}, {"mb", 1 << 20}, {"kb", 1 << 10}} {
			if n != 0 && n%u.m == 0 {
				return strconv.FormatInt(n/u.m, 10) + u.s
			}
		}
		return val
	}
	if d.Kind == "int" {
		return val
	}
	return strconv.Quote(val)
}

// Rewrite writes c to path (CONFIG REWRITE), replacing the file atomically.
func Rewrite(t *Table, c *Config, path string) error {
	data := Render(t, c, "# Strata configuration, rewritten by CONFIG REWRITE.\n")
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o640); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// DefaultHeader starts conf/strata.yaml.
const DefaultHeader = `# Strata configuration: every directive with its default.
#
# Names follow Redis's directives wherever the concept is the same. Precedence, lowest first:
# these defaults, this file (strata server --config FILE), STRATA_* environment variables
# (STRATA_MAXMEMORY=1gb, dashes become underscores), command-line flags (--port 7000).
# Sizes take redis.conf units: k/m/g are powers of 1000, kb/mb/gb powers of 1024.
`
