package main

import (
	"fmt"
	"math/rand/v2"
	"strings"
)

// Small generated corpora for the compression measurements: JSON documents and HTML pages
// built from a vocabulary drawn with Zipf-like frequencies (as words are in real text), and
// random bytes (what compression cannot help: images, encrypted or already compressed data).
// Each value is generated from its index, so a run can be repeated exactly.

// vocabulary is a list of English words; the generators draw them Zipf-distributed.
const vocabulary = `the of and to in is that for it as was with be by on not he this are or his
from at which but have an they you were her she there been one all we their has would when if
so no will more can said into up out about who them some could him time only new may other
these two its than first then any like now my such make over our even most me state after
also made many did must before back see through way where get much go well your know should
down work year because come people just say each those take day good how long part used use
order customer account product price quantity shipping address payment status delivered
pending cancelled returned warehouse region north south east west premium standard express
user session token request response error message service cluster node replica primary
database index query cache memory disk latency throughput version release feature update`

// exactly cuts s to size bytes (a generator writes at least that many; the cut document need
// not parse, the bytes compress the same).
func exactly(s string, size int) []byte { return []byte(s[:size]) }

// corpusGen makes value i of size bytes.
type corpusGen func(i uint64, size int) []byte

func corpora() map[string]corpusGen {
	words := strings.Fields(vocabulary)
	zipf := func(r *rand.Rand) string {
		// rank ~ Zipf(1.1) over the vocabulary
		n := float64(len(words))
		for {
			x := int(n * r.Float64() * r.Float64() * r.Float64())
			if x < len(words) {
				return words[x]
			}
		}
	}
	sentence := func(r *rand.Rand, b *strings.Builder, n int) {
		for j := range n {
			if j > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(zipf(r))
		}
	}
	return map[string]corpusGen{
		"json": func(i uint64, size int) []byte {
			r := rand.New(rand.NewPCG(i, 11))
			var b strings.Builder
			fmt.Fprintf(&b, `{"id":%d,"type":"order","customer":{"id":"c-%06d","name":"%s %s","email":"%s.%s@example.com","tier":"%s"},"items":[`,
				i, r.IntN(1_000_000), zipf(r), zipf(r), zipf(r), zipf(r), zipf(r))
			for j := 0; b.Len() < size; j++ {
				if j > 0 {
					b.WriteByte(',')
				}
				fmt.Fprintf(&b, `{"sku":"SKU-%05d","name":"`, r.IntN(50_000))
				sentence(r, &b, 3)
				fmt.Fprintf(&b, `","price":%d.%02d,"qty":%d,"tags":["%s","%s"],"note":"`, r.IntN(500), r.IntN(100), 1+r.IntN(9), zipf(r), zipf(r))
				sentence(r, &b, 6+r.IntN(10))
				b.WriteString(`"}`)
			}
			fmt.Fprintf(&b, `],"status":"%s","created":"2024-%02d-%02dT%02d:%02d:%02dZ"}`,
				zipf(r), 1+r.IntN(12), 1+r.IntN(28), r.IntN(24), r.IntN(60), r.IntN(60))
			return exactly(b.String(), size)
		},
		"html": func(i uint64, size int) []byte {
			r := rand.New(rand.NewPCG(i, 13))
			var b strings.Builder
			b.WriteString(`<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>`)
			sentence(r, &b, 5)
			b.WriteString(`</title><link rel="stylesheet" href="/static/site.css"></head><body><div class="container"><nav class="navbar"><ul>`)
			for j := range 6 {
				fmt.Fprintf(&b, `<li class="nav-item"><a href="/section/%d">%s</a></li>`, j, zipf(r))
			}
			b.WriteString(`</ul></nav><main class="content">`)
			for b.Len() < size {
				b.WriteString(`<div class="card"><h2 class="card-title">`)
				sentence(r, &b, 4)
				fmt.Fprintf(&b, `</h2><p class="card-text">`)
				sentence(r, &b, 20+r.IntN(30))
				fmt.Fprintf(&b, `</p><a class="btn btn-primary" href="/item/%d?ref=%s">Read more</a></div>`, r.IntN(100_000), zipf(r))
			}
			b.WriteString(`</main><footer class="footer">&copy; Example</footer></div></body></html>`)
			return exactly(b.String(), size)
		},
		"random": func(i uint64, size int) []byte {
			r := rand.New(rand.NewPCG(i, 17))
			out := make([]byte, size)
			for j := 0; j+8 <= size; j += 8 {
				x := r.Uint64()
				for k := range 8 {
					out[j+k] = byte(x >> (8 * k))
				}
			}
			return out
		},
	}
}
