package tools

import (
	"bufio"
	"encoding/csv"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Formats of the inspection report.
const (
	FormatTable = "table"
	FormatJSON  = "json"
	FormatCSV   = "csv"
)

// WriteReport writes the report in one of the formats.
func WriteReport(w io.Writer, r *Report, format string) error {
	switch format {
	case FormatTable, "":
		return writeTable(w, r)
	case FormatJSON:
		return writeJSON(w, r)
	case FormatCSV:
		return writeCSV(w, r)
	}
	return fmt.Errorf("unknown format %q (table, json or csv)", format)
}

// humanBytes spells a size as Redis's INFO does (powers of 1024): 512B, 1.5K, 2.00M.
func humanBytes(n int64) string {
	const units = "KMGTP"
	if n < 1024 {
		return strconv.FormatInt(n, 10) + "B"
	}
	f := float64(n)
	i := -1
	for f >= 1024 && i < len(units)-1 {
		f /= 1024
		i++
	}
	return strconv.FormatFloat(f, 'f', 2, 64) + string(units[i])
}

// table lays out rows in aligned columns: text columns to the left, numbers to the right.
type table struct {
	header []string
	right  []bool
	rows   [][]string
}

func (t *table) add(cells ...string) { t.rows = append(t.rows, cells) }

func (t *table) write(w *bufio.Writer) {
	width := make([]int, len(t.header))
	for i, h := range t.header {
		width[i] = utf8.RuneCountInString(h)
	}
	for _, row := range t.rows {
		for i, c := range row {
			width[i] = max(width[i], utf8.RuneCountInString(c))
		}
	}
	line := func(cells []string) {
		var b strings.Builder
		for i, c := range cells {
			pad := strings.Repeat(" ", width[i]-utf8.RuneCountInString(c))
			if i > 0 {
				b.WriteString("  ")
			}
			if t.right[i] {
				b.WriteString(pad + c)
			} else if i < len(cells)-1 {
				b.WriteString(c + pad)
			} else {
				b.WriteString(c)
			}
		}
		w.WriteString(strings.TrimRight(b.String(), " "))
		w.WriteByte('\n')
	}
	line(t.header)
	for _, row := range t.rows {
		line(row)
	}
}

// keyDisplayWidth bounds key names and prefixes in the table.
const keyDisplayWidth = 60

func countNoun(n int64, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.FormatInt(n, 10) + " " + many
}

func writeTable(out io.Writer, r *Report) error {
	w := bufio.NewWriter(out)
	src := r.Source
	if src == "" {
		src = "(stream)"
	}
	fmt.Fprintf(w, "Source      %s", src)
	if r.SourceSize > 0 {
		fmt.Fprintf(w, ", %s (%d bytes)", humanBytes(r.SourceSize), r.SourceSize)
	}
	if r.RDBVersion > 0 {
		fmt.Fprintf(w, ", RDB version %d", r.RDBVersion)
	}
	w.WriteByte('\n')
	if len(r.Aux) > 0 {
		parts := make([]string, 0, len(r.Aux))
		for _, a := range r.Aux {
			v := displayText(a.Value, keyDisplayWidth)
			if string(a.Name) == "ctime" {
				if ms := ctimeMillis(a.Value); ms > 0 {
					v += " (" + time.UnixMilli(ms).UTC().Format(time.RFC3339) + ")"
				}
			}
			parts = append(parts, displayText(a.Name, keyDisplayWidth)+"="+v)
		}
		fmt.Fprintf(w, "Aux         %s\n", strings.Join(parts, ", "))
	}
	fmt.Fprintf(w, "Keys        %s in %s, %d with an expiry",
		countNoun(r.Total.Keys, "key", "keys"), countNoun(int64(len(r.Databases)), "database", "databases"), r.Total.Expiring)
	if r.Functions > 0 {
		fmt.Fprintf(w, ", %s", countNoun(int64(r.Functions), "function library", "function libraries"))
	}
	w.WriteByte('\n')
	fmt.Fprintf(w, "Size        %s in the dump, %s estimated in Redis 7.0 memory\n",
		humanBytes(r.Total.Bytes), humanBytes(r.Total.Memory))
	if !r.Complete {
		w.WriteString("Incomplete  the dump ended in an error; this covers what came before it\n")
	}

	w.WriteString("\nKeys by database, type and encoding\n")
	g := table{header: []string{"DB", "TYPE", "ENCODING", "KEYS", "EXPIRING", "ELEMENTS", "SERIALIZED", "MEMORY"},
		right: []bool{true, false, false, true, true, true, true, true}}
	for _, s := range r.Groups {
		g.add(strconv.Itoa(s.DB), s.Type.String(), s.Encoding, strconv.FormatInt(s.Keys, 10),
			strconv.FormatInt(s.Expiring, 10), strconv.FormatInt(s.Elements, 10), humanBytes(s.Bytes), humanBytes(s.Memory))
	}
	g.add("", "total", "", strconv.FormatInt(r.Total.Keys, 10), strconv.FormatInt(r.Total.Expiring, 10),
		strconv.FormatInt(r.Total.Elements, 10), humanBytes(r.Total.Bytes), humanBytes(r.Total.Memory))
	g.write(w)

	for _, sec := range []struct {
		title string
		keys  []KeyStats
	}{
		{"Biggest keys by size in the dump", r.TopBySize},
		{"Biggest keys by element count", r.TopByElements},
		{"Biggest keys by estimated memory", r.TopByMemory},
	} {
		fmt.Fprintf(w, "\n%s\n", sec.title)
		if len(sec.keys) == 0 {
			w.WriteString("(no keys)\n")
			continue
		}
		t := table{header: []string{"#", "DB", "KEY", "TYPE", "ENCODING", "ELEMENTS", "SERIALIZED", "MEMORY"},
			right: []bool{true, true, false, false, false, true, true, true}}
		for i, k := range sec.keys {
			t.add(strconv.Itoa(i+1), strconv.Itoa(k.DB), displayText(k.Key, keyDisplayWidth), k.Type.String(),
				k.Encoding, strconv.FormatInt(k.Elements, 10), humanBytes(k.Bytes), humanBytes(k.Memory))
		}
		t.write(w)
	}

	if r.PrefixDepth > 0 {
		fmt.Fprintf(w, "\nTop key prefixes by estimated memory (separator %q, depth %d, %d distinct)\n",
			r.PrefixSep, r.PrefixDepth, r.DistinctPrefixes)
		if len(r.Prefixes) == 0 {
			w.WriteString("(no keys)\n")
		} else {
			t := table{header: []string{"#", "PREFIX", "KEYS", "EXPIRING", "ELEMENTS", "SERIALIZED", "MEMORY"},
				right: []bool{true, false, true, true, true, true, true}}
			for i, p := range r.Prefixes {
				name := displayText(p.Prefix, keyDisplayWidth)
				if len(p.Prefix) == 0 {
					name = "(none)"
				}
				t.add(strconv.Itoa(i+1), name, strconv.FormatInt(p.Keys, 10), strconv.FormatInt(p.Expiring, 10),
					strconv.FormatInt(p.Elements, 10), humanBytes(p.Bytes), humanBytes(p.Memory))
			}
			t.write(w)
		}
	}
	if len(r.ModuleKeys) > 0 {
		w.WriteString("\nModule values (skipped)\n")
		for _, name := range sortedKeys(r.ModuleKeys) {
			fmt.Fprintf(w, "%s  %d\n", name, r.ModuleKeys[name])
		}
	}
	return w.Flush()
}

func sortedKeys(m map[string]int64) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func appendStats(b []byte, s *Stats) []byte {
	b = append(b, `"keys":`...)
	b = strconv.AppendInt(b, s.Keys, 10)
	b = append(b, `,"keys_with_expiry":`...)
	b = strconv.AppendInt(b, s.Expiring, 10)
	b = append(b, `,"elements":`...)
	b = strconv.AppendInt(b, s.Elements, 10)
	b = append(b, `,"bytes":`...)
	b = strconv.AppendInt(b, s.Bytes, 10)
	b = append(b, `,"memory":`...)
	return strconv.AppendInt(b, s.Memory, 10)
}

func appendKeyStats(b []byte, k *KeyStats) []byte {
	b = append(b, `{"db":`...)
	b = strconv.AppendInt(b, int64(k.DB), 10)
	b = append(b, `,"key":`...)
	b = appendJSONValue(b, k.Key)
	b = append(b, `,"type":"`...)
	b = append(b, k.Type.String()...)
	b = append(b, `","encoding":`...)
	b = appendJSONString(b, []byte(k.Encoding))
	if k.RedisEncoding != "" {
		b = append(b, `,"redis_encoding":"`...)
		b = append(b, k.RedisEncoding...)
		b = append(b, '"')
	}
	if k.ExpireAt != 0 {
		b = append(b, `,"expire_at_ms":`...)
		b = strconv.AppendInt(b, k.ExpireAt, 10)
	}
	b = append(b, `,"offset":`...)
	b = strconv.AppendInt(b, k.Offset, 10)
	b = append(b, `,"elements":`...)
	b = strconv.AppendInt(b, k.Elements, 10)
	b = append(b, `,"bytes":`...)
	b = strconv.AppendInt(b, k.Bytes, 10)
	b = append(b, `,"memory":`...)
	b = strconv.AppendInt(b, k.Memory, 10)
	return append(b, '}')
}

// closeJSONList ends a list whose items stood on lines of their own.
func closeJSONList(b []byte, items int) []byte {
	if items == 0 {
		return append(b, ']')
	}
	return append(b, "\n  ]"...)
}

// writeJSON writes the report as one JSON document (indented by hand, so that key names
// and values keep the binary-safe rules of jsontext.go).
func writeJSON(w io.Writer, r *Report) error {
	var scratch []byte
	b := []byte("{\n  \"source\": ")
	b = appendJSONValue(b, []byte(r.Source))
	b = append(b, ",\n  \"source_size\": "...)
	b = strconv.AppendInt(b, r.SourceSize, 10)
	b = append(b, ",\n  \"rdb_version\": "...)
	b = strconv.AppendInt(b, int64(r.RDBVersion), 10)
	b = append(b, ",\n  \"complete\": "...)
	b = strconv.AppendBool(b, r.Complete)
	b = append(b, ",\n  \"aux\": {"...)
	for i, a := range r.Aux {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONKey(b, a.Name, &scratch)
		b = appendJSONValue(b, a.Value)
	}
	b = append(b, "},\n  \"functions\": "...)
	b = strconv.AppendInt(b, int64(r.Functions), 10)
	b = append(b, ",\n  \"databases\": ["...)
	for i, db := range r.Databases {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, int64(db), 10)
	}
	b = append(b, "],\n  \"total\": {"...)
	b = appendStats(b, &r.Total)
	b = append(b, "},\n  \"summary\": ["...)
	for i := range r.Groups {
		s := &r.Groups[i]
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, "\n    {\"db\":"...)
		b = strconv.AppendInt(b, int64(s.DB), 10)
		b = append(b, `,"type":"`...)
		b = append(b, s.Type.String()...)
		b = append(b, `","encoding":`...)
		b = appendJSONString(b, []byte(s.Encoding))
		b = append(b, ',')
		b = appendStats(b, &s.Stats)
		b = append(b, '}')
	}
	b = closeJSONList(b, len(r.Groups))
	for _, sec := range []struct {
		name string
		keys []KeyStats
	}{{"top_by_size", r.TopBySize}, {"top_by_elements", r.TopByElements}, {"top_by_memory", r.TopByMemory}} {
		b = append(b, ",\n  \""...)
		b = append(b, sec.name...)
		b = append(b, "\": ["...)
		for i := range sec.keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, "\n    "...)
			b = appendKeyStats(b, &sec.keys[i])
		}
		b = closeJSONList(b, len(sec.keys))
	}
	b = append(b, ",\n  \"prefixes\": {\"separator\":"...)
	b = appendJSONString(b, []byte(r.PrefixSep))
	b = append(b, `,"depth":`...)
	b = strconv.AppendInt(b, int64(r.PrefixDepth), 10)
	b = append(b, `,"distinct":`...)
	b = strconv.AppendInt(b, int64(r.DistinctPrefixes), 10)
	b = append(b, `,"capped":`...)
	b = strconv.AppendBool(b, r.PrefixesCapped)
	b = append(b, `,"top":[`...)
	for i := range r.Prefixes {
		p := &r.Prefixes[i]
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, "\n    {\"prefix\":"...)
		b = appendJSONValue(b, p.Prefix)
		b = append(b, ',')
		b = appendStats(b, &p.Stats)
		b = append(b, '}')
	}
	b = closeJSONList(b, len(r.Prefixes))
	b = append(b, "},\n  \"module_values\": {"...)
	for i, name := range sortedKeys(r.ModuleKeys) {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONKey(b, []byte(name), &scratch)
		b = strconv.AppendInt(b, r.ModuleKeys[name], 10)
	}
	b = append(b, "}\n}\n"...)
	_, err := w.Write(b)
	return err
}

// writeCSV writes every section as rows of one table with a section column:
// summary (one row per database, type and encoding), total, top_by_size,
// top_by_elements, top_by_memory (rank and key in name) and prefix (rank and prefix).
func writeCSV(out io.Writer, r *Report) error {
	w := csv.NewWriter(out)
	cell := func(b []byte) string { return string(appendTextCell(nil, b)) }
	itoa := func(n int64) string { return strconv.FormatInt(n, 10) }
	stats := func(s *Stats) []string {
		return []string{itoa(s.Keys), itoa(s.Expiring), itoa(s.Elements), itoa(s.Bytes), itoa(s.Memory)}
	}
	rows := [][]string{{"section", "rank", "db", "type", "encoding", "name", "keys", "keys_with_expiry", "elements", "bytes", "memory"}}
	for i := range r.Groups {
		s := &r.Groups[i]
		rows = append(rows, append([]string{"summary", "", strconv.Itoa(s.DB), s.Type.String(), s.Encoding, ""}, stats(&s.Stats)...))
	}
	rows = append(rows, append([]string{"total", "", "", "", "", ""}, stats(&r.Total)...))
	for _, sec := range []struct {
		name string
		keys []KeyStats
	}{{"top_by_size", r.TopBySize}, {"top_by_elements", r.TopByElements}, {"top_by_memory", r.TopByMemory}} {
		for i := range sec.keys {
			k := &sec.keys[i]
			var s Stats
			s.add(k)
			rows = append(rows, append([]string{sec.name, strconv.Itoa(i + 1), strconv.Itoa(k.DB), k.Type.String(),
				k.Encoding, cell(k.Key)}, stats(&s)...))
		}
	}
	for i := range r.Prefixes {
		p := &r.Prefixes[i]
		rows = append(rows, append([]string{"prefix", strconv.Itoa(i + 1), "", "", "", cell(p.Prefix)}, stats(&p.Stats)...))
	}
	if err := w.WriteAll(rows); err != nil {
		return err
	}
	w.Flush()
	return w.Error()
}
