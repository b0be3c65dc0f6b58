package main

import (
	"flag"
	"fmt"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/stratadb/strata/engine"
)

// compressionMain measures value compression beside Pebble's block compression, in process
// (engine.Txn, no network): for each corpus (JSON, HTML, random bytes), value size, value codec
// (none, s2, zstd) and block compression (snappy, Pebble's default, or none), it SETs about
// -mb megabytes of values, reopens the data directory and lets compactions finish, and reports
//
//   - disk: the sstables' bytes over the values' bytes (what is left on disk per value byte),
//
//   - SET and GET CPU per operation (getrusage of the process, so flushes, compactions and
//     decompression count, whatever the machine's load does to wall time). GETs read from
//     Pebble (the hot tier is kept tiny), the path where decompression is paid; a GET served
//     by the hot tier never decompresses.
//
//     go run ./benchmarks compression [-mb 32] [-sizes 1024,4096,16384,65536]
func compressionMain(args []string) error {
	fset := flag.NewFlagSet("compression", flag.ExitOnError)
	mbs := fset.Int("mb", 32, "megabytes of values per measurement")
	sizes := fset.String("sizes", "1024,4096,16384,65536", "value sizes")
	only := fset.String("corpus", "", "only this corpus (json, html, random)")
	codecs := fset.String("codecs", "none,s2,zstd", "value codecs")
	blocks := fset.String("blocks", "snappy,none", "Pebble block compressions")
	fset.Parse(args)
	fmt.Printf("load average before: %s\n\n", loadAverage())
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "corpus\tsize\tvalue codec\tblocks\tdisk/value\tSET cpu µs\tGET cpu µs\tSET wall µs\t")
	gens := corpora()
	for _, name := range []string{"json", "html", "random"} {
		if *only != "" && name != *only {
			continue
		}
		for _, sz := range strings.Split(*sizes, ",") {
			size, err := strconv.Atoi(sz)
			if err != nil {
				return err
			}
			for _, block := range strings.Split(*blocks, ",") {
				for _, codecName := range strings.Split(*codecs, ",") {
					codec, ok := engine.ParseValueCompression(codecName)
					if !ok {
						return fmt.Errorf("unknown codec %q", codecName)
					}
					r, err := measureCompression(gens[name], size, *mbs<<20, codec, block)
					if err != nil {
						return err
					}
					row := fmt.Sprintf("%s\t%d\t%s\t%s\t%.3f\t%.1f\t%.1f\t%.1f\t", name, size, codecName, block,
						r.diskRatio, r.setCPU, r.getCPU, r.setWall)
					fmt.Fprintln(os.Stderr, strings.ReplaceAll(row, "\t", "  "))
					fmt.Fprintln(tw, row)
				}
			}
		}
	}
	fmt.Println()
	tw.Flush()
	fmt.Printf("\nload average after: %s\n", loadAverage())
	return nil
}

type compressionResult struct {
	diskRatio               float64
	setCPU, getCPU, setWall float64 // µs per operation
}

func measureCompression(gen corpusGen, size, total int, codec uint8, block string) (compressionResult, error) {
	var res compressionResult
	dir, err := os.MkdirTemp("", "strata-compression-")
	if err != nil {
		return res, err
	}
	defer os.RemoveAll(dir)
	open := func() (*engine.Engine, error) {
		return engine.Open(engine.Options{Dir: dir, Logger: slog.New(slog.DiscardHandler), MaxMemory: 1 << 20,
			ValueCompression: codec, ValueCompressionThreshold: 512, BlockCompression: block})
	}
	e, err := open()
	if err != nil {
		return res, err
	}
	n := max(total/size, 100)
	values := make([][]byte, 64) // a pool of distinct values, reused cyclically
	for i := range values {
		values[i] = gen(uint64(i), size)
	}
	const workers = 2
	// run applies op to every key once (SETs in key order per worker, GETs in random order).
	run := func(random bool, op func(t *engine.Txn, key []byte, i int) error) (time.Duration, time.Duration, error) {
		before, start := cpuTime(), time.Now()
		var wg sync.WaitGroup
		errs := make([]error, workers)
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				t := e.NewTxn()
				var k []byte
				perm := rand.New(rand.NewPCG(uint64(w), 5)).Perm(n)
				for j := w; j < n; j += workers {
					i := j
					if random {
						i = perm[j]
					}
					k = keyName(k[:0], uint64(i))
					t.Begin(0, engine.LockWrite)
					t.AddKey(k)
					if errs[w] = t.Lock(); errs[w] != nil {
						return
					}
					if errs[w] = op(t, k, i); errs[w] != nil {
						t.Abort()
						return
					}
					if errs[w] = t.Commit(); errs[w] != nil {
						return
					}
				}
			}()
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				return 0, 0, err
			}
		}
		return cpuTime() - before, time.Since(start), nil
	}
	// Values cycle through the pool, each prefixed with its key so that no two are equal.
	cpu, wall, err := run(false, func(t *engine.Txn, key []byte, i int) error {
		v := append(append([]byte(nil), key...), values[i%len(values)][len(key):]...)
		_, err := t.Set(key, v, engine.SetArgs{})
		return err
	})
	if err != nil {
		e.Close()
		return res, err
	}
	waitCompactions(e)
	res.setCPU = float64(cpu.Microseconds()) / float64(n)
	res.setWall = float64(wall.Microseconds()) / float64(n)
	if err := e.Close(); err != nil {
		return res, err
	}
	if e, err = open(); err != nil {
		return res, err
	}
	defer e.Close()
	waitCompactions(e)
	res.diskRatio = float64(sstBytes(dir)) / float64(n*size)
	cpu, _, err = run(true, func(t *engine.Txn, key []byte, i int) error {
		v, ok, err := t.Get(key)
		if err == nil && (!ok || len(v) != size) {
			err = fmt.Errorf("GET %s: %d bytes, found %v", key, len(v), ok)
		}
		return err
	})
	res.getCPU = float64(cpu.Microseconds()) / float64(n)
	return res, err
}

// sstBytes is the size of the sstables under dir.
func sstBytes(dir string) int64 {
	var total int64
	filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(path, ".sst") {
			if info, err := d.Info(); err == nil {
				total += info.Size()
			}
		}
		return nil
	})
	return total
}
