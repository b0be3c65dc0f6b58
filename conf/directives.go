package conf

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
)

// Directive describes one setting, read from Config's field tags.
type Directive struct {
	Name     string
	Default  string
	Kind     string // int | memory | bool | enum | list | save | percentiles | events | obuf | string
	Enum     []string
	Min, Max int64
	Live     bool
	Help     string
	field    int
}

// Table is the parsed list of directives. Build it once with NewTable and share it.
type Table struct {
	list   []Directive
	byName map[string]int
}

// NewTable reads the directives from Config's tags.
func NewTable() *Table {
	t := &Table{byName: map[string]int{}}
	rt := reflect.TypeOf(Config{})
	for i := 0; i < rt.NumField(); i++ {
		f := rt.Field(i)
		d := Directive{Name: f.Tag.Get("name"), Default: f.Tag.Get("default"), Kind: f.Tag.Get("kind"),
			Live: f.Tag.Get("live") == "yes", Help: f.Tag.Get("help"), field: i}
		if d.Name == "" {
			panic("conf: field " + f.Name + " has no name tag")
		}
		if d.Kind == "" {
			switch f.Type.Kind() {
			case reflect.Int, reflect.Int64:
				d.Kind = "int"
			case reflect.Bool:
				d.Kind = "bool"
			default:
				d.Kind = "string"
			}
		}
		if e := f.Tag.Get("enum"); e != "" {
			d.Enum = strings.Split(e, "|")
		}
		d.Min, _ = strconv.ParseInt(f.Tag.Get("min"), 10, 64)
		d.Max, _ = strconv.ParseInt(f.Tag.Get("max"), 10, 64)
		t.byName[d.Name] = len(t.list)
		if alias := f.Tag.Get("alias"); alias != "" {
			t.byName[alias] = len(t.list)
		}
		t.list = append(t.list, d)
	}
	return t
}

// List returns every directive in declaration order.
func (t *Table) List() []Directive { return t.list }

// Lookup finds a directive by name (case-insensitive, as Redis).
func (t *Table) Lookup(name string) (*Directive, bool) {
	i, ok := t.byName[strings.ToLower(name)]
	if !ok {
		return nil, false
	}
	return &t.list[i], true
}

// Default returns a Config holding every default.
func (t *Table) Default() *Config {
	c := &Config{}
	for i := range t.list {
		if err := t.Set(c, &t.list[i], t.list[i].Default); err != nil {
			panic(fmt.Sprintf("conf: default of %s: %v", t.list[i].Name, err))
		}
	}
	return c
}

// Get formats d's value in c as CONFIG GET answers it.
func (t *Table) Get(c *Config, d *Directive) string {
	v := reflect.ValueOf(c).Elem().Field(d.field)
	switch d.Kind {
	case "bool":
		if v.Bool() {
			return "yes"
		}
		return "no"
	case "int", "memory":
		return strconv.FormatInt(v.Int(), 10)
	case "list":
		return strings.Join(v.Interface().([]string), " ")
	case "events":
		flags, _ := ParseKeyspaceEvents(v.String())
		return FormatKeyspaceEvents(flags)
	}
	return v.String()
}

// Set parses text as d's value and stores it in c. The error is the reason Redis would give
// (CONFIG SET wraps it as "CONFIG SET failed (possibly related to argument ...) - reason").
func (t *Table) Set(c *Config, d *Directive, text string) error {
	v := reflect.ValueOf(c).Elem().Field(d.field)
	switch d.Kind {
	case "bool":
		switch strings.ToLower(text) {
		case "yes":
			v.SetBool(true)
		case "no":
			v.SetBool(false)
		default:
			return errors.New("argument must be 'yes' or 'no'")
		}
	case "int":
		n, err := strconv.ParseInt(text, 10, 64)
		if err != nil {
			return errors.New("argument couldn't be parsed into an integer")
		}
		if n < d.Min || n > d.Max {
			return fmt.Errorf("argument must be between %d and %d inclusive", d.Min, d.Max)
		}
		v.SetInt(n)
	case "memory":
		n, ok := ParseMemory(text)
		if !ok {
			return errors.New("argument must be a memory value")
		}
		if n < d.Min || n > d.Max {
			return fmt.Errorf("argument must be between %d and %d inclusive", d.Min, d.Max)
		}
		v.SetInt(n)
	case "enum":
		low := strings.ToLower(text)
		for _, e := range d.Enum {
			if e == low {
				v.SetString(e)
				return nil
			}
		}
		return errors.New("argument(s) must be one of the following: " + strings.Join(d.Enum, ", "))
	case "list":
		v.Set(reflect.ValueOf(strings.Fields(text)))
	case "save":
		norm, err := parseSave(text)
		if err != nil {
			return err
		}
		v.SetString(norm)
	case "percentiles":
		norm, err := parsePercentiles(text)
		if err != nil {
			return err
		}
		v.SetString(norm)
	case "events":
		// Kept as given: Redis keeps the class bits, and "n" beside "A" survives in them
		// although CONFIG GET does not write it back.
		if _, err := ParseKeyspaceEvents(text); err != nil {
			return err
		}
		v.SetString(text)
	case "obuf":
		norm, err := parseOutputBufferLimits(v.String(), text)
		if err != nil {
			return err
		}
		v.SetString(norm)
	default:
		v.SetString(text)
	}
	return nil
}

// ParseMemory parses a size as redis.conf writes them: a number with an optional unit, where
// k/m/g are powers of 1000 and kb/mb/gb powers of 1024, case-insensitive.
func ParseMemory(s string) (int64, bool) {
	low := strings.ToLower(strings.TrimSpace(s))
	mul := int64(1)
	for _, u := range []struct {
		suffix string
		mul    int64
	}{{"gb", 1 << 30}, {"mb", 1 << 20}, {"kb", 1 << 10}, {"g", 1e9}, {"m", 1e6}, {"k", 1e3}, {"b", 1}} {
		if strings.HasSuffix(low, u.suffix) {
			low, mul = strings.TrimSuffix(low, u.suffix), u.mul
			break
		}
	}
	n, err := strconv.ParseInt(low, 10, 64)
	if err != nil || n < 0 { // Redis's memtoull takes no sign
		return 0, false
	}
	if mul != 1 && n > (1<<63-1)/mul {
		return 0, false
	}
	return n * mul, true
}

// SavePoint is one "save <seconds> <changes>" rule.
type SavePoint struct {
	Seconds, Changes int64
}

// SavePoints parses the save directive's normalized text.
func SavePoints(s string) []SavePoint {
	f := strings.Fields(s)
	var out []SavePoint
	for i := 0; i+1 < len(f); i += 2 {
		a, _ := strconv.ParseInt(f[i], 10, 64)
		b, _ := strconv.ParseInt(f[i+1], 10, 64)
		out = append(out, SavePoint{a, b})
	}
	return out
}

func parseSave(s string) (string, error) {
	f := strings.Fields(s)
	if len(f) == 1 && f[0] == `""` {
		f = nil
	}
	if len(f)%2 != 0 {
		return "", errors.New("Invalid save parameters")
	}
	for _, x := range f {
		if n, err := strconv.ParseInt(x, 10, 64); err != nil || n < 0 {
			return "", errors.New("Invalid save parameters")
		}
	}
	return strings.Join(f, " "), nil
}

// parsePercentiles parses latency-tracking-info-percentiles: numbers between 0 and 100
// separated by spaces (C's strtod syntax, hexadecimal included), or nothing. The result is
// written as CONFIG GET answers it: each number as "%f" with its trailing zeros removed.
func parsePercentiles(s string) (string, error) {
	f := strings.Fields(s)
	out := make([]string, len(f))
	for i, x := range f {
		p, ok := ParsePercentile(x)
		if !ok {
			return "", errors.New("Invalid latency-tracking-info-percentiles parameters")
		}
		if p > 100 || p < 0 {
			return "", errors.New("latency-tracking-info-percentiles parameters should sit between [0.0,100.0]")
		}
		out[i] = FormatPercentile(p)
	}
	return strings.Join(out, " "), nil
}

// ParsePercentile reads one number as Redis's string2d does (strtod, the whole text, no NaN).
func ParsePercentile(s string) (float64, bool) {
	p, err := strconv.ParseFloat(s, 64)
	if err != nil {
		low := strings.ToLower(strings.TrimLeft(s, "+-"))
		if !strings.HasPrefix(low, "0x") || strings.Contains(low, "p") || strings.Contains(s, "_") {
			return 0, false
		}
		p, err = strconv.ParseFloat(s+"p0", 64) // C's strtod takes hexadecimal without an exponent
		if err != nil {
			return 0, false
		}
	}
	if math.IsNaN(p) || strings.Contains(s, "_") {
		return 0, false
	}
	return p, true
}

// FormatPercentile writes a percentile as Redis does: "%f" without trailing zeros (and
// without a trailing '.').
func FormatPercentile(p float64) string {
	s := strconv.FormatFloat(p, 'f', 6, 64)
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
}
