package tools

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stratadb/strata/rdb"
)

// BenchmarkImportExportFile imports the RDB file named by STRATA_BENCH_RDB into a new data
// directory (bulk and batch paths), then exports it; benchmarks/rdbtools.sh compares whole
// runs of the commands with redis-check-rdb.
func BenchmarkImportExportFile(b *testing.B) {
	path := os.Getenv("STRATA_BENCH_RDB")
	if path == "" {
		b.Skip("STRATA_BENCH_RDB names no file")
	}
	st, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	base := b.TempDir()
	dir := filepath.Join(base, "bulk")
	for _, mode := range []ImportMode{ImportBulk, ImportBatch} {
		b.Run("import-"+string(mode), func(b *testing.B) {
			b.SetBytes(st.Size())
			for i := 0; i < b.N; i++ {
				d := filepath.Join(base, string(mode))
				os.RemoveAll(d)
				src, err := OpenRDB(path, &rdb.ReaderOptions{SkipEmptyKeys: true})
				if err != nil {
					b.Fatal(err)
				}
				_, err = ImportToDir(context.Background(), src, ImportOptions{Dir: d, Mode: mode})
				src.Close()
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("export", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			rep, err := ExportDir(context.Background(), dir, filepath.Join(b.TempDir(), "out.rdb"), ExportOptions{})
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(rep.Bytes)
		}
	})
}
