package tools

import (
	"io"
	"os"
	"strconv"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// ProgressBar draws a long run's progress on a terminal: bytes read of the total, keys,
// rate and time left. It redraws at most every progressRedraw and clears itself at the end,
// so that what the command prints afterwards starts on a clean line.
type ProgressBar struct {
	bar   *progressbar.ProgressBar
	label string
	last  time.Time
}

const progressRedraw = 150 * time.Millisecond

// NewProgressBar draws on w; total is the input's size in bytes (-1 when unknown).
func NewProgressBar(w io.Writer, total int64, label string) *ProgressBar {
	bar := progressbar.NewOptions64(total,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription(label),
		progressbar.OptionShowBytes(true),
		progressbar.OptionShowTotalBytes(true),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionSetWidth(24),
		progressbar.OptionShowCount(),
		progressbar.OptionUseIECUnits(true),
		progressbar.OptionClearOnFinish(),
	)
	return &ProgressBar{bar: bar, label: label}
}

// Update moves the bar.
func (p *ProgressBar) Update(bytes, keys int64) {
	now := time.Now()
	if now.Sub(p.last) < progressRedraw {
		return
	}
	p.last = now
	p.bar.Describe(p.label + " " + strconv.FormatInt(keys, 10) + " keys")
	_ = p.bar.Set64(bytes)
}

// Finish clears the bar.
func (p *ProgressBar) Finish() { _ = p.bar.Finish() }

// ProgressOn returns a bar drawn on f when f is a terminal, and NoProgress otherwise (a
// pipe, a file, a CI log stay free of bar drawings).
func ProgressOn(f *os.File, total int64, label string) Progress {
	if f == nil || !term.IsTerminal(int(f.Fd())) {
		return NoProgress{}
	}
	return NewProgressBar(f, total, label)
}
