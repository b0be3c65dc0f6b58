package tools

import (
	"io"
	"os"
	"testing"
)

// BenchmarkInspectFile inspects the RDB file named by STRATA_BENCH_RDB (make one with
// benchmarks/rdbgen); benchmarks/inspect.sh compares whole runs with redis-check-rdb.
func BenchmarkInspectFile(b *testing.B) {
	path := os.Getenv("STRATA_BENCH_RDB")
	if path == "" {
		b.Skip("STRATA_BENCH_RDB names no file")
	}
	for _, mode := range []string{"report", "keys", "check"} {
		b.Run(mode, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				src, err := OpenRDB(path, nil)
				if err != nil {
					b.Fatal(err)
				}
				b.SetBytes(src.Size)
				switch mode {
				case "report":
					_, err = Inspect(src, InspectOptions{PrefixDepth: 1})
				case "keys":
					err = DumpKeys(io.Discard, src, DumpOptions{})
				case "check":
					if rep := Check(path, CheckOptions{}); !rep.OK() {
						err = rep.Err
					}
				}
				src.Close()
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
